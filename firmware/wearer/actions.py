# What the wearer can say with press bursts besides the alert gesture (firmware/wearer/gestures.py):
# cancel or duress during a fall window or an alert (firmware/wearer/duress.py) and the optional check-in
# (firmware/wearer/checkin.py). Bursts are counted once the button has been quiet, so each count means one
# thing; the decisions live in those pure modules, this one acts on them.
from firmware.wearer import haptics
from firmware.core import uptime
from firmware.wearer.checkin import CheckIn, MISSED, PREWARN
from firmware.wearer.duress import (Duress,
    ALERT,
    FALL_WINDOW,
    IDLE as CTX_IDLE,
    CANCEL_FALL,
    SEND_DURESS,
    STOP,
    DURESS,
    NOTHING,
    cancelled_text)
from firmware.wearer.press_bursts import PressBursts
from firmware.wearer.gestures import MIN_HOLD_MS
from time import ticks_diff


class WearerGestures:
    """cfg, log, alert (the AlertManager), vibrator, fall (the FallMonitor or None) are handed in by
    the app; tell_contacts(text), set by the app once two-way SMS runs, sends a text to every contact."""

    def __init__(self, cfg, log, alert, vibrator, fall=None):
        self.cfg = cfg
        self.log = log
        self.alert = alert
        self.vibrator = vibrator
        self.fall = fall
        self.tell_contacts = None
        try:
            self.duress = Duress(cfg)
        except ValueError as e:  # a bad setting must not disable the cancel and duress gestures
            self.log("duress_config_invalid", err=repr(e))
            self.duress = Duress({})
        self.checkin = CheckIn(cfg, uptime.ms(), log=log)  # days: never on ticks
        self.idle_bursts = PressBursts(self.duress.bursts.gap_ms)  # check-in bursts outside alerts
        # taps right after a held press are the arming gesture's (firmware/wearer/gestures.py ARM_GESTURE),
        # never an "I'm fine": the burst they start is not a check-in
        self._press_t = 0
        self._held_end = None  # release of the last press held >= MIN_HOLD_MS, until the next press
        self._void_burst = False
        if self.checkin.enabled:
            self.idle_bursts.arm()
        alert.listeners.append(self._alert_event)
        if fall is not None:
            fall.on_window = self.duress.arm

    def _alert_event(self, event, mgr):
        if event == "triggered" or event == "resumed":  # resumed: after a reset, with its duress tag
            self.duress.arm()
            if event == "resumed":
                self.duress.active = bool(mgr.duress)  # a cancel stays refused after a duress
            self.checkin.suspend()
            self.idle_bursts.disarm()
        elif event == "ended":
            self.duress.end()
            self.checkin.resume(uptime.ms())
            if self.checkin.enabled:
                self.idle_bursts.arm()

    def on_press(self, t):
        self.duress.press(t, self._ctx())
        if self._held_end is not None and ticks_diff(t, self._held_end) <= self.idle_bursts.gap_ms:
            self._void_burst = True
        self._held_end = None
        self._press_t = t
        self.idle_bursts.press(t)

    def on_release(self, t):
        self.duress.release(t, self._ctx())
        if ticks_diff(t, self._press_t) >= MIN_HOLD_MS:
            self._held_end = t

    def wait_ms(self, now):
        waits = [w for w in (self.duress.wait_ms(now), self.idle_bursts.wait_ms(now), self.checkin.wait_ms(uptime.ms()))
                 if w is not None and w >= 0]
        return min(waits) if waits else -1

    def _ctx(self):
        fall = self.fall
        if fall is not None and fall.window_open:
            return FALL_WINDOW
        return ALERT if self.alert.state != "idle" else CTX_IDLE

    def poll(self, now):
        """now: ticks_ms for the press bursts; the check-in reads its own uptime clock."""
        alert = self.alert
        r = self.duress.poll(now, self._ctx())
        if r is not None:
            decision, pattern = r
            if pattern is not None:
                self.vibrator.play(pattern)
            if decision == CANCEL_FALL:
                self.fall.resolve(False)
            elif decision == SEND_DURESS:
                self.log("duress", where="fall_window")
                self.fall.resolve(True)
            elif decision == STOP:
                # told, through the alert's outbox, only to those who got the alert, and after it
                alert.stop("cancel", notice=cancelled_text(self.cfg.get("wearer", ""), self.cfg.get("lang", "fr")))
            elif decision == DURESS:
                alert.mark_duress()  # the alert goes on; every contact is told "sous contrainte" now
                self.log("duress", where="alert", alert=alert.alert_id)
            elif decision == NOTHING and pattern is haptics.CANCEL_ASK:
                self.log("cancel_asked", alert=alert.alert_id)  # the hold: the taps decide next
            elif decision == NOTHING and pattern is not None:
                self.log("cancel_refused_after_duress", alert=alert.alert_id)
        n = self.idle_bursts.poll(now)
        if self._void_burst:  # the taps after a hold (and the hold): the arming gesture's, not a check-in
            n = 0
            if self.idle_bursts.wait_ms(now) < 0:  # every burst up to them decided
                self._void_burst = False
        up = uptime.ms()
        if n and self.checkin.burst(n, up):
            self.vibrator.play(haptics.CHECKIN_OK)
            self.log("checkin_ok")
        c = self.checkin.poll(up)
        if c == PREWARN:
            self.vibrator.play(haptics.CHECKIN_DUE)
            self.log("checkin_due")
        elif c == MISSED:
            self.log("checkin_missed")
            alert.trigger("checkin", kind="checkin")  # its own text, never the button alert's
