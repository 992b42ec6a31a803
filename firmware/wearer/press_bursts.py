# Press bursts: presses each at most gap_ms after the previous one, counted once the button has been
# quiet for gap_ms. Unlike ButtonLogic's gestures (which fire as soon as they match), a burst is
# decided at its end, so 2, 3 and 5 presses can each mean something different. Fed with debounced
# press times (ButtonLogic's on_press), polled with `now`; pure, ticks arithmetic only.
from micropython import const
from time import ticks_diff

_MAX = const(16)


class PressBursts:
    def __init__(self, gap_ms=1200):
        self.gap_ms = gap_ms
        self.armed = False
        self._count = 0
        self._last = 0
        self._ended = 0  # a burst that ended before anyone polled it

    def arm(self):
        """Count presses from now on (earlier ones, e.g. the gesture that started an alert, never count)."""
        self.armed = True
        self._count = self._ended = 0

    def disarm(self):
        self.armed = False
        self._count = self._ended = 0

    def press(self, t):
        if not self.armed:
            return
        if self._count and ticks_diff(t, self._last) > self.gap_ms:
            # the previous burst ended unpolled (a stalled task handed both at once): it is kept
            # for the next poll, and a new one starts
            self._ended = self._count
            self._count = 0
        if self._count < _MAX:
            self._count += 1
        self._last = t

    def wait_ms(self, now):
        """ms until the open burst can be decided, or -1 when there is none."""
        if self._ended:
            return 0
        if not self._count:
            return -1
        return max(0, self.gap_ms - ticks_diff(now, self._last))

    def poll(self, now):
        """The press count of a burst that has ended, else 0."""
        if self._ended:
            n, self._ended = self._ended, 0
            return n
        if not self._count or ticks_diff(now, self._last) < self.gap_ms:
            return 0
        n = self._count
        self._count = 0
        return n
