# Fall monitoring: accelerometer FIFO -> streaming detector -> cancel window -> alert.
# On a detected fall the wearer feels a prompt; a single press within the window (30 s by default)
# cancels, otherwise the alert goes out with "Chute détectée". A fall during an active alert is only
# logged. Reading the FIFO in bursts lets the CPU sleep between reads (32 samples = 0.64 s at 50 Hz).
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
        buf, det = self._buf, self.det
        while True:
            try:
                n = self.accel.read_fifo(buf)
            except OSError as e:  # an I2C glitch must not end fall monitoring
                self.log("accel_error", err=repr(e))
                n = 0
            fell = False
            dev = 0
            for k in range(n):
                x, y, z = buf[3 * k], buf[3 * k + 1], buf[3 * k + 2]
                if det.update(x, y, z) == EV_FALL:
                    fell = True
                m2 = x * x + y * y + z * z - 1000000
                dev += m2 if m2 > 0 else -m2
            self._motion(dev, n)
            self.samples += n
            if fell:
                await self._fall()
            await asyncio.sleep_ms(_POLL_MS)

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
