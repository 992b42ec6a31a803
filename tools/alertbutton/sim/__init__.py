"""The simulated board: the firmware in the MicroPython VM with a simulated modem, button, console and GNSS."""
