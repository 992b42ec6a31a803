"""Phone numbers by numbering plan (issue 19): the host side (phonenumbers) and the generator of the
device's rules (firmware/core/numplan.py)."""
