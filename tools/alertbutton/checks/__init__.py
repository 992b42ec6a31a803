"""Checks of the device code in the VM: modem fault suite, fuzzing, config power cuts, NMEA decoding vs gpsd."""
