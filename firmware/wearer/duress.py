# Cancel and duress gestures during a fall window or an alert. Pure (no I/O, no clock reads): fed
# with the debounced press and release times of the button logic (ButtonLogic's on_press and
# on_release) and polled with `now`.
#
# Why press bursts (firmware/wearer/press_bursts.py) and not ButtonLogic gestures: ButtonLogic fires a
# gesture as soon as it matches, so a 2-press gesture cannot live next to a longer alert gesture. A
# burst is counted once the button has been quiet for press_gap_ms, so every count means one thing.
# Only presses made after arm() count: the gesture that started the alert is never read as a cancel.
#
# During an alert, presses alone mean nothing (issue 20): a frightened woman hammering the button,
# or pressing on after her alert gesture, must never cancel or tag her alert. A cancel or a duress
# starts with a deliberate step hammering never makes: a hold of cancel_hold_ms (5 s). At 5 s she
# feels CANCEL_ASK; after she lets go she has CONFIRM_WINDOW_MS to tap a count, decided once quiet:
#
#   context      what she does                           decision      she feels       what happens
#   fall window  1 press                                 CANCEL_FALL   CANCEL          no alert
#   fall window  duress_presses                          SEND_DURESS   DURESS_CANCEL   alert now, "sous contrainte"
#   alert        hold 5 s, then cancel_presses taps      STOP          CANCEL          alert ended
#   alert        hold 5 s, then duress_presses taps      DURESS        DURESS_CANCEL   alert goes on, "sous contrainte"
#   alert        the cancel after a duress               NOTHING       CANCEL          the alert goes on
#   alert        hold 5 s, then any other count, a       NOTHING       nothing         the alert goes on
#                press over 1 s, or nothing in 5 s
#   alert        taps without the hold (any number)      NOTHING       nothing         the alert goes on
#   anything else                                        NOTHING       nothing
#
# DURESS_CANCEL starts exactly like CANCEL (whoever forces the cancel sees the same thing), then
# adds one short tick only the wearer knows: "still running". After a duress in an alert, cancel
# gestures are refused (the one forcing her could make her cancel again); contacts can still end it
# with STOP <PIN>. Every uncertain case keeps the alert going.
from micropython import const
from time import ticks_diff

from firmware.wearer import haptics
from firmware.wearer.press_bursts import PressBursts

IDLE = "idle"
FALL_WINDOW = "fall_window"
ALERT = "alert"

NOTHING = "nothing"
CANCEL_FALL = "cancel_fall"
SEND_DURESS = "send_duress"
STOP = "stop"
DURESS = "duress"

DEFAULTS = {
    "cancel_presses": 4,  # in an alert, after the hold: 2 apart from the duress count
    "duress_presses": 2,  # short and easy under threat
    "press_gap_ms": 1200,  # a burst ends after this much quiet
    "cancel_hold_ms": 5000,  # in an alert: the hold that opens the cancel/duress confirmation
}

_MAX_PRESSES = const(12)
CONFIRM_WINDOW_MS = const(5000)  # after the hold's release: the first tap must come within this
_TAP_MAX_MS = const(1000)  # a longer press in the confirmation is not a tap: nothing is decided


def check(cfg):
    """(cancel, duress, gap, hold) from cfg, or ValueError: counts 2..12 (1 is the fall cancel),
    apart by at least 2, never the press count of an alert gesture (cfg["gestures"]), gap
    400..3000 ms, hold 3000..10000 ms."""
    c = cfg.get("cancel_presses", DEFAULTS["cancel_presses"])
    d = cfg.get("duress_presses", DEFAULTS["duress_presses"])
    g = cfg.get("press_gap_ms", DEFAULTS["press_gap_ms"])
    h = cfg.get("cancel_hold_ms", DEFAULTS["cancel_hold_ms"])
    for v in (c, d, g, h):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError("cancel_presses, duress_presses, press_gap_ms, cancel_hold_ms must be integers")
    if not (2 <= c <= _MAX_PRESSES and 2 <= d <= _MAX_PRESSES):
        raise ValueError("press counts are 2..%d" % _MAX_PRESSES)
    for gest in cfg.get("gestures") or ({"action": "alert", "presses": 3},):
        n = gest.get("presses") if isinstance(gest, dict) and gest.get("action") == "alert" else None
        if n is not None and (c == n or d == n):
            raise ValueError("%d presses is an alert gesture" % n)
    if abs(c - d) < 2:
        raise ValueError("cancel and duress counts must differ by 2 or more (one extra press must "
                         "not turn a duress into a cancel)")
    if not 400 <= g <= 3000:
        raise ValueError("press_gap_ms is 400..3000")
    if not 3000 <= h <= 10000:
        raise ValueError("cancel_hold_ms is 3000..10000")
    return c, d, g, h


class Duress:
    def __init__(self, cfg=None):
        self.cancel_n, self.duress_n, gap, self.hold_ms = check(cfg or {})
        self.bursts = PressBursts(gap)
        self.active = False  # duress given during the current alert: follow-ups say "sous contrainte"
        self._down = False
        self._down_t = 0
        self._alert_press = False  # the press held now began during an alert
        self._asked = False  # CANCEL_ASK played for the press held now
        self._confirm = False  # in an alert: the hold was made, the taps decide
        self._confirm_t = 0  # ... the hold's release
        self._taps = 0  # taps seen in the confirmation

    # --- alert lifecycle ----------------------------------------------------------------------------
    def arm(self):
        """A fall window opened or an alert started: count presses from now on."""
        self.bursts.arm()
        self._confirm = False
        self._asked = True  # a press already down (the alert gesture's) never opens the dialogue
        self._down = False

    def end(self):
        """The alert (or a fall window that ended without one) is over."""
        self.bursts.disarm()
        self.active = False
        self._confirm = False

    # --- presses ------------------------------------------------------------------------------------
    def press(self, t, ctx=FALL_WINDOW):
        """A debounced press at ticks t (ButtonLogic on_press)."""
        self._down = True
        self._down_t = t
        self._asked = False
        self._alert_press = ctx == ALERT
        if ctx != ALERT or self._confirm:
            self.bursts.press(t)
            if self._confirm:
                self._taps += 1

    def release(self, t, ctx=FALL_WINDOW):
        """A debounced release at ticks t (ButtonLogic on_release)."""
        if not self._down:
            return
        self._down = False
        if ctx != ALERT or not self._alert_press or not self.bursts.armed:
            return
        held = ticks_diff(t, self._down_t)
        if self._confirm:
            if held > _TAP_MAX_MS:  # not a tap (sitting, leaning on it): nothing is decided
                self._close()
        elif held >= self.hold_ms:
            self._confirm = True
            self._confirm_t = t
            self._taps = 0
            self.bursts.arm()  # the taps from now on

    def _asking(self):
        """A press begun in an alert, outside the confirmation, not yet told it is long enough."""
        return self._down and self._alert_press and not self._asked and not self._confirm \
            and self.bursts.armed

    def _close(self):
        self._confirm = False
        self.bursts.arm()  # forget any count

    def wait_ms(self, now):
        """ms until something can be decided, or -1 when nothing is open."""
        w = self.bursts.wait_ms(now)
        if self._confirm and self._taps == 0:
            left = max(0, CONFIRM_WINDOW_MS - ticks_diff(now, self._confirm_t))
            w = left if w < 0 else min(w, left)
        if self._asking():
            left = max(0, self.hold_ms - ticks_diff(now, self._down_t))
            w = left if w < 0 else min(w, left)
        return w

    def poll(self, now, ctx):
        """(decision, haptic pattern or None) once something is decided, else None."""
        if ctx == ALERT:
            if self._asking() and ticks_diff(now, self._down_t) >= self.hold_ms:
                self._asked = True
                return (NOTHING, haptics.CANCEL_ASK)  # she may let go: the taps come next
            if not self._confirm:
                return None  # presses without the hold mean nothing
            if self._taps == 0:
                if ticks_diff(now, self._confirm_t) >= CONFIRM_WINDOW_MS:
                    self._close()
                return None
            if self._down:
                return None  # a tap still held: decided at its release (or void if it is long)
        n = self.bursts.poll(now)
        if not n:
            return None
        if ctx == ALERT:
            self._close()
        return self.decide(n, ctx)

    def decide(self, n, ctx):
        if ctx == FALL_WINDOW:
            if n == 1:
                return (CANCEL_FALL, haptics.CANCEL)
            if n == self.duress_n:
                self.active = True
                return (SEND_DURESS, haptics.DURESS_CANCEL)
        elif ctx == ALERT:
            if n == self.duress_n:
                self.active = True
                return (DURESS, haptics.DURESS_CANCEL)
            if n == self.cancel_n:
                if self.active:
                    return (NOTHING, haptics.CANCEL)  # looks cancelled, is not
                return (STOP, haptics.CANCEL)
        return (NOTHING, None)


_CANCELLED = {
    "fr": ("ANNULATION: %s a annulé son alerte. Aucune action requise.",
           "ANNULATION: alerte annulée. Aucune action requise."),
    "en": ("CANCELLED: %s cancelled the alert. No action needed.",
           "CANCELLED: the alert was cancelled. No action needed."),
}


def cancelled_text(wearer, lang="fr"):
    """SMS to the contacts after a genuine cancel (never after a duress: then nothing is sent)."""
    from firmware.core.sms_pdu import fits_one_segment
    from firmware.sms.text import LIMIT_NAME, fold_name
    t = _CANCELLED.get(lang, _CANCELLED["fr"])
    name = (wearer or "").strip()[:LIMIT_NAME]
    if name:
        text = t[0] % name
        if fits_one_segment(text):
            return text
        folded, _ok = fold_name(name)
        if folded.strip():
            text = t[0] % folded.strip()
            if fits_one_segment(text):
                return text
    return t[1]
