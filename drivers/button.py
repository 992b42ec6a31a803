# Concealed push button on an RTC-capable GPIO with pull-up (pressed = low).
# The ISR only timestamps the edge into preallocated storage and sets a ThreadSafeFlag: no allocation,
# no float, no task creation. One task (firmware.button_task) drains the edges and debounces them.
import asyncio
import machine
import time
from array import array
from micropython import const

_CAPACITY = const(64)  # edges kept between two drains; a bounce burst is far shorter


class ButtonEdges:
    def __init__(self, pin, active_low=True, flag=None):
        self.pin = pin
        self.active_low = active_low
        # flag: set by the ISR, awaited by the task. Boards pass another object with the same
        # set()/wait() contract only where the ISR is not a real interrupt (the simulated board).
        self.flag = asyncio.ThreadSafeFlag() if flag is None else flag
        self._ticks = array("i", (0 for _ in range(_CAPACITY)))
        self._levels = bytearray(_CAPACITY)
        self._head = 0  # written by the ISR only
        self._tail = 0  # written by the task only
        self.dropped = 0
        pin.irq(self._isr, machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)

    def _isr(self, pin):
        h = self._head
        nxt = (h + 1) % _CAPACITY
        if nxt == self._tail:
            self.dropped += 1  # full: keep the oldest edges, the drain will resync on the pin level
        else:
            self._ticks[h] = time.ticks_ms()
            self._levels[h] = pin.value()
            self._head = nxt
        self.flag.set()

    def pressed_level(self, level):
        return (level == 0) if self.active_low else (level == 1)

    def is_pressed(self):
        return self.pressed_level(self.pin.value())

    def drain(self, sink):
        """Hand every stored edge to sink(ticks_ms, pressed) in order. Runs in task context."""
        while True:
            state = machine.disable_irq()
            t = self._tail
            if t == self._head:
                machine.enable_irq(state)
                return
            ticks = self._ticks[t]
            level = self._levels[t]
            self._tail = (t + 1) % _CAPACITY
            machine.enable_irq(state)
            sink(ticks, self.pressed_level(level))
