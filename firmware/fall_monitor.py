# Fall monitoring: accelerometer FIFO -> streaming detector -> cancel window -> alert.
# On a detected fall the wearer feels a prompt; a single press within the window (30 s by default)
# cancels, otherwise the alert goes out with "Chute détectée". A fall during an active alert is only
# logged. Reading the FIFO in bursts lets the CPU sleep between reads (32 samples = 0.64 s at 50 Hz).
# Sleep (issue 8): the power task asks sleep_mode() before each sleep: INT1 is the FIFO watermark in a
# light sleep while moving, the LIS3DH's activity interrupt otherwise (deep sleep while still). The
# still posture (mean gravity of the last still batch) crosses a deep sleep in RTC memory: after a
# motion wake, resume() feeds it to the detector as the pre-fall history the reboot lost, then the
# FIFO gives the last 0.64 s before the firmware ran (tests/host/test_fall_wake.py measures what that
# costs against the boot time).
import asyncio
from array import array
from time import ticks_ms, ticks_diff

from firmware import haptics
from firmware.alert import IDLE
from firmware.fall_detector import FallDetector, EV_FALL

_FIFO = 32
_POLL_MS = 400
_MOTION_SAMPLES = 250  # 5 s at 50 Hz per moving/still verdict
_MOTION_DEV_MG2 = 150000  # mean | |a|^2 - 1 g^2 | above this (~0.075 g swings) means moving
_STILL_JERK_MG = 20  # mean sample-to-sample change (|dx|+|dy|+|dz|) of a still batch: its mean is the posture
_WATERMARK = 25  # samples per FIFO wake in light sleep (0.5 s at 50 Hz, 7 left as margin)
WAKE_MG = 250  # activity threshold on the high-passed axes (LIS3DH generator 1)
WAKE_MS = 40
_SEED_MS = 2500  # pre-fall history given to the detector at a motion wake (its long_ms is 2 s)


class FallMonitor:
    def __init__(self, accel, alert, log, vibrator=None, cfg=None, detector=None):
        cfg = cfg or {}
        self.accel = accel
        self.alert = alert
        self.log = log
        self.vibrator = vibrator
        self.cancel_ms = int(cfg.get("fall_cancel_s", 30)) * 1000
        self.det = detector or FallDetector(rate_hz=accel.rate_hz)
        self._buf = array("h", bytes(6 * _FIFO))  # x, y, z mg triples, allocated once
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
        self.has_posture = False
        self.int1 = None  # what INT1 signals now: "fifo", "activity" (or None: not set by us)
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
            await asyncio.sleep_ms(_POLL_MS)

    def batch(self):
        """Read the FIFO and run the detector over it; True if a fall was confirmed."""
        buf, det = self._buf, self.det
        try:
            n = self.accel.read_fifo(buf)
        except OSError as e:  # an I2C glitch must not end fall monitoring
            self.log("accel_error", err=repr(e))
            n = 0
        fell = False
        dev = sx = sy = sz = jerk = 0
        px, py, pz = buf[0], buf[1], buf[2]
        for k in range(n):
            x, y, z = buf[3 * k], buf[3 * k + 1], buf[3 * k + 2]
            if det.update(x, y, z) == EV_FALL:
                fell = True
            m2 = x * x + y * y + z * z - 1000000
            dev += m2 if m2 > 0 else -m2
            sx += x
            sy += y
            sz += z
            jerk += abs(x - px) + abs(y - py) + abs(z - pz)
            px, py, pz = x, y, z
        if n >= 8 and jerk // n < _STILL_JERK_MG:
            p = self._posture  # in place: no allocation per batch
            p[0], p[1], p[2] = sx // n, sy // n, sz // n
            self.has_posture = True
        self._motion(dev, n)
        self.samples += n
        return fell

    # ---- sleep ------------------------------------------------------------------------------------
    def sleep_mode(self, moving):
        """Before a sleep: INT1 = FIFO watermark if the detector must see every batch (moving), the
        activity interrupt otherwise. Returns the still posture to keep across a deep sleep."""
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
                self.accel.int_source()  # a latched activity would end the sleep at once
            except (AttributeError, OSError):
                pass
        return self.posture()

    def posture(self):
        """[x, y, z] mg of the last still batch (for RTC memory), or None."""
        p = self._posture
        return [p[0], p[1], p[2]] if self.has_posture else None

    def resume(self, posture):
        """After a deep-sleep wake: clear the latched activity interrupt and give the detector the
        still posture saved before the sleep as its pre-fall history (the FIFO holds only the last
        0.64 s; the detector compares the posture after an impact with the one before)."""
        try:
            self.accel.int_source()
        except (AttributeError, OSError):
            pass
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
        moving = self._dev // self._dev_n > _MOTION_DEV_MG2
        self._dev = self._dev_n = 0
        for fn in self.motion_listeners:
            fn(moving)
        if moving != self.moving:
            self.moving = moving
            self.alert.followups.on_motion(moving)
            self.log("motion", moving=moving)

    async def _fall(self):
        if self.alert.state != IDLE:
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
