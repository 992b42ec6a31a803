# Phone numbers typed by technicians -> E.164 ("+33612345678"), the only form the SMS encoder takes.
# Shared by the device console and the host CLI, so both accept and refuse exactly the same input.
#
# Accepted: "+<country><number>", "00<country><number>", and French national numbers of 10 digits
# (0X XX XX XX XX). Spaces, dots, dashes, slashes and parentheses are ignored; "+33 (0)6..." too.
# French national numbers of the overseas departments keep their own country code (0692... is
# Reunion, +262 692..., not +33 692...): a wrong +33 there would send the alert to nobody.
# Refused with a message that says why: 08 (service numbers: no SMS), short numbers (17, 114: the
# encoder only does international addresses), wrong lengths, letters.

_IGNORED = " .-/()\t"
_MIN_DIGITS = 8  # same bounds as firmware.core.sms_pdu.encode_address
_MAX_DIGITS = 15

# French national prefixes of overseas departments -> country code (ARCEP numbering plan).
_OVERSEAS = (
    ("0262", "262"), ("0263", "262"), ("0692", "262"), ("0693", "262"),  # La Reunion
    ("0269", "262"), ("0639", "262"),  # Mayotte
    ("0590", "590"), ("0690", "590"), ("0691", "590"),  # Guadeloupe, Saint-Martin, Saint-Barthelemy
    ("0594", "594"), ("0694", "594"),  # Guyane
    ("0596", "596"), ("0696", "596"), ("0697", "596"),  # Martinique
)


def _digits_only(s):
    for ch in s:
        if ch < "0" or ch > "9":
            return False
    return True


def _french(national):
    """E.164 for a 10-digit French national number starting with 0."""
    for prefix, cc in _OVERSEAS:
        if national.startswith(prefix):
            return "+" + cc + national[1:]
    first = national[1]
    if first == "8":
        raise ValueError("08 numbers are service numbers and cannot receive SMS")
    if first == "0":
        raise ValueError("French numbers never start with 00 after the 0: check the number")
    return "+33" + national[1:]


def normalize(raw):
    """The E.164 form of raw, or ValueError with a message a technician can act on."""
    if not isinstance(raw, str):
        raise ValueError("number must be text")
    s = "".join([ch for ch in raw if ch != " " and ch != "\t"])
    for pre in ("+33(0)", "0033(0)"):  # "+33 (0)6 12..." is a common way to write French numbers
        if s.startswith(pre):
            s = "+33" + s[len(pre):]
    s = "".join([ch for ch in s if _IGNORED.find(ch) < 0])
    if not s:
        raise ValueError("empty number")
    if s.startswith("00"):
        s = "+" + s[2:]
    if s[0] == "+":
        digits = s[1:]
        if not digits or not _digits_only(digits):
            raise ValueError("a number has only digits after the +")
        if digits[0] == "0":
            raise ValueError("a country code never starts with 0 (write +33 6..., not +0...)")
        if digits.startswith("33"):
            return _check_france(digits)
        if digits[0] == "1" and len(digits) != 11:  # North America: +1 and 10 digits
            raise ValueError("a +1 number has 10 digits after +1, this one has %d" % (len(digits) - 1))
    else:
        if not _digits_only(s):
            raise ValueError("a number has only digits (and an optional leading +)")
        if s[0] != "0":
            raise ValueError("short or local numbers cannot be used: give 10 digits (06...) or +country...")
        if len(s) != 10:
            raise ValueError("a French number has 10 digits (06 12 34 56 78), this one has %d" % len(s))
        digits = _french(s)[1:]
    if len(digits) < _MIN_DIGITS or len(digits) > _MAX_DIGITS:
        raise ValueError("an international number has %d to %d digits after the +" % (_MIN_DIGITS, _MAX_DIGITS))
    return "+" + digits


_NUM_CHARS = "+0123456789.-()/"


def split_number(toks):
    """(number, name) from the words after the slot in `contacts set`. A number typed in groups ("06 12
    34 56 78 Marie") is accepted: the longest run of number-like words that makes a valid number, the
    rest is the name. If none is valid, the whole run goes to the number check, which says why. The
    console reads its lines this way and the CLI checks what it sends against it."""
    j = 0
    while j < len(toks) - 1 and not [c for c in toks[j] if _NUM_CHARS.find(c) < 0]:
        j += 1
    for k in range(j, 0, -1):
        try:
            normalize("".join(toks[:k]))
            return "".join(toks[:k]), " ".join(toks[k:])
        except ValueError:
            pass
    k = max(j, 1)
    return "".join(toks[:k]), " ".join(toks[k:])


def _check_france(digits):
    national = digits[2:]
    if national[:1] == "0":
        raise ValueError("drop the 0 after +33: +33 6 12 34 56 78, not +33 06 12 34 56 78")
    if len(national) != 9:
        raise ValueError("a +33 number has 9 digits after +33, this one has %d" % len(national))
    for prefix, cc in _OVERSEAS:
        if national.startswith(prefix[1:]):
            raise ValueError("+33 %s... is an overseas number: write +%s %s..." % (
                prefix[1:], cc, national[:3]))
    if national[0] == "8":
        raise ValueError("08 numbers are service numbers and cannot receive SMS")
    return "+" + digits


def warnings(e164):
    """Advice for a valid number: the SMS may never be read on a landline."""
    w = []
    if e164.startswith("+33") and e164[3] in "12345":
        w.append("French landline: the SMS may be read aloud by a voice server or not delivered; "
                 "prefer a mobile (06, 07)")
    if e164.startswith("+339"):
        w.append("09 numbers are internet boxes: SMS delivery is not guaranteed; prefer a mobile")
    return w


def pretty(e164):
    """Readable grouping for display: '+33 6 12 34 56 78' (other countries unchanged)."""
    if e164.startswith("+33") and len(e164) == 12:
        n = e164[3:]
        return "+33 %s %s %s %s %s" % (n[0], n[1:3], n[3:5], n[5:7], n[7:9])
    return e164
