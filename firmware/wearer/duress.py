# Cancel and duress gestures during a fall window or an alert. Pure (no I/O, no clock reads): fed
# with the debounced press times of the button logic (ButtonLogic's on_press) and polled with `now`.
#
# Why press bursts (firmware/wearer/press_bursts.py) and not ButtonLogic gestures: ButtonLogic fires a
# gesture as soon as it matches (3 presses fire at the third), so a 2-press or a 5-press gesture
# cannot live next to the 3-press alert. A burst is counted once the button has been quiet for
# press_gap_ms, so every count means one thing. Only presses made after arm() count: the gesture that
# started the alert is never read as a cancel.
#
#   context      presses            decision        the wearer feels    what happens
#   fall window  1                  CANCEL_FALL     CANCEL              no alert
#   fall window  duress_presses     SEND_DURESS     DURESS_CANCEL       alert now, "sous contrainte"
#   alert        cancel_presses     STOP            CANCEL              alert ended
#   alert        duress_presses     DURESS          DURESS_CANCEL       alert goes on, "sous contrainte"
#   alert        cancel after a duress              CANCEL              nothing: the alert goes on
#   anything else                   NOTHING         nothing             (3 presses: ButtonLogic's alert)
#
# DURESS_CANCEL starts exactly like CANCEL (whoever forces the cancel sees the same thing), then
# adds one short tick only the wearer knows: "still running". After a duress in an alert, cancel
# gestures are refused (the one forcing her could make her cancel again); contacts can still end it
# with STOP <PIN>. Every uncertain case keeps the alert going.
from micropython import const

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
    "cancel_presses": 5,  # in an alert: far from the 3-press alert and from the duress count
    "duress_presses": 2,  # short and easy under threat
    "press_gap_ms": 1200,  # a burst ends after this much quiet
}

_MAX_PRESSES = const(12)


def check(cfg):
    """(cancel, duress, gap) from cfg, or ValueError: counts 2..12 (1 is the fall cancel), apart by
    at least 2, never the press count of an alert gesture (cfg["gestures"]), gap 400..3000 ms."""
    c = cfg.get("cancel_presses", DEFAULTS["cancel_presses"])
    d = cfg.get("duress_presses", DEFAULTS["duress_presses"])
    g = cfg.get("press_gap_ms", DEFAULTS["press_gap_ms"])
    for v in (c, d, g):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError("cancel_presses, duress_presses, press_gap_ms must be integers")
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
    return c, d, g


class Duress:
    def __init__(self, cfg=None):
        self.cancel_n, self.duress_n, gap = check(cfg or {})
        self.bursts = PressBursts(gap)
        self.active = False  # duress given during the current alert: follow-ups say "sous contrainte"

    # --- alert lifecycle ----------------------------------------------------------------------------
    def arm(self):
        """A fall window opened or an alert started: count presses from now on."""
        self.bursts.arm()

    def end(self):
        """The alert (or a fall window that ended without one) is over."""
        self.bursts.disarm()
        self.active = False

    # --- presses ------------------------------------------------------------------------------------
    def press(self, t):
        """A debounced press at ticks t (ButtonLogic on_press)."""
        self.bursts.press(t)

    def wait_ms(self, now):
        """ms until the current burst can be decided, or -1 when none is open."""
        return self.bursts.wait_ms(now)

    def poll(self, now, ctx):
        """(decision, haptic pattern or None) once a burst has ended, else None."""
        n = self.bursts.poll(now)
        return self.decide(n, ctx) if n else None

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
