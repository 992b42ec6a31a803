# "He is coming" (issue 21 item 5): the arming gesture (firmware/wearer/gestures.py ARM_GESTURE) keeps
# the pre-alert ring running for `evidence_arm_min` minutes, so that with low power on an alert still
# carries the sound before it. Without low power the ring runs all the time anyway: the gesture only
# gets its acknowledgement. The power task (firmware/power/task.py) asks active(now) before it rests
# the microphone: while armed the mic stays on and the MCU awake (no deep sleep: the ring is in RAM).
#
# What the wearer feels: ARMED (two medium pulses) when the ring is on and recording into RAM; nothing
# when it is not (no association key: nothing could be sealed, so nothing is recorded; no microphone;
# battery at or under ARM_MIN_BATTERY; an alert or a fall window running, which records anyway). The
# same gesture while armed starts a full period again. The armed state lives in RAM only: a reset
# or a power cut ends it (the gesture must be made again), and never delays the alert, whose path
# does not go through here. Times are ticks_ms with ticks_diff (at most 240 min: far inside the
# 2**29 ms ticks_diff range).
from time import ticks_add, ticks_diff

from firmware.wearer import haptics

DEFAULT_MIN = 30
# 30 min armed cost 11-13.5 mAh (docs/evidence.md); under 10 % (100 mAh of a 1000 mAh cell) what is
# left is kept for the alert itself (its SMS rounds at up to 600 mA and its 10-minute recording)
ARM_MIN_BATTERY = 10


class Arming:
    def __init__(self, cfg, log, vibrator, alert, recorder=None, battery=None, fall=None):
        """recorder: the evidence Recorder or None (no microphone); battery(): percent or None;
        alert: the AlertManager (its state), fall: the FallMonitor or None (its window_open)."""
        m = cfg.get("evidence_arm_min", DEFAULT_MIN)
        self.ms = (m if isinstance(m, int) and not isinstance(m, bool) and 5 <= m <= 240 else DEFAULT_MIN) * 60000
        self.log = log
        self.vibrator = vibrator
        self.alert = alert
        self.recorder = recorder
        self.battery = battery
        self.fall = fall
        self.until = None  # ticks_ms when the armed period ends, None while not armed

    def refusal(self):
        """Why the gesture cannot arm the ring now, or None."""
        if self.alert.state != "idle" or (self.fall is not None and getattr(self.fall, "window_open", False)):
            return "alert"  # an alert records anyway; its presses are the cancel and duress gestures'
        rec = self.recorder
        if rec is None:
            return "no microphone"
        if not rec.can_record():
            return "no association key"
        pct = self.battery() if self.battery is not None else None
        if pct is not None and pct <= ARM_MIN_BATTERY:
            return "battery"
        return None

    def request(self, now):
        """The wearer made the arming gesture at ticks `now`. True if the ring is armed."""
        why = self.refusal()
        if why is not None:
            self.log("evidence_arm_refused", why=why)
            return False
        extended = self.until is not None and ticks_diff(self.until, now) > 0
        self.until = ticks_add(now, self.ms)
        self.recorder.arm(by="gesture")  # nothing if the ring already runs
        self.vibrator.play(haptics.ARMED)
        self.log("evidence_arm", min=self.ms // 60000, extended=extended)
        return True

    def active(self, now):
        """True while an armed period runs; the first call after its end logs it. The battery falling
        to ARM_MIN_BATTERY ends it early, as it would have refused it."""
        if self.until is None:
            return False
        if ticks_diff(self.until, now) > 0:
            pct = self.battery() if self.battery is not None else None
            if pct is None or pct > ARM_MIN_BATTERY:
                return True
            self.until = None
            self.log("evidence_arm_expired", why="battery")
            return False
        self.until = None
        self.log("evidence_arm_expired")
        return False

    def left_ms(self, now):
        return 0 if self.until is None else max(0, ticks_diff(self.until, now))
