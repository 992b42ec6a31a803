# Where she is: the last known fix (RAM and flash) and when the GNSS receiver is powered.
