# Wall-clock time, trusted only when it came from a source: a GNSS fix with a date, or the network's
# time (NITZ, through the modem). The RTC alone proves nothing (at power-on it counts from 2000 on the
# ESP32; in the simulator it is the PC's clock), so until a source set it, utc_now() says None and the
# device says "age unknown" and leaves the evidence TIME flag clear rather than claim a wrong time.
#
# The RTC itself is never written: a source sets an offset to it (time.time() + offset = UTC). The
# ESP32's RTC keeps counting through deep sleep, so carry()/resume() keep the offset across a deep
# sleep in RTC memory; a battery pull clears both, and the clock is unset until the next source.
import time

GNSS = "gnss"
NETWORK = "network"

MIN_YEAR = 2024  # before: an RTC never set, a modem's default date, a GNSS week-number rollover
MAX_YEAR = 2049  # after: a modem's default ("70/01/01" read as 2070, "80/01/06") or garbage
MAX_AGE_S = 24 * 3600  # no source for longer: the RTC drifts, the time is no longer vouched for

_offset = 0  # UTC - time.time(), valid while _source is set
_source = None  # GNSS, NETWORK or None (never set since the last power loss)
_synced = 0  # UTC (device epoch) when a source last set the clock
refused = 0  # source times refused as implausible (the self-test reports them)

_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def epoch(year, month, day, hh, mm, ss):
    return time.mktime((year, month, day, hh, mm, ss, 0, 0))


def plausible(year, month, day, hh, mm, ss):
    """True for a real date and time in MIN_YEAR..MAX_YEAR (a leap second's :60 is refused too)."""
    if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12 and 0 <= hh <= 23 and 0 <= mm <= 59
            and 0 <= ss <= 59):
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= (_DAYS[month - 1] if month != 2 or leap else 28)


def set_from(source, year, month, day, hh, mm, ss, late_s=0):
    """A source's UTC date and time (late_s: seconds since the source gave it). False when refused:
    an implausible date, or the network contradicting a GNSS time that is still fresh (the GNSS time
    is the better one; the network's may come from a false base station)."""
    global _offset, _source, _synced, refused
    if source not in (GNSS, NETWORK) or not plausible(year, month, day, hh, mm, ss):
        refused += 1
        return False
    t = epoch(year, month, day, hh, mm, ss) + late_s
    if source == NETWORK and _source == GNSS and utc_now() is not None:
        return False
    _offset = t - int(time.time())
    _source = source
    _synced = t
    return True


def utc_now():
    """Seconds since the device epoch, or None while no source set the clock in the last MAX_AGE_S
    (never set, lost with the power, or drifting), or if the RTC went back."""
    if _source is None:
        return None
    t = int(time.time()) + _offset
    if not 0 <= t - _synced <= MAX_AGE_S:
        return None
    return t


def status():
    """(source, seconds since it set the clock) or (None, None) when never set. Older than MAX_AGE_S:
    drifting, and utc_now() gives None."""
    if _source is None:
        return None, None
    return _source, int(time.time()) + _offset - _synced


def carry():
    """The clock's state for RTC memory across a deep sleep (the RTC keeps counting), or None."""
    return None if _source is None else [_source, _offset, _synced]


def resume(state):
    """State from carry(), after a deep sleep only (RTC memory and the RTC both survived). Anything
    malformed leaves the clock unset."""
    global _offset, _source, _synced
    try:
        src, off, synced = state
        if src in (GNSS, NETWORK) and isinstance(off, int) and isinstance(synced, int):
            _source, _offset, _synced = src, off, synced
            return True
    except (TypeError, ValueError):
        pass
    return False


def forget():
    """Back to unset (tests; a factory reset)."""
    global _source, _offset, _synced
    _source, _offset, _synced = None, 0, 0
