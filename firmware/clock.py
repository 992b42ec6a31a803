# Wall-clock time. The RTC is only trusted once set (from GNSS or the network); before that the
# device says "age unknown" rather than a wrong age.
import time

from micropython import const

_MIN_VALID_YEAR = 2024
# the widest ticks_add() step on the ESP32: 2**29 - 1 ms (6.2 days); a larger one raises OverflowError
AGE_MAX_MS = const(0x1FFFFFFF)


def utc_now():
    """Seconds since the device epoch, or None while the clock has never been set."""
    t = time.time()
    if time.gmtime(t)[0] < _MIN_VALID_YEAR:
        return None
    return t


def epoch(year, month, day, hh, mm, ss):
    return time.mktime((year, month, day, hh, mm, ss, 0, 0))


def ticks_ago(now, age_ms):
    """The ticks value age_ms before now, to rebuild a stamp carried across a deep sleep as an age.
    An age past the ticks span (6.2 days on the ESP32) is kept at that span: a stamp that old
    cannot be told apart on the 2**30 ms ticks circle anyway, and ticks_add() would raise."""
    if age_ms > AGE_MAX_MS:
        age_ms = AGE_MAX_MS
    elif age_ms < -AGE_MAX_MS:
        age_ms = -AGE_MAX_MS
    return time.ticks_add(now, -age_ms)
