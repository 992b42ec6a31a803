# Concealed push button on an RTC-capable GPIO with pull-up (pressed = low).
# The ISR only timestamps the edge into preallocated storage and sets a ThreadSafeFlag: no allocation,
# no float, no task creation. One task (firmware/app.py button_task, through ButtonLogic.take) drains
# the edges and debounces them.
#
# Hard interrupt where the port has one (pin.irq(hard=True): the stamp and the level are read within
# microseconds of the edge); the ESP32 port has only soft (scheduled) pin interrupts and refuses the
# keyword, so there the handler runs when the VM next checks its scheduler (docs/haptics.md: what only
# hardware can settle). `hard` says which one this board got.
#
# Nothing is lost or invented by a full ring: once it is full the ISR keeps only the first and the
# latest edge of what it drops (times and levels read then) and counts the drops in `dropped`; the
# drain hands them after the stored ones, the latest marked busy (the line moved in between, so the
# recogniser keeps one burst across: chatter never reads as a rest, nor as a hold), and the
# recogniser ends on the pin's real level. resync() compares the pin with the
# last level handed on: it catches a button held when the ISR was armed (power-on, watchdog reset)
# and an edge whose interrupt never ran.
import asyncio
import machine
import time
from array import array
from micropython import const

_CAPACITY = const(64)  # edges kept between two drains; a bounce burst is far shorter


class ButtonEdges:
    def __init__(self, pin, active_low=True, flag=None, clock=None):
        self.pin = pin
        self.active_low = active_low
        # flag: set by the ISR, awaited by the task. Boards pass another object with the same
        # set()/wait() contract only where the ISR is not a real interrupt (the simulated board).
        self.flag = asyncio.ThreadSafeFlag() if flag is None else flag
        self._clock = time.ticks_ms if clock is None else clock  # tests pass a simulated clock
        self._ticks = array("i", (0 for _ in range(_CAPACITY)))
        self._levels = bytearray(_CAPACITY)
        self._head = 0  # written by the ISR only
        self._tail = 0  # written by the task only
        self.dropped = 0  # edges the full ring could not keep (the latest of them is handed on)
        self.resyncs = 0  # level changes found by resync() with no edge to show for them
        self._ovf = False  # set by the ISR when it had to drop, cleared by the drain
        self._ovf_first_t = 0
        self._ovf_first_level = 0
        self._ovf_t = 0
        self._ovf_level = 0
        # the level last handed to the sink; the recogniser starts released, so a button already
        # held when the ISR is armed is handed on by the first resync()
        self._last = 1 if active_low else 0
        trig = machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING
        try:
            pin.irq(self._isr, trig, hard=True)
            self.hard = True
        except (TypeError, ValueError):  # the ESP32 port: "extra keyword arguments given"
            pin.irq(self._isr, trig)
            self.hard = False

    def _isr(self, pin):
        t = self._clock()
        level = pin.value()
        h = self._head
        nxt = h + 1
        if nxt == _CAPACITY:
            nxt = 0
        if self._ovf or nxt == self._tail:
            # full (or already dropping until the drain catches up): keep the first and the latest
            # edge of the dropped span
            self.dropped += 1
            if not self._ovf:
                self._ovf = True
                self._ovf_first_t = t
                self._ovf_first_level = level
            self._ovf_t = t
            self._ovf_level = level
        else:
            self._ticks[h] = t
            self._levels[h] = level
            self._head = nxt
        self.flag.set()

    def pressed_level(self, level):
        return (level == 0) if self.active_low else (level == 1)

    def is_pressed(self):
        return self.pressed_level(self.pin.value())

    def waiting(self):
        """True if the ISR stored an edge the task has not drained yet (a press the app has not
        heard of: the power task calls a sleep off for it)."""
        return self._tail != self._head or self._ovf

    def drain(self, sink):
        """Hand every stored edge to sink(ticks_ms, pressed, busy) in order. If the ring was full,
        then the first edge it dropped and the latest one with busy=True: the line moved between
        them (edges not kept), so no quiet gap may be read there. Runs in task context."""
        while True:
            state = machine.disable_irq()
            t = self._tail
            if t == self._head:
                ovf = self._ovf
                t1, l1 = self._ovf_first_t, self._ovf_first_level
                ticks, level = self._ovf_t, self._ovf_level
                self._ovf = False
                machine.enable_irq(state)
                if ovf:
                    sink(t1, self.pressed_level(l1), False)
                    self._last = level
                    sink(ticks, self.pressed_level(level), True)
                return
            ticks = self._ticks[t]
            level = self._levels[t]
            self._tail = t + 1 if t + 1 < _CAPACITY else 0
            machine.enable_irq(state)
            self._last = level
            sink(ticks, self.pressed_level(level), False)

    def resync(self, sink, now):
        """With no edge waiting: if the pin is not at the level last handed on, hand it on at `now`
        (a button held when the ISR was armed; an interrupt lost by the port). Returns True if so."""
        state = machine.disable_irq()
        if self._tail != self._head or self._ovf:
            machine.enable_irq(state)
            return False  # edges are waiting: the next drain hands them on
        level = self.pin.value()
        machine.enable_irq(state)
        if level == self._last:
            return False
        self._last = level
        self.resyncs += 1
        sink(now, self.pressed_level(level), False)
        return True
