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

# Deep sleep and wake (issue 8). A deep sleep ends the VM (exit 76); the host simulator starts it again
# with reset cause DEEPSLEEP_RESET and the wake reason and input levels in the board's wiring.
EXT0_WAKE = const(2)
EXT1_WAKE = const(3)
TIMER_WAKE = const(4)
_GPIO_WAKE = const(7)  # ESP_SLEEP_WAKEUP_GPIO: a light sleep ended by a pin
PIN_WAKE = const(2)
SLEEP = const(2)
DEEPSLEEP = const(4)
_WAKE_REASON = 0  # set by the simulated board from its wiring
_INIT_LEVELS = {}  # gpio -> input level at boot (a button still held when the VM starts)
_WAKE_FDS = []  # streams whose input ends a light sleep early (the control channel: GPIO wake)
_BOOT_TICKS = time.ticks_ms()  # "the chip woke": the ESP32's ticks restart at 0, the VM's do not


def wake_reason():
    return _WAKE_REASON


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


_WAKE_HOOKS = []  # fn() -> ms until a simulated peripheral raises a wake line (LIS3DH watermark), or None
# fn() -> True once a simulated peripheral's wake line is up: called every _STEP_MS of a light sleep so
# that the peripheral keeps running while the MCU sleeps, as the real one does (the LIS3DH samples the
# world at its ODR and raises INT1 on an impact: the board's trace feed, boards/sim.py)
_SLEEP_PUMPS = []
_STEP_MS = const(20)


def _wait_fds(ms):
    # True if a wake stream (the control channel: a GPIO wake) has input within ms
    if not _WAKE_FDS:
        time.sleep_ms(ms)
        return False
    import select
    p = select.poll()
    for f in _WAKE_FDS:
        p.register(f, select.POLLIN)
    return bool(p.poll(ms))


def lightsleep(ms=0):
    # ends early when a wake stream has input, as a GPIO wake would end it, when a simulated
    # peripheral's wake line would rise (_WAKE_HOOKS), or when it rose while asleep (_SLEEP_PUMPS)
    # wake_reason() then says why it ended, as on the ESP32: the timer, or a GPIO (the caller reads
    # the pins to tell which); before, it kept the boot's reason and a timer wake read as "other"
    global _WAKE_REASON
    _WAKE_REASON = _GPIO_WAKE
    timer = TIMER_WAKE
    for fn in _WAKE_HOOKS:
        w = fn()
        if w is not None and w < ms:
            ms = max(1, w)
            timer = _GPIO_WAKE  # the peripheral's line ends it, not the timer
    if not _SLEEP_PUMPS:
        if not _wait_fds(ms):
            _WAKE_REASON = timer
        return
    t0 = time.ticks_ms()
    while True:
        for fn in _SLEEP_PUMPS:
            if fn():
                return
        left = ms - time.ticks_diff(time.ticks_ms(), t0)
        if left <= 0:
            _WAKE_REASON = timer
            return
        if _wait_fds(min(left, _STEP_MS)):
            return


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
        if mode == Pin.IN and id in _INIT_LEVELS:
            self._level = _INIT_LEVELS[id]
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
        # Both kinds of pin interrupt, as ports with `hard` have them: a hard handler runs at the
        # edge in interrupt context (here: at once, heap locked: an allocation raises MemoryError as
        # it would crash the device); a soft one is scheduled and runs when the VM next looks at
        # its scheduler, reading the level of that moment (the ESP32 port has only this kind).
        self._handler = handler
        self._trigger = trigger
        self.hard = bool(hard)

    def _drive(self, level):
        """Simulated external level change; the interrupt is raised if the trigger matches."""
        level = 1 if level else 0
        if level == self._level:
            return
        self._level = level
        edge = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
        if self._handler and (self._trigger & edge):
            self._interrupt()

    def _interrupt(self):
        """Run the handler as the interrupt controller would now (tests that model the ISR's
        latency set the level with _level and call this when the interrupt is taken)."""
        if self.hard:
            micropython.heap_lock()
            try:
                self._handler(self)
            finally:
                micropython.heap_unlock()
        else:
            micropython.schedule(self._handler, self)


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
    """Watchdog. Like the real one it sits outside the CPU: the host simulator watches the "WDT" lines
    and restarts the VM (reset cause WDT_RESET) when no feed came within the timeout, even when the
    event loop is stuck."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        print("WDT START", timeout)

    def feed(self):
        print("WDT FEED")


class RTC:
    def datetime(self, dt=None):
        if dt is None:
            t = time.gmtime()
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)

    def memory(self, data=None):
        """RTC user memory (2 KB on the ESP32 port): kept through deep sleep and resets, lost at
        power-on. A file in the board's flash directory stands in for it."""
        global _rtc_checked
        if not _rtc_checked:
            _rtc_checked = True
            if _RESET_CAUSE == PWRON_RESET:
                _rtc_write(b"")
        if data is None:
            try:
                with open(_RTC_PATH, "rb") as f:
                    return f.read()
            except OSError:
                return b""
        if len(data) > 2048:
            raise ValueError("buffer too long")
        _rtc_write(data)


_RTC_PATH = "sim_rtc.bin"
_rtc_checked = False


def _rtc_write(data):
    with open(_RTC_PATH, "wb") as f:
        f.write(data)


def time_pulse_us(*a, **k):
    raise OSError("not simulated")


@micropython.viper
def _widen16to32(src: ptr16, dst: ptr16, n: int):
    # int16 samples -> int32 left-justified (what a 24-bit I2S mic sends in a 32-bit slot)
    i = 0
    while i < n:
        dst[2 * i] = 0
        dst[2 * i + 1] = src[i]
        i += 1


class _WavSource:
    """The sound reaching the simulated microphone: a PCM 16-bit mono WAV at the I2S rate, looped."""

    def __init__(self, path, rate, loop=True):
        self.f = open(path, "rb")
        self.loop = loop
        f = self.f
        if f.read(4) != b"RIFF":
            raise ValueError("%s: not a RIFF/WAV file" % path)
        f.read(8)
        fmt = None
        while True:
            hdr = f.read(8)
            if len(hdr) < 8:
                raise ValueError("%s: no data chunk" % path)
            size = hdr[4] | hdr[5] << 8 | hdr[6] << 16 | hdr[7] << 24
            if hdr[:4] == b"fmt ":
                fmt = f.read(size + (size & 1))
            elif hdr[:4] == b"data":
                break
            else:
                f.read(size + (size & 1))
        if fmt is None or fmt[0] | fmt[1] << 8 != 1 or fmt[2] != 1 or fmt[14] != 16:
            raise ValueError("%s: needs PCM 16-bit mono" % path)
        if fmt[4] | fmt[5] << 8 | fmt[6] << 16 != rate:
            raise ValueError("%s: sample rate differs from the I2S rate %d" % (path, rate))
        self.start = f.tell()
        self.size = size - (size & 1)

    def skip(self, n):
        """Drop n samples (the sound nobody recorded goes by)."""
        if n <= 0:
            return
        pos = self.f.tell() - self.start + 2 * n
        if pos >= self.size:
            pos = pos % self.size if self.loop else self.size
        self.f.seek(self.start + pos)

    def readinto(self, buf):
        """Fill buf (int16 LE); past the end: loop, or silence."""
        mv = memoryview(buf)
        got = 0
        while got < len(buf):
            left = self.start + self.size - self.f.tell()
            if left <= 0:
                if not self.loop:
                    for i in range(got, len(buf)):
                        buf[i] = 0
                    return
                self.f.seek(self.start)
                continue
            n = self.f.readinto(mv[got:got + min(left, len(buf) - got)])
            if not n:
                left = 0
                self.f.seek(self.start + self.size)
                continue
            got += n


class I2S:
    """I2S receiver (a MEMS microphone) fed from a WAV file named by the simulated board's wiring.

    Blocking mode fills the buffer at once. Non-blocking mode (after irq(handler)) follows the
    port: readinto() returns 0 at once and the handler runs when the buffer is full. Here "full" is
    decided by sim_service(), which the simulated board calls from a task: it delivers as many
    buffers as the elapsed time allows at `speed` x real time (0 = as fast as it is called). The
    handler runs with the heap locked, so an allocating callback fails here as it would misbehave on
    the device."""

    RX = const(0)
    TX = const(1)
    MONO = const(0)
    STEREO = const(1)

    def __init__(self, id, sck=None, ws=None, sd=None, mode=0, bits=16, format=0, rate=8000, ibuf=16384,
                 source=None, speed=1.0, loop=True, chipen=None):
        if mode != I2S.RX or format != I2S.MONO or bits not in (16, 32):
            raise ValueError("simulated I2S: RX, MONO, 16 or 32 bits only")
        self.bits = bits
        self.rate = rate
        self.ibuf = ibuf
        self.speed = speed
        self._src = _WavSource(source, rate, loop) if source else None
        self._cb = None
        self._buf = None
        self._t0 = None
        self._scratch = bytearray(0)
        self.delivered = 0  # samples handed over
        self.dropped = 0  # samples lost while nobody read (the DMA ring overflowed)
        # the INMP441's CHIPEN (a Pin, or None: tied high): low, the powered-down mic gives nothing;
        # after it rises, its output is silence for its start-up time (2^18 SCK = 4096 samples)
        self.chipen = chipen
        self._warm = 4096

    def irq(self, handler):
        self._cb = handler

    def _fill(self, buf):
        ns = len(buf) // (self.bits // 8)
        if self.bits == 16:
            target = buf
        else:
            if len(self._scratch) != ns * 2:
                self._scratch = bytearray(ns * 2)
            target = self._scratch
        if self._src is None:
            for i in range(len(target)):
                target[i] = 0
        else:
            self._src.readinto(target)  # the sound goes on whether the mic hears it or not
        if self.chipen is not None:
            if not self.chipen.value():
                self._warm = 0
            if self._warm < 4096:
                k = min(ns, 4096 - self._warm)
                for i in range(k * 2):
                    target[i] = 0
                self._warm += k
        if self.bits == 32:
            _widen16to32(target, buf, ns)
        return ns

    def readinto(self, buf):
        if self._cb is None:
            self.delivered += self._fill(buf)
            return len(buf)
        self._buf = buf
        if self._t0 is None:
            self._t0 = time.ticks_ms()
        return 0

    def sim_service(self, max_buffers=64):
        """Deliver the buffers that are due; returns how many."""
        n = 0
        if self._buf is not None and self.speed > 0:
            # the port's DMA ring holds ibuf bytes: what came while nobody read (a recorder stopped,
            # low power) is lost beyond that, as on the ESP32, not handed over late in one burst
            due = time.ticks_diff(time.ticks_ms(), self._t0) * self.rate * self.speed / 1000
            cap = self.ibuf // (self.bits // 8)
            drop = int(due - self.delivered) - cap
            if drop > 0:
                if self._src is not None:
                    self._src.skip(drop)
                self.delivered += drop
                self.dropped += drop
        while self._buf is not None and self._cb is not None and n < max_buffers:
            buf = self._buf
            ns = len(buf) // (self.bits // 8)
            if self.speed > 0:
                due = time.ticks_diff(time.ticks_ms(), self._t0) * self.rate * self.speed / 1000
                if self.delivered + ns > due:
                    break
            self._fill(buf)
            self._buf = None
            self.delivered += ns
            micropython.heap_lock()
            try:
                self._cb(self)
            finally:
                micropython.heap_unlock()
            n += 1
        return n

    def deinit(self):
        self._cb = None
        self._buf = None
