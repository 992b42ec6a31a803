# Fall monitoring: accelerometer FIFO -> streaming detector -> cancel window -> alert.
# On a detected fall the wearer feels a prompt; a single press within the window (30 s by default)
# cancels, otherwise the alert goes out with "Chute détectée". A fall during an active alert is only
# logged. Reading the FIFO in bursts lets the CPU sleep between reads (32 samples = 0.64 s at 50 Hz).
# Sleep (issue 8): the power task asks sleep_mode() before each sleep: INT1 is the FIFO watermark in a
# light sleep while moving, the LIS3DH's activity interrupt otherwise (deep sleep while still). The
# still posture (mean gravity of the last still batch) crosses a deep sleep in RTC memory: after a
# motion wake, resume() feeds it to the detector as the pre-fall history the reboot lost, then the
# FIFO gives the last samples before the firmware ran (tests/host/test_fall_wake.py measures what that
# costs against the boot time). While INT1 is the activity interrupt the LIS3DH samples at sleep_hz
# (25 Hz: its 32-sample FIFO spans 1.28 s instead of 0.64 s, and it draws 6 uA instead of 11); the
# first batch after the wake interpolates those samples up to the detector's rate, then restores it.
import asyncio
from array import array

import micropython
from time import ticks_add, ticks_ms, ticks_diff

from firmware.wearer import haptics
from firmware.alert.manager import IDLE
from firmware.fall.detector import FallDetector, EV_FALL, PH_IDLE
from micropython import const

_FIFO = 32
_POLL_MS = 400
_DUE_MARGIN_MS = 30  # past a decision sample's due time before reading it (1.5 samples at 50 Hz)
_MOTION_SAMPLES = 250  # 5 s at 50 Hz per moving/still verdict
_MOTION_DEV_MG2 = 150000  # mean | |a|^2 - 1 g^2 | above this (~0.075 g swings) means moving
_STILL_JERK_MG = 20  # mean sample-to-sample change (|dx|+|dy|+|dz|) of a still batch: its mean is the posture
_WATERMARK = 25  # samples per FIFO wake in light sleep (0.5 s at 50 Hz, 7 left as margin)
WAKE_MG = 250  # activity threshold on the high-passed axes (LIS3DH generator 1)
WAKE_MS = 40
_SEED_MS = 2500  # pre-fall history given to the detector at a motion wake (its long_ms is 2 s)
SLEEP_HZ = 25  # LIS3DH rate while INT1 is the activity interrupt (docs/power.md: measured 10/25/50)
# impact wake (issue 22, power.fall_wake "impact"): the LIS3DH wakes the MCU only on a high-passed axis
# beyond IMPACT_MG. Frozen on the tuning subjects (docs/fall-detection.md, *The impact wake*): 1000 mg
# lost the fewest falls there (1250 mg missed one wake entirely), and with a 1 s boot the FIFO streaming
# up to the first read (IMPACT_FREEZE False) kept 660 of 665 falls where the FIFO frozen at the impact
# (stream-to-FIFO: the second after the impact lost to the boot) kept far fewer on MobiFall
IMPACT_MG = 1000
IMPACT_MS = 0
IMPACT_FREEZE = False


# per-sample | |a|^2 - 1 g^2 | cap (~4.2 g, far above the moving threshold): 32 of them stay a small
# int on the ESP32 (30 bits), so reading the sum allocates nothing
_M2_CLAMP = const(1 << 24)
_DEV_SHIFT = const(6)  # the 5 s deviation sum is kept >> 6: 10 batches stay a small int too
# an axis beyond this is capped in _stats() without squaring: 16000^2 - 1 g^2 > _M2_CLAMP already,
# and 3 x 16000^2 < 2^31 fits a 32-bit viper int (3 x 32768^2 would wrap: docs/int-width.md)
_AXIS_MAX = const(16000)
_SAMPLES_MASK = const(0x1FFFFFFF)  # FallMonitor.samples wraps as FallDetector.n does


@micropython.viper
def _stats(buf: ptr16, n: int, out: ptr32):
    # one pass over n x, y, z int16 triples: out[0] sum of | |a|^2 - 1 g^2 | (capped per sample),
    # out[1] sum of |dx| + |dy| + |dz| between samples, out[2..4] sums of x, y, z
    dev = 0
    jerk = 0
    sx = 0
    sy = 0
    sz = 0
    px = 0
    py = 0
    pz = 0
    i = 0
    while i < n:
        x = int(buf[3 * i])
        y = int(buf[3 * i + 1])
        z = int(buf[3 * i + 2])
        if x >= 32768:
            x -= 65536
        if y >= 32768:
            y -= 65536
        if z >= 32768:
            z -= 65536
        if (x > _AXIS_MAX or x < 0 - _AXIS_MAX or y > _AXIS_MAX or y < 0 - _AXIS_MAX
                or z > _AXIS_MAX or z < 0 - _AXIS_MAX):
            m2 = _M2_CLAMP
        else:
            m2 = x * x + y * y + z * z - 1000000
            if m2 < 0:
                m2 = 0 - m2
            if m2 > _M2_CLAMP:
                m2 = _M2_CLAMP
        dev += m2
        if i > 0:
            d = x - px
            jerk += d if d >= 0 else 0 - d
            d = y - py
            jerk += d if d >= 0 else 0 - d
            d = z - pz
            jerk += d if d >= 0 else 0 - d
        px = x
        py = y
        pz = z
        sx += x
        sy += y
        sz += z
        i += 1
    out[0] = dev
    out[1] = jerk
    out[2] = sx
    out[3] = sy
    out[4] = sz


class FallMonitor:
    impact_freeze = IMPACT_FREEZE  # what impact_mode() arms by default: the power task bridges the boot
    def __init__(self, accel, alert, log, vibrator=None, cfg=None, detector=None, sleep_hz=SLEEP_HZ):
        cfg = cfg or {}
        self.accel = accel
        self.alert = alert
        self.log = log
        self.vibrator = vibrator
        self.cancel_ms = int(cfg.get("fall_cancel_s", 30)) * 1000
        self.det = detector or FallDetector(rate_hz=accel.rate_hz)
        self._buf = array("h", bytes(6 * _FIFO))  # x, y, z mg triples, allocated once
        self._st = array("i", bytes(4 * 5))  # _stats() results, allocated once
        self._cancel = asyncio.Event()
        self.window_open = False
        self.on_window = None  # fn(): called when a fall window opens (arms the duress gesture)
        self._duress = False
        self.moving = None  # unknown until the first verdict
        self.motion_listeners = []  # fn(moving) on every 5 s verdict (the power policy)
        self._dev = 0
        self._dev_n = 0
        self.samples = 0
        self._posture = array("h", (0, 0, 0))  # mg: mean gravity of the last still batch
        self._latest = array("h", (0, 0, 0))  # mg: mean of the last batch read (the self-test's sample)
        self.has_posture = False
        self.int1 = None  # what INT1 signals now: "fifo", "activity" (or None: not set by us)
        self.sleep_hz = sleep_hz
        self._pending = False  # a fall confirmed by the FIFO read before a rate change
        self._gap = 0  # samples lost to the boot after an impact wake, bridged at the next read
        self._last = array("h", (0, 0, 0))  # mg: the last sample of the frozen FIFO
        self._decide_at = None  # ticks: the FIFO read that decides the candidate under check, or None
        self.task = None

    def start(self):
        self.task = asyncio.create_task(self._run())
        return self.task

    def on_press(self, t):
        """A press cancels an open fall window (boards without the duress layer; with it, the
        wearer-gesture layer decides once the press burst ended and calls resolve())."""
        if self.window_open:
            self.resolve(False)

    def resolve(self, duress):
        """The wearer answered the fall prompt: cancel (duress=False), or the duress gesture, which
        looks like a cancel but sends the alert at once, tagged "sous contrainte"."""
        if self.window_open:
            self._duress = duress
            self._cancel.set()

    async def _run(self):
        while True:
            if self.batch():
                await self._fall()
            # a candidate pending: the FIFO is read just after its decision sample (then the decision
            # is decide_ms + ~_DUE_MARGIN_MS after the impact, not up to _POLL_MS more); the power
            # task's timer wake from a light sleep is that same instant (decide_in_ms)
            due = self.decide_in_ms(ticks_ms())
            await asyncio.sleep_ms(due if 0 <= due < _POLL_MS else _POLL_MS)

    def batch(self):
        """Read the FIFO and run the detector over it; True if a fall was confirmed."""
        buf = self._buf
        try:
            n = self.accel.read_fifo(buf)
        except OSError as e:  # an I2C glitch must not end fall monitoring
            self.log("accel_error", err=repr(e))
            n = 0
        t_read = ticks_ms()  # the FIFO's last sample is about now: the decision's due time counts from it
        fell = self._pending
        self._pending = False
        det = self.det
        acc = self.accel
        rate = acc.rate_hz
        odr = getattr(acc, "odr_hz", rate)
        slow = odr < rate
        if slow:  # samples of the sleep rate: interpolated up, then the detector's rate again
            fell = self._upsample(buf, n, rate // odr) or fell
            try:
                acc.set_odr(rate)  # the FIFO was just read empty: the rates never mix
            except OSError as e:
                self.log("accel_error", err=repr(e))
        if self._gap and n and not slow:
            fell = self._bridge(buf) or fell
        k = 0
        while k < n and not slow:  # the whole batch at once (viper while nothing happens), stopping at each event
            k = det.feed(buf, n, k)
            if det.event == EV_FALL:
                fell = True
        st = self._st
        _stats(buf, n, st)
        if n:
            m = self._latest  # in place: no allocation per batch
            m[0], m[1], m[2] = st[2] // n, st[3] // n, st[4] // n
        if n >= 8 and not slow and st[1] // n < _STILL_JERK_MG:
            p = self._posture  # in place: no allocation per batch
            p[0], p[1], p[2] = st[2] // n, st[3] // n, st[4] // n
            self.has_posture = True
        self._motion(st[0] >> _DEV_SHIFT, n)
        self.samples = (self.samples + n) & _SAMPLES_MASK  # wraps after 124 days at 50 Hz: no long int
        due = det.decision_due_ms()
        self._decide_at = ticks_add(t_read, due + _DUE_MARGIN_MS) if due >= 0 else None
        return fell

    def _upsample(self, buf, n, f):
        # n samples at rate/f -> the detector at rate: f - 1 linearly interpolated samples (integer)
        # before each one after the first. Small ints only: no allocation per sample.
        det = self.det
        fell = False
        px = py = pz = 0
        j = 0
        for i in range(n):
            x, y, z = buf[j], buf[j + 1], buf[j + 2]
            if i:
                for k in range(1, f):
                    if det.update(px + (x - px) * k // f, py + (y - py) * k // f,
                                  pz + (z - pz) * k // f) == EV_FALL:
                        fell = True
            if det.update(x, y, z) == EV_FALL:
                fell = True
            px, py, pz = x, y, z
            j += 3
        return fell

    def _bridge(self, buf):
        # the boot after an impact wake: self._gap samples the chip took while its FIFO was frozen,
        # linearly interpolated from the last frozen sample to the first live one (integer, no
        # allocation per sample) so that the detector's decision and windows stay on the right time
        det = self.det
        g = self._gap + 1
        self._gap = 0
        fell = False
        px, py, pz = self._last[0], self._last[1], self._last[2]
        x, y, z = buf[0], buf[1], buf[2]
        for k in range(1, g):
            if det.update(px + (x - px) * k // g, py + (y - py) * k // g, pz + (z - pz) * k // g) == EV_FALL:
                fell = True
        return fell

    def _set_rate(self, moving):
        # the detector's rate while it must see every batch, sleep_hz under the activity interrupt;
        # the FIFO is read (and run through the detector) at the old rate before the change
        acc = self.accel
        odr = getattr(acc, "odr_hz", None)
        want = acc.rate_hz if moving or not self.sleep_hz else self.sleep_hz
        if odr is None or odr == want:
            return
        if self.batch():
            self._pending = True  # handed to the next batch(): the fall window opens then
        try:
            if acc.odr_hz != want:
                acc.set_odr(want)
        except (OSError, ValueError) as e:
            self.log("accel_odr_failed", err=repr(e))
        self.int1 = None  # INT1_DURATION counts samples at the rate: set INT1 again

    def found(self):
        """An impact under check, or a fall confirmed by the FIFO read before a rate change and not yet
        handled: the power task then calls the sleep off."""
        return bool(self._pending or self.det.phase)

    def confirmed(self):
        """A fall confirmed by the FIFO read before a rate change, not yet handed to the window (the
        next batch() does): the power task keeps the MCU awake for it."""
        return self._pending

    def checking(self):
        """The detector is not idle: a candidate under check, or the hold-off after a fall. Its state
        lives in RAM and it needs every sample at its rate: light sleep on the FIFO watermark only."""
        return self.det.phase != PH_IDLE

    def decide_in_ms(self, now):
        """ms from now until the FIFO read that decides the candidate under check (0: due now), or -1
        with none due (idle, or the hold-off after a fall). Counted from the last batch() read, whose
        last sample was then: the decision sample plus _DUE_MARGIN_MS, as the monitor's own loop waits."""
        if self._decide_at is None or not self.checking():
            return -1
        return max(0, ticks_diff(self._decide_at, now))

    # ---- sleep ------------------------------------------------------------------------------------
    def sleep_mode(self, moving):
        """Before a sleep: INT1 = FIFO watermark if the detector must see every batch (moving), the
        activity interrupt otherwise (and the rate sleep_hz). Returns the still posture to keep
        across a deep sleep."""
        self._set_rate(moving)
        kind = "fifo" if moving else "activity"
        if kind != self.int1:
            try:
                if moving:
                    self.accel.int1_fifo(_WATERMARK)
                else:
                    self.accel.int1_activity(WAKE_MG, WAKE_MS)
                self.int1 = kind
            except (AttributeError, OSError, ValueError) as e:
                self.int1 = None
                self.log("accel_int1_failed", err=repr(e))
        if not moving:
            try:
                self.accel.int1_source()  # a latched activity would end the sleep at once
            except (AttributeError, OSError):
                pass
        return self.posture()

    def impact_mode(self, threshold_mg=IMPACT_MG, duration_ms=IMPACT_MS, freeze=None):
        """Before a sleep in the impact wake mode (moving or still): the FIFO read empty through the
        detector, the chip at sleep_hz, INT1 = the LIS3DH's impact interrupt with the FIFO kept up to
        the impact (freeze; None: impact_freeze). Returns the still posture to keep across a deep sleep
        (or None)."""
        if freeze is None:
            freeze = self.impact_freeze
        self._set_rate(False)
        try:
            self.accel.int1_impact(threshold_mg, duration_ms, freeze)
            self.int1 = "impact"
        except (AttributeError, OSError, ValueError) as e:
            self.int1 = None
            self.log("accel_int1_failed", err=repr(e))
        return self.posture()

    def resume_impact(self, posture, gap_ms):
        """After an impact wake: the saved posture as pre-fall history (if any), the frozen FIFO (the
        samples up to the impact, at the sleep rate, interpolated up) through the detector, then the
        latch cleared and the FIFO streaming at the detector's rate. gap_ms: the time from the impact
        to this read (the boot, measured by the board); the samples of that time are lost with the
        frozen FIFO and are bridged at the next read by interpolation (_bridge), so the detector's
        clock stays right (0 after impact_mode(freeze=False): the FIFO streamed up to this read). True if a fall was confirmed by that first read."""
        self._seed(posture)
        buf = self._buf
        n = 0
        try:
            n = self.accel.fifo_count()
        except (AttributeError, OSError):
            pass
        fell = self.batch()  # the FIFO before the latch is cleared: it still ends at the impact
        if n:
            k = 3 * (min(n, _FIFO) - 1)
            lx, ly, lz = buf[k], buf[k + 1], buf[k + 2]
            self._last[0], self._last[1], self._last[2] = lx, ly, lz
            self._gap = max(0, gap_ms) * self.accel.rate_hz // 1000
        try:
            self.accel.int1_source()
            self.accel.fifo_stream()
        except (AttributeError, OSError) as e:
            self.log("accel_error", err=repr(e))
        self.int1 = None
        return fell

    def latest(self):
        """(x, y, z) mg: the mean of the last batch read from the FIFO, or None before the first.
        Read by the self-test: reading the chip's output registers itself would take samples out of
        the FIFO the detector needs."""
        if not self.samples:
            return None
        m = self._latest
        return m[0], m[1], m[2]

    def posture(self):
        """[x, y, z] mg of the last still batch (for RTC memory), or None."""
        p = self._posture
        return [p[0], p[1], p[2]] if self.has_posture else None

    def resume(self, posture):
        """After a deep-sleep wake: clear the latched activity interrupt and give the detector the
        still posture saved before the sleep as its pre-fall history (the FIFO holds only the last
        0.64 s; the detector compares the posture after an impact with the one before)."""
        try:
            self.accel.int1_source()
        except (AttributeError, OSError):
            pass
        self._seed(posture)

    def _seed(self, posture):
        if posture and len(posture) == 3:
            x, y, z = int(posture[0]), int(posture[1]), int(posture[2])
            p = self._posture
            p[0], p[1], p[2] = x, y, z
            self.has_posture = True
            for _ in range(_SEED_MS * self.accel.rate_hz // 1000):
                self.det.update(x, y, z)

    def _motion(self, dev, n):
        """Moving or still, for the follow-up policy (updates every 10 min moving, 30 min still)."""
        self._dev += dev
        self._dev_n += n
        if self._dev_n < _MOTION_SAMPLES:
            return
        moving = self._dev // self._dev_n > _MOTION_DEV_MG2 >> _DEV_SHIFT
        self._dev = self._dev_n = 0
        for fn in self.motion_listeners:
            fn(moving)
        if moving != self.moving:
            self.moving = moving
            self.alert.followups.on_motion(moving)
            self.log("motion", moving=moving)

    async def _fall(self):
        if self.alert.state != IDLE and self.alert.kind != "test":  # a test alert gives way (trigger)
            self.log("fall_during_alert", alert=self.alert.alert_id)
            return
        self.log("fall_detected", cancel_s=self.cancel_ms // 1000)
        if self.vibrator is not None:
            self.vibrator.play(haptics.FALL_PROMPT)
        self._cancel.clear()
        self._duress = False
        self.window_open = True
        if self.on_window is not None:
            self.on_window()
        try:
            await asyncio.wait_for_ms(self._cancel.wait(), self.cancel_ms)
            cancelled = True
        except asyncio.TimeoutError:
            cancelled = False
        self.window_open = False
        if cancelled and not self._duress:
            self.log("fall_cancelled")
            if self.vibrator is not None:
                self.vibrator.play(haptics.FALL_CANCELLED)
        else:
            self.alert.trigger("fall", kind="fall", duress=self._duress)
