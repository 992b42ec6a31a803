# Simulated `machine` for the MicroPython unix port. It sits earlier on MICROPYPATH than the builtin
# module, so drivers and board code run unmodified. Only board profiles (boards/sim.py) construct these
# objects; the host simulator drives inputs through the control channel handled in boards/sim.py.
import micropython
from micropython import const
import sys
import time
import termios

_RESET_CAUSE = 1  # PWRON_RESET unless the simulator says otherwise (see boards/sim.py)
PWRON_RESET = const(1)
HARD_RESET = const(2)
WDT_RESET = const(3)
DEEPSLEEP_RESET = const(4)
SOFT_RESET = const(5)

_irq_state = 0


def disable_irq():
    global _irq_state
    _irq_state += 1
    return _irq_state - 1


def enable_irq(state=0):
    global _irq_state
    _irq_state = state


def reset_cause():
    return _RESET_CAUSE


def unique_id():
    return b"SIM\x00\x00\x01"


def freq(*_):
    return 240000000


def idle():
    time.sleep_ms(1)


def reset():
    # A reset of the simulated board: the host simulator restarts the VM on this exit code.
    print("EV {\"event\": \"reset\"}")
    sys.exit(75)


def deepsleep(ms=0):
    print("EV {\"event\": \"deepsleep\", \"ms\": %d}" % ms)
    sys.exit(76)


def lightsleep(ms=0):
    time.sleep_ms(ms)


class Pin:
    IN = const(0)
    OUT = const(1)
    OPEN_DRAIN = const(2)
    PULL_UP = const(1)
    PULL_DOWN = const(2)
    IRQ_FALLING = const(2)
    IRQ_RISING = const(1)
    WAKE_LOW = const(4)
    WAKE_HIGH = const(5)

    _all = {}

    def __init__(self, id, mode=IN, pull=None, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self._level = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self._level = 1 if value else 0
        self._handler = None
        self._trigger = 0
        self.on_change = None  # the simulated board watches outputs (vibration motor) through this
        Pin._all[id] = self

    def value(self, v=None):
        if v is None:
            return self._level
        v = 1 if v else 0
        if v != self._level:
            self._level = v
            if self.on_change:
                self.on_change(self, v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, v=None):
        return self.value(v)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, wake=None, hard=False):
        self._handler = handler
        self._trigger = trigger

    def _drive(self, level):
        """Simulated external level change. The handler runs as an ISR would: with the heap locked,
        so any allocation in it raises MemoryError here, as it would crash on the device."""
        level = 1 if level else 0
        if level == self._level:
            return
        self._level = level
        edge = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
        if self._handler and (self._trigger & edge):
            micropython.heap_lock()
            try:
                self._handler(self)
            finally:
                micropython.heap_unlock()


def UART(id, baudrate=115200, tx=None, rx=None, rxbuf=1024, timeout=0, path=None, **kw):
    """A UART backed by a pty slave created by the host simulator (a pty behaves like a serial line).

    Returns the opened file itself: asyncio can only poll native streams on the unix port, and the
    file offers what drivers use of machine.UART (write, readinto, read, readline, asyncio streams)."""
    if path is None:
        raise OSError("simulated UART%d has no pty path" % id)
    f = open(path, "r+b", buffering=0)
    fd = f.fileno()
    termios.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[6][6] = 0  # VMIN: reads never block, as UART.read with timeout=0
    attrs[6][5] = 0  # VTIME
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return f


class ADC:
    ATTN_11DB = const(3)

    def __init__(self, pin, atten=None):
        self.pin = pin
        self.sim_uv = 1_900_000  # set by the simulated board (battery voltage after the divider)

    def read_uv(self):
        return self.sim_uv


class WDT:
    """Watchdog: if not fed within `timeout` ms the simulated board resets (checked by its tick task)."""

    last = None

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.fed = time.ticks_ms()
        WDT.last = self

    def feed(self):
        self.fed = time.ticks_ms()

    def expired(self):
        return time.ticks_diff(time.ticks_ms(), self.fed) > self.timeout


class RTC:
    def datetime(self, dt=None):
        if dt is None:
            t = time.gmtime()
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)


def time_pulse_us(*a, **k):
    raise OSError("not simulated")
