# Button gesture recognition: debounce raw edges, then match presses against the configured gestures.
# Pure logic (no hardware, no asyncio): fed with (ticks_ms, pressed) edges and polled with the current
# time, so it is tested with exact synthetic timings and reused unchanged on the device.
#
# Debounce: a burst is a run of raw edges each less than SETTLE_MS after the previous one. It is
# accepted once the line has been quiet for SETTLE_MS, and only if the level differs from the last
# stable one; the transition is dated at the burst's first edge. So bounces and glitches up to
# 30 ms never count, and a press is dated when the finger touched the button. A hold is timed from
# the burst's last edge (the contact at rest): chatter never counts as holding.
#
# Every edge first settles what was due before it (edge() polls at the edge's own time), so a burst
# closes on the edges' times, not on when the task got to them: a task stalled for a second (a flash
# write, GC) hands over a whole fast triple at once and the three presses are still three.
from micropython import const
from time import ticks_diff

SETTLE_MS = const(30)
LEVEL_WATCH_MS = const(50)
_MAX_PRESSES = const(8)

# Gestures that could fire from a single press, or by accident, are refused (see validate()).
MIN_PRESSES = const(2)
MIN_HOLD_MS = const(1000)
_TAP_MAX_MS = const(400)  # a hold-then-taps' taps: a longer press is no tap

# The alert gesture: 5 firm taps, each 100-400 ms, each started at most 700 ms after the previous.
# Chosen by `alertbutton bench gestures` (docs/haptics.md: the table, the models, the trade-off):
# 100 % of intended gestures with tact and typical switches, 0.019 false alerts a day (one in 52
# days; 0.033 at the 95 % upper bound) under the documented accidental-press models. No hold: sitting
# or leaning on the button makes any hold (~1 false alert a day for hold 3 s or 4 s).
DEFAULT_GESTURES = (
    {"action": "alert", "presses": 5, "gap_ms": 700, "min_press_ms": 100, "max_press_ms": 400},
)
# "He is coming": arms the pre-alert ring for evidence_arm_min (issue 21 item 5; firmware/evidence/arming.py).
# A press held at least 1.5 s, let go, then 2 taps, decided once the button has been quiet gap_ms. Chosen
# by `alertbutton bench gestures --arm` (docs/evidence.md): holds alone are made by sitting or leaning
# on the button (2-5 false armings a day); a held press resets the alert's tap count (max_press_ms), so
# the taps after it never reach the alert, and being decided at quiet it never takes a tap from one.
ARM_GESTURE = {"action": "arm_evidence", "hold_ms": 1500, "taps": 2, "gap_ms": 700}
ARM = "arm_evidence"


def validate(gestures):
    """Raise ValueError unless every gesture is well formed and none can fire on a single short press.

    A multi-press gesture: {"action", "presses": 2..8, "within_ms": first to last press start
    300..10000 and/or "gap_ms": each press start at most this after the previous 150..3000,
    "min_press_ms": 0..1000 (a contact shorter than this is not counted, e.g. a strap's hit),
    "max_press_ms": 200..3000 (a longer press is not counted and starts the count again, e.g. a
    squeeze in a bag; presses are then counted at their release)}.
    A hold: {"action", "hold_ms": 1000..10000} timed from the contact at rest.
    A hold then taps (not the alert): {"action", "hold_ms": 1000..10000 (at least), "taps": 1..4,
    "gap_ms": 300..3000 (release to first tap, tap to tap; decided after this much quiet)}.
    Another action's gesture that would take the alert gesture's presses, or send an alert, is
    refused (_check_clashes)."""
    if not gestures:
        raise ValueError("no gesture configured")
    for g in gestures:
        if not isinstance(g.get("action"), str) or not g["action"]:
            raise ValueError("gesture without action")
        if "presses" in g:
            n, w, gap = g["presses"], g.get("within_ms"), g.get("gap_ms")
            for v in (n, w, gap, g.get("min_press_ms"), g.get("max_press_ms")):
                if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                    raise ValueError("gesture values are whole milliseconds and counts")
            if not MIN_PRESSES <= n <= _MAX_PRESSES:
                raise ValueError("presses must be 2..8")
            if w is None and gap is None:
                raise ValueError("presses need within_ms (300..10000) or gap_ms (150..3000)")
            if w is not None and not 300 <= w <= 10000:
                raise ValueError("presses must be 2..8 within 300..10000 ms")
            if gap is not None and not 150 <= gap <= 3000:
                raise ValueError("gap_ms must be 150..3000")
            if not 0 <= g.get("min_press_ms", 0) <= 1000:
                raise ValueError("min_press_ms must be 0..1000")
            mx = g.get("max_press_ms")
            if mx is not None and not (200 <= mx <= 3000 and mx > g.get("min_press_ms", 0)):
                raise ValueError("max_press_ms must be 200..3000 and above min_press_ms")
        elif "taps" in g:
            for v in (g.get("hold_ms"), g["taps"], g.get("gap_ms")):
                if not isinstance(v, int) or isinstance(v, bool):
                    raise ValueError("a hold then taps needs whole hold_ms, taps and gap_ms")
            if not (MIN_HOLD_MS <= g["hold_ms"] <= 10000 and 1 <= g["taps"] <= 4 and 300 <= g["gap_ms"] <= 3000):
                raise ValueError("hold then taps: hold_ms 1000..10000, taps 1..4, gap_ms 300..3000")
            if g["action"] == "alert":
                raise ValueError("the alert gesture cannot be a hold then taps")
        elif "hold_ms" in g:
            if not (MIN_HOLD_MS <= g["hold_ms"] <= 10000):
                raise ValueError("hold_ms must be 1000..10000")
        else:
            raise ValueError("gesture needs presses or hold_ms")
    _check_clashes(gestures)
    return gestures


def _check_clashes(gestures):
    """firmware/wearer/gesture_clashes.py, unloaded after use: its code is not kept in the heap an
    alert needs (tests/host/test_heap.py)."""
    import sys
    from firmware.wearer import gesture_clashes
    try:
        gesture_clashes.check(gestures)
    finally:
        sys.modules.pop("firmware.wearer.gesture_clashes", None)
        pkg = sys.modules.get("firmware.wearer")
        if pkg is not None and hasattr(pkg, "gesture_clashes"):
            delattr(pkg, "gesture_clashes")


def _span_ms(g):
    """The longest a multi-press gesture can take from its first press start to its last."""
    w = g.get("within_ms")
    return w if w is not None else g["gap_ms"] * (g["presses"] - 1)


class ButtonLogic:
    """Turns raw edges into presses, releases and recognised gestures.

    on_gesture(action, t_ms) is called once per recognised gesture; on_press(t_ms) (optional) on every
    debounced press, e.g. to cancel a fall countdown with a single press; on_release(t_ms) (optional)
    on every debounced release."""

    def __init__(self, gestures=DEFAULT_GESTURES, on_gesture=None, on_press=None, on_release=None):
        self.multi = [g for g in validate(gestures) if "presses" in g]
        self.holds = [g for g in gestures if "hold_ms" in g and "taps" not in g]
        self.seqs = [g for g in gestures if "taps" in g]  # a hold, then taps: decided once quiet
        self.on_gesture = on_gesture
        self.on_press = on_press
        self.on_release = on_release  # on_release(t_ms): every debounced release
        self.stable = False  # debounced state: pressed?
        self._raw = False
        self._in_burst = False
        self._burst_start = 0
        self._last_edge = 0
        self._hold_from = 0  # the pressing burst's last edge: holds are timed from it
        self._hold_done = False
        self._starts = [0] * _MAX_PRESSES  # ring of recent press start times
        self._count = 0
        self._pending = False  # a press not yet counted: it must last min_press_ms first
        self._pending_t = 0
        self._pending_min = 0  # the min_press_ms the pending press must last (0: waived)
        self._press_t = 0  # the debounced press now down began here
        self._seq_hold = -1  # a hold-then-taps in progress: how long its hold lasted (-1: none)
        self._seq_taps = 0
        self._seq_last = 0  # its hold's release, then its last tap's start

    @property
    def multi(self):
        return self._multi

    @multi.setter
    def multi(self, gestures):
        # the console replaces the map live (firmware/console/commands.py _apply_gestures)
        self._multi = gestures
        # once the longest press span has passed since the last press, no gesture can use the
        # presses kept so far: poll() forgets them then, so a press days later never meets one of
        # them (ticks_diff reads a stamp older than 2**29 ms, 6.2 days, as recent)
        self._forget_ms = max([_span_ms(g) for g in gestures] or [0])
        # one minimum for all multi-press gestures: the longest any of them asks
        self._min_press = max([g.get("min_press_ms", 0) for g in gestures] or [0])
        # and one maximum: the shortest any of them asks (0: none)
        self._max_press = min([g["max_press_ms"] for g in gestures if "max_press_ms" in g] or [0])

    def edge(self, t, pressed, busy=False):
        """A raw edge at ticks t. Whatever was due before it (a burst quiet for SETTLE_MS, a hold)
        is applied first, as a poll at t would have; unless busy: the line moved since the previous
        edge (edges the ISR could not keep), then the burst goes on across the gap."""
        if not busy:
            self.poll(t)
        if not self._in_burst:
            self._in_burst = True
            self._burst_start = t
        self._raw = pressed
        self._last_edge = t

    def settling(self):
        """True while a burst of edges is open (a press or release not decided yet: on_press has not
        been called for it)."""
        return self._in_burst

    def take(self, edges, clock):
        """One turn of the button task: every edge the ISR stored (drivers/button.py ButtonEdges),
        the pin level checked against the last one, then poll(clock()). Returns (now, ms until the
        next turn is needed or -1). While the button is down or a burst is open the turn comes at
        least every LEVEL_WATCH_MS, so a release whose interrupt was lost is seen within that."""
        edges.drain(self.edge)
        now = clock()
        edges.resync(self.edge, now)
        wait = self.poll(now)
        if (self.stable or self._in_burst) and (wait < 0 or wait > LEVEL_WATCH_MS):
            wait = LEVEL_WATCH_MS
        return now, wait

    def poll(self, now):
        """Apply everything due at `now`. Returns ms until the next poll is needed, or -1 for none."""
        if self._in_burst and ticks_diff(now, self._last_edge) >= SETTLE_MS:
            self._in_burst = False
            if self._raw != self.stable:
                self.stable = self._raw
                if self.stable:
                    self._hold_from = self._last_edge
                    self._pressed(self._burst_start)
                else:
                    self._released(self._burst_start)
        wait = -1
        if self._count and not self._in_burst:
            left = self._forget_ms - ticks_diff(now, self._starts[(self._count - 1) % _MAX_PRESSES])
            if left <= 0:
                self._count = 0
            else:
                wait = left
        if self._seq_hold >= 0 and not self.stable and not self._in_burst:
            left = self._seq_gap() - ticks_diff(now, self._seq_last)
            if left <= 0:
                self._seq_end(now)
            elif wait < 0 or left < wait:
                wait = left
        if self._in_burst:
            wait = SETTLE_MS - ticks_diff(now, self._last_edge)
        elif self.stable and not self._hold_done:
            if self._pending and not self._max_press:
                left = self._pending_min - ticks_diff(now, self._pending_t)
                if left <= 0:  # held long enough to count (still down)
                    self._pending = False
                    self._count_press(self._pending_t, now)
                    if self._hold_done:
                        return wait
                else:
                    wait = left if wait < 0 or left < wait else wait
            for g in self.holds:
                left = g["hold_ms"] - ticks_diff(now, self._hold_from)
                if left <= 0:
                    self._fire(g["action"], now)
                    break
                if wait < 0 or left < wait:
                    wait = left
        return wait

    def _pressed(self, t):
        self._hold_done = False
        self._press_t = t
        if self.on_press:
            self.on_press(t)
        if self._min_press or self._max_press:
            self._pending = True  # counted once it has lasted min_press_ms (poll or release)
            self._pending_t = t
            self._pending_min = self._min_press
        else:
            self._count_press(t, t)

    def waive_min_press(self):
        """The press now down began before the clock did (the press that woke the MCU from deep
        sleep, dated at the boot): its length is unknown, so min_press_ms is not applied to it
        (max_press_ms still is)."""
        self._pending_min = 0

    def _count_press(self, start, t):
        """A press that started at `start` counts now (t) toward the multi-press gestures."""
        if self._seq_hold >= 0 and ticks_diff(start, self._seq_last) > 0:
            if ticks_diff(start, self._seq_last) <= self._seq_gap():
                self._seq_taps += 1
                self._seq_last = start
            else:
                self._seq_hold = -1
        self._starts[self._count % _MAX_PRESSES] = start
        self._count += 1
        for g in self.multi:
            n = g["presses"]
            if self._count < n:
                continue
            first = self._count - n
            w = g.get("within_ms")
            if w is not None and ticks_diff(start, self._starts[first % _MAX_PRESSES]) > w:
                continue
            gap = g.get("gap_ms")
            if gap is not None:
                k = first + 1
                while k < self._count and ticks_diff(self._starts[k % _MAX_PRESSES],
                                                     self._starts[(k - 1) % _MAX_PRESSES]) <= gap:
                    k += 1
                if k < self._count:
                    continue
            self._fire(g["action"], t)
            return

    def _released(self, t):
        if self.on_release:
            self.on_release(t)
        if self.seqs:
            d = ticks_diff(t, self._press_t)
            if d >= min([g["hold_ms"] for g in self.seqs]):
                self._seq_hold, self._seq_taps, self._seq_last = d, 0, t  # a hold: the taps may follow
            elif self._seq_hold >= 0 and d > _TAP_MAX_MS:
                self._seq_hold = -1  # neither a tap nor a hold: no hold-then-taps
        if self._pending:
            self._pending = False
            d = ticks_diff(t, self._pending_t)
            if self._max_press and d > self._max_press:
                self._count = 0  # too long for a deliberate press: the count starts again
            elif d >= self._pending_min:
                self._count_press(self._pending_t, t)
        # a release dated after the hold threshold is a hold even if we learn it late
        if not self._hold_done:
            for g in self.holds:
                if ticks_diff(t, self._hold_from) >= g["hold_ms"]:
                    self._fire(g["action"], t)
                    break

    def _seq_gap(self):
        return max([g["gap_ms"] for g in self.seqs] or [0])

    def _seq_end(self, now):
        """The button has been quiet since the hold-then-taps' last tap: it is one of them, or nothing.
        It takes no press from the multi-press count: it can never eat an alert's taps."""
        hold, taps, self._seq_hold = self._seq_hold, self._seq_taps, -1
        for g in self.seqs:
            if taps == g["taps"] and hold >= g["hold_ms"] and self.on_gesture:
                self.on_gesture(g["action"], now)
                return

    def _fire(self, action, t):
        self._seq_hold = -1
        self._count = 0  # a recognised gesture consumes its presses
        self._pending = False
        self._hold_done = True
        if self.on_gesture:
            self.on_gesture(action, t)
