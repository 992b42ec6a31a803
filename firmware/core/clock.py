# Wall-clock time. The RTC is only trusted once set (from GNSS or the network); before that the
# device says "age unknown" rather than a wrong age.
import time

_MIN_VALID_YEAR = 2024


def utc_now():
    """Seconds since the device epoch, or None while the clock has never been set."""
    t = time.time()
    if time.gmtime(t)[0] < _MIN_VALID_YEAR:
        return None
    return t


def epoch(year, month, day, hh, mm, ss):
    return time.mktime((year, month, day, hh, mm, ss, 0, 0))
