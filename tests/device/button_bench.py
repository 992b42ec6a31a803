# A simulated button for device tests: the real ISR (drivers/button.py) on the simulated board's pin
# and the real recogniser turn (ButtonLogic.take, as firmware/app.py's button task runs it), on a
# millisecond clock the test controls.
#
# The interrupt is modelled as a GPIO status bit: an edge sets it if it is clear, the handler runs
# `latency_ms` later (heap locked: hard) and reads the level of that moment. So a pulse shorter than
# the latency (a runt) is seen as one edge at the level the line came back to, and several edges
# within the latency as one. The task wakes when the ISR set its flag or when the wait it asked for
# ran out, except during stalls (a flash write, GC, a blocking call), when nothing but the ISR runs.
import machine
from time import ticks_add, ticks_ms

from drivers.button import ButtonEdges
from firmware.wearer.gestures import ButtonLogic, DEFAULT_GESTURES

_PIN_IDS = [200]

# The alert map before issue 20 (3 presses within 2.5 s, or a 2 s hold), still a valid setting: the
# tests of the recogniser's mechanics (debounce, windows, holds, stalls) use it.
TRIPLE_OR_HOLD = ({"action": "alert", "presses": 3, "within_ms": 2500}, {"action": "alert", "hold_ms": 2000})


class Flag:
    def __init__(self):
        self.on = False

    def set(self):
        self.on = True


def wrap_base(ms_before):
    """A start `ms_before` ms before the ticks wrap where the ticks are 30 bits (the ESP32's, the
    32-bit VM's); elsewhere (the 64-bit VM: 62-bit ticks, which the ISR's int32 array could not
    hold near their wrap) the current ticks."""
    top = ticks_add(0, -1)
    return ticks_add(0, -ms_before) if top < (1 << 31) else ticks_ms()


class ButtonBench:
    def __init__(self, base, gestures=DEFAULT_GESTURES, latency_ms=1, held_at_start=False):
        self.base = base
        self.t = base
        self.latency = latency_ms
        _PIN_IDS[0] = 200 + (_PIN_IDS[0] + 1) % 4  # a few ids: the simulated board keeps every Pin
        self.pin = machine.Pin(_PIN_IDS[0], machine.Pin.IN, machine.Pin.PULL_UP)
        if held_at_start:
            self.pin._level = 0
        self.edges = ButtonEdges(self.pin, flag=Flag(), clock=self.clock)
        self.gestures = []  # (action, ms offset when recognised)
        self.presses = []  # ms offsets of debounced presses (as dated by the recogniser)
        self.logic = ButtonLogic(gestures, on_gesture=self._gesture, on_press=self._press)
        self._ms = 0
        self._pending = -1
        self._task_at = 0  # the first turn comes at once, as the button task's
        self.after = None  # after(now) -> wait: run after each turn (firmware/app.py button_task)

    def clock(self):
        return self.t

    def _gesture(self, action, t):
        self.gestures.append((action, self._ms))

    def _press(self, t):
        self.presses.append(t)

    def run(self, transitions, end_ms, stalls=()):
        """transitions: [(ms, level)] physical levels (0 = pressed), in time order, several at one ms
        allowed; stalls: [(start_ms, length_ms)] during which the task does not run."""
        i = 0
        n = len(transitions)
        pin = self.pin
        for ms in range(self._ms, end_ms):
            self._ms = ms
            self.t = ticks_add(self.base, ms)
            while i < n and transitions[i][0] <= ms:
                lvl = transitions[i][1]
                i += 1
                if lvl != pin._level:
                    pin._level = lvl
                    if self._pending < 0:
                        self._pending = ms + self.latency
            if 0 <= self._pending <= ms:
                self._pending = -1
                pin._interrupt()
            stalled = False
            for s, d in stalls:
                if s <= ms < s + d:
                    stalled = True
                    break
            if stalled:
                continue
            if self.edges.flag.on or (self._task_at >= 0 and ms >= self._task_at):
                self.edges.flag.on = False
                now, wait = self.logic.take(self.edges, self.clock)
                if self.after is not None:  # what App.button_task does next (the wearer's bursts)
                    w2 = self.after(now)
                    if w2 >= 0 and (wait < 0 or w2 < wait):
                        wait = w2
                self._task_at = ms + max(1, wait) if wait >= 0 else -1
        self._ms = end_ms

    def pressed(self):
        return self.logic.stable
