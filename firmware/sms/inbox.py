# Two-way SMS: what a received message asks for. Pure (no I/O, no clock reads): the caller passes the
# decoded message, `now` (firmware.core.uptime ms: never ticks, a lockout or a message ring read days
# later must not wrap back) and whether an alert is running, and acts on the answer:
#   (ACK, contact, None)       stop that contact's follow-ups, "acknowledged" vibration
#   (POSITION, contact, None)  reply to that contact with the current position
#   (STOP, contact, None)      end the active alert
#   (IGNORE, contact or -1, reason)   nothing is sent back, ever (a reply would confirm the number)
# contact is the index in cfg["contacts"] (the alert's and the follow-ups' numbering).
#
# Rules (docs/two-way-sms.md says why):
#  - only the configured contacts are heard: the sender and the contacts' numbers are normalised to
#    E.164 (firmware.core.phone) and compared; anyone else is logged with a masked number and never
#    with the message;
#  - commands, after folding case, accents and punctuation ("ok", "Reçu.", "OÙ 1234"):
#      OK | RECU | BIEN RECU | RECEIVED | ACK       acknowledge (PIN only if sms_ack_pin)
#      POSITION <PIN> | OU <PIN> | WHERE <PIN>     position (during an alert, or always with
#                                                  sms_position_idle)
#      STOP <PIN>                                  end the alert
#    The PIN is the contacts' PIN (cfg["contacts_pin"], stored like the technician PIN by
#    firmware.settings.pin_lock). No PIN configured: PIN commands are refused (fail closed);
#  - every message from a contact counts against its rate limit (sms_cmd_max per sms_cmd_window_s),
#    wrong PINs included, so a spoofed number cannot guess the PIN quickly; sms_pin_fails_max wrong
#    PINs in a row (any sender) suspend PIN commands for sms_pin_lock_s;
#  - a message older than sms_max_age_s (SC timestamp against the clock, when both are known) is stale:
#    an old "STOP" read from the SIM after a reboot must not end a new alert.
from micropython import const

from firmware.core import phone
from firmware.settings import pin_lock

ACK = "ack"
POSITION = "position"
STOP = "stop"
IGNORE = "ignore"

DEFAULTS = {
    "sms_cmd_max": 3,  # messages per contact...
    "sms_cmd_window_s": 600,  # ...within this window
    "sms_pin_fails_max": 10,  # wrong PINs in a row, any sender...
    "sms_pin_lock_s": 3600,  # ...suspend PIN commands this long
    "sms_max_age_s": 1800,  # older commands are stale
    "sms_position_idle": False,  # POSITION outside an alert (the device is not a tracker by default)
    "sms_ack_pin": False,  # require the PIN for OK/RECU too
}

_MAX_CONTACTS = const(5)
_MAX_RATE = const(20)

_ACK_WORDS = ("OK", "RECU", "RECEIVED", "ACK")
_POS_WORDS = ("POSITION", "OU", "WHERE")
_STOP_WORDS = ("STOP",)

# accents folded to their base letter (upper() then makes them ASCII capitals)
_FOLD_SRC = "àâäáãåÀÂÄÁÃÅçÇéèêëÉÈÊËîïíìÎÏÍÌôöóòõÔÖÓÒÕùûüúÙÛÜÚÿŸñÑ"
_FOLD_DST = "aaaaaaAAAAAAcCeeeeEEEEiiiiIIIIoooooOOOOOuuuuUUUUyYnN"
_SPACE = " \t\r\n\u00a0.,;:!?'\"()[]-_/*#+=\u2019\u2018\u201c\u201d\u2026"


def words(text):
    """Upper-case ASCII words of text: accents folded, punctuation and spacing as separators."""
    out = []
    cur = []
    for ch in text:
        if _SPACE.find(ch) >= 0:
            if cur:
                out.append("".join(cur).upper())
                cur = []
            continue
        k = _FOLD_SRC.find(ch)
        cur.append(_FOLD_DST[k] if k >= 0 else ch)
    if cur:
        out.append("".join(cur).upper())
    return out


def _split_glued(w):
    """'POSITION1234' -> ('POSITION', '1234'); other words -> (w, None)."""
    i = len(w)
    while i > 0 and "0" <= w[i - 1] <= "9":
        i -= 1
    if 0 < i < len(w):
        return w[:i], w[i:]
    return w, None


def parse(text):
    """(command, pin or None) for ACK/POSITION/STOP, or (None, None)."""
    ws = words(text)
    if not ws:
        return None, None
    head, glued = _split_glued(ws[0])
    arg = glued if glued is not None else (ws[1] if len(ws) > 1 else None)
    if head == "BIEN" and len(ws) > 1 and ws[1] == "RECU":
        return ACK, ws[2] if len(ws) > 2 else None
    if head in _ACK_WORDS:
        return ACK, arg
    if head in _POS_WORDS:
        return POSITION, arg
    if head in _STOP_WORDS:
        return STOP, arg
    return None, None


def mask(number):
    """A number as it may appear in the log: kind and last two digits only."""
    s = number or ""
    if len(s) <= 4:
        return "*" * len(s)
    return s[:3] + "*" * (len(s) - 5) + s[-2:]


def sender_e164(sender):
    """E.164 form of a sender address, or None (alphanumeric, short code, unknown format)."""
    try:
        return phone.normalize(sender)
    except ValueError:
        return None


class Inbox:
    def __init__(self, cfg, log=None):
        self.cfg = cfg
        self.log = log or (lambda *a, **k: None)
        n = self._n("sms_cmd_max")
        if n < 1 or n > _MAX_RATE:
            n = DEFAULTS["sms_cmd_max"]
        self._rate_n = n
        self._times = [[0] * n for _ in range(_MAX_CONTACTS)]  # ring of recent message times (uptime ms)
        self._count = [0] * _MAX_CONTACTS
        self._limited = [False] * _MAX_CONTACTS  # rate_limited already logged in this burst
        self._fails = 0
        self._locked_until = None

    def _n(self, key):
        v = self.cfg.get(key, DEFAULTS[key])
        return v if isinstance(v, int) and not isinstance(v, bool) else DEFAULTS[key]

    def _flag(self, key):
        return self.cfg.get(key, DEFAULTS[key]) is True

    # --- public ------------------------------------------------------------------------------------
    def contact_of(self, sender):
        """Index in cfg["contacts"] of the contact whose number is the sender's, or -1."""
        e = sender_e164(sender)
        if e is None:
            return -1
        for i, c in enumerate(self.cfg.get("contacts") or ()):
            try:
                if i < _MAX_CONTACTS and phone.normalize(c["number"]) == e:
                    return i
            except (ValueError, KeyError, TypeError):
                continue
        return -1

    def handle(self, sender, text, now, alert_active, sent_utc=None, now_utc=None):
        c = self.contact_of(sender)
        if c < 0:
            self.log("sms_unknown_sender", sender=mask(sender), chars=len(text or ""))
            return (IGNORE, -1, "unknown_sender")
        if sent_utc is not None and now_utc is not None and now_utc - sent_utc > self._n("sms_max_age_s"):
            return self._ignore(c, "stale", age_s=int(now_utc - sent_utc))
        if not self._rate_ok(c, now):
            if self._limited[c]:
                return (IGNORE, c, "rate_limited")
            self._limited[c] = True
            return self._ignore(c, "rate_limited")
        self._limited[c] = False
        cmd, pin = parse(text or "")
        if cmd is None:
            return self._ignore(c, "not_a_command", chars=len(text or ""))
        if cmd != ACK or self._flag("sms_ack_pin"):
            why = self._pin(pin, now)
            if why is not None:
                return self._ignore(c, why, cmd=cmd)
        if not alert_active and (cmd != POSITION or not self._flag("sms_position_idle")):
            return self._ignore(c, "no_alert", cmd=cmd)
        self.log("sms_command", contact=c, cmd=cmd)
        return (cmd, c, None)

    # --- internals ---------------------------------------------------------------------------------
    def _ignore(self, c, why, **kw):
        self.log("sms_ignored", contact=c, why=why, **kw)
        return (IGNORE, c, why)

    def _rate_ok(self, c, now):
        ring = self._times[c]
        n = self._rate_n
        k = self._count[c]
        window = self._n("sms_cmd_window_s") * 1000
        if k >= n and now - ring[k % n] < window:  # the n-th last message is too recent
            return False
        ring[k % n] = now
        self._count[c] = k + 1
        return True

    def _pin(self, pin, now):
        stored = self.cfg.get("contacts_pin")
        if not stored:
            return "pin_not_set"
        if self._locked_until is not None:
            if self._locked_until - now > 0:
                return "pin_locked"
            self._locked_until = None
            self._fails = 0
        if pin is not None and pin_lock.matches(stored, pin):
            self._fails = 0
            return None
        self._fails += 1
        if self._fails >= self._n("sms_pin_fails_max"):
            self._locked_until = now + self._n("sms_pin_lock_s") * 1000
            self.log("sms_pin_locked", fails=self._fails, lock_s=self._n("sms_pin_lock_s"))
        return "bad_pin"


_STOPPED = {
    "fr": "FIN D'ALERTE: alerte terminée par %s.",
    "en": "ALERT ENDED: stopped by %s.",
}


def stop_text(contact_name, lang="fr"):
    """Text telling the other contacts who ended the alert (contact names are at most 24 characters,
    so it always fits one segment)."""
    return _STOPPED.get(lang, _STOPPED["fr"]) % (contact_name or "?")
