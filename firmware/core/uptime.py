# Time since boot that never wraps (issue 17). time.ticks_ms() wraps every 2**30 ms (12.4 days) on
# the ESP32, and ticks_diff() is right only for stamps less than 2**29 ms (6.2 days) apart. Ticks stay
# the clock of short timeouts inside a loop that polls them (debounce, gestures, AT timeouts, retry
# backoff within an alert). Anything that can last, or be compared, over days uses ms() or seconds()
# instead: check-in deadlines, lockouts, console sessions, fix ages, and the power policies' "time
# since the last motion / fix / use". Those are plain integers, compared with - and <.
#
# Each call folds the ticks elapsed since the previous one, so calls must come at least every 6.2
# days: the app's health task calls ms() every second. Past 2**30 ms (12.4 days) ms() is a long int
# on a 32-bit port: fine in tasks, never in an ISR. seconds() stays a small int for 34 years.
from time import ticks_diff, ticks_ms


class Uptime:
    def __init__(self, ticks=ticks_ms):
        self._ticks = ticks
        self._mark = ticks()
        self._s = 0  # whole seconds folded so far
        self._rem = 0  # and the ms beyond them (< 1000)

    def _fold(self):
        now = self._ticks()
        d = ticks_diff(now, self._mark)
        if d > 0:
            self._mark = now
            r = self._rem + d
            if r >= 1000:
                self._s += r // 1000
                r %= 1000
            self._rem = r

    def ms(self):
        """ms since this clock started."""
        self._fold()
        return self._s * 1000 + self._rem

    def seconds(self):
        """Whole seconds since this clock started."""
        self._fold()
        return self._s


_clock = Uptime()


def ms():
    """ms since boot (the import of this module, early in the boot), never wrapping."""
    return _clock.ms()


def seconds():
    """Whole seconds since boot, never wrapping."""
    return _clock.seconds()


# Ticks stamps of past events that policies poll often (the last motion, fix attempt, modem use,
# end of an alert) stay ticks, but are forgotten once STALE_MS old: well before ticks_diff() would
# read them as recent again (past 2**29 ms) or the wrap would bring them back (2**30 ms).
STALE_MS = 1 << 28  # 3.1 days


def fresh(now, t):
    """t, the ticks stamp of a past event, or None once it is STALE_MS old (or reads as being in the
    future: it is older than 2**29 ms). Callers apply it to each stamp at every decision (at least
    every few hours) and read None as "long ago"."""
    if t is None:
        return None
    d = ticks_diff(now, t)
    return t if 0 <= d < STALE_MS else None
