# Low-battery SMS: one message to the first contact when the charge falls to 15 %, one more at 5 %.
# Pure decisions plus a tiny persisted state (a reboot, or the brownout a weak battery causes, must
# not send the same warning again; in low power the MCU reads the battery once per wake, so the
# readings counted towards `confirm` are persisted too, else no warning would ever be confirmed).
#
# Voltage noise: the charge is estimated from the cell voltage, which sags during a modem transmit
# burst and recovers after. So a level counts as reached only after `confirm` consecutive readings at
# or below it, and it is re-armed only once the charge is back to level + hysteresis (a charger was
# plugged in). Starting at 4 % with nothing sent yet sends one SMS (the 5 % one), never two at once.
from firmware.system import storage

PATH = "battery_watch.json"
DEFAULTS = {"levels": (15, 5), "hysteresis": 5, "confirm": 3}


class BatteryWatch:
    def __init__(self, path=PATH, levels=(15, 5), hysteresis=5, confirm=3, log=None):
        lv = sorted(set(levels), reverse=True)
        if not lv or lv[-1] < 1 or lv[0] > 99 or hysteresis < 1 or confirm < 1:
            raise ValueError("levels 1..99, hysteresis and confirm >= 1")
        self.levels = tuple(lv)
        self.hysteresis = hysteresis
        self.confirm = confirm
        self.path = path
        self.log = log or (lambda *a, **k: None)
        self.sent = []  # levels already reported (persisted)
        self._low = 0  # consecutive readings at or below the next level
        self.load()

    def load(self):
        d = storage.read_json(self.path) if self.path else None
        if isinstance(d, dict) and isinstance(d.get("sent"), list):
            self.sent = [v for v in d["sent"] if v in self.levels]
            low = d.get("low", 0)
            self._low = low if isinstance(low, int) and 0 <= low < self.confirm else 0

    def _save(self):
        if not self.path:
            return
        try:
            storage.write_json(self.path, {"sent": self.sent, "low": self._low})
        except OSError as e:  # flash full: the worst outcome is a repeated warning after a reboot
            self.log("battery_watch_save_failed", err=repr(e))

    def update(self, pct):
        """Feed one reading (percent, or None when unknown). Returns the level whose SMS must be sent
        now, or None. The caller sends it (see text()) to the first contact."""
        if pct is None:
            return None
        changed = False
        for lv in self.sent[:]:
            if pct >= lv + self.hysteresis:  # charged again: that warning may be given again
                self.sent.remove(lv)
                changed = True
        due = [lv for lv in self.levels if pct <= lv and lv not in self.sent]
        fire = None
        low = self._low
        if due:
            self._low += 1
            changed = True  # written only while a level is being confirmed: a few writes per level
            if self._low >= self.confirm:
                fire = due[-1]  # the lowest level reached: one SMS, not one per level
                for lv in self.levels:
                    if lv >= fire and lv not in self.sent:
                        self.sent.append(lv)
                self._low = 0
        else:
            self._low = 0
            changed = changed or low != 0
        if changed:
            self._save()
        return fire

    def failed(self, level):
        """The warning for `level` could not be sent: it fires again at the next reading still at or
        below it (a warning is never lost to a sleeping or unregistered modem)."""
        if level in self.sent:
            for lv in self.levels:
                if lv <= level and lv in self.sent:
                    self.sent.remove(lv)
            self._low = self.confirm - 1
            self._save()


_TEXT = {
    "fr": ("Bouton d'alerte de %s: batterie faible (%d%%). Merci de le recharger.",
           "Bouton d'alerte: batterie faible (%d%%). Merci de le recharger."),
    "en": ("%s's alert button: battery low (%d%%). Please charge it.",
           "Alert button: battery low (%d%%). Please charge it."),
}


def text(pct, wearer="", lang="fr"):
    """The warning, one SMS segment whatever the name (folded, else left out)."""
    from firmware.core.sms_pdu import fits_one_segment
    from firmware.sms.text import LIMIT_NAME, fold_name
    t = _TEXT.get(lang, _TEXT["fr"])
    pct = max(0, min(100, int(pct)))
    name = (wearer or "").strip()[:LIMIT_NAME]
    for n in (name, fold_name(name)[0].strip()):
        if n:
            s = t[0] % (n, pct)
            if fits_one_segment(s):
                return s
    return t[1] % pct
