# Two-way SMS: what a received message asks for. Pure but for the PIN record (no I/O of its own, no
# clock reads): the caller passes the decoded message, `now` (firmware.core.uptime ms: never ticks, a
# lockout read days later must not wrap back) and whether an alert is running, and acts on the answer:
#   (ACK, contact, None)       acknowledgement without the PIN (spoofable): see FollowupPolicy.ack
#   (ACK_PIN, contact, None)   acknowledgement with the right PIN
#   (POSITION, contact, None)  reply to that contact with the current position
#   (STOP, contact, None)      end the active alert
#   (IGNORE, contact or -1, reason)   nothing is sent back, ever (a reply would confirm the number)
# contact is the index in the alert's contacts (the alert's and the follow-ups' numbering).
#
# Rules (docs/two-way-sms.md says why):
#  - only the contacts are heard (firmware/sms/senders.py: national and international forms of their
#    numbers, never an alphanumeric sender); anyone else is logged with a masked number, never with
#    the message;
#  - commands, after folding case, accents and punctuation ("ok", "Reçu.", "OÙ 1234"):
#      OK | RECU | BIEN RECU | RECEIVED | ACK [PIN]  acknowledge (PIN only if sms_ack_pin)
#      POSITION <PIN> | OU <PIN> | WHERE <PIN>     position (during an alert, or always with
#                                                  sms_position_idle)
#      STOP <PIN>                                  end the alert
#    A command word followed by a word that is not digits is conversation ("Où es-tu ?", "Stop ça"),
#    not a command; a command word alone is a command without its PIN (refused, not a wrong PIN).
#    The PIN is the contacts' PIN (cfg["contacts_pin"], stored like the technician PIN by
#    firmware.settings.pin_lock). No PIN configured: PIN commands are refused (fail closed);
#  - wrong PINs are counted per contact (firmware/sms/pin_guard.py, persisted): a spoofed number can
#    lock out only the contact it spoofs;
#  - no rate limit counts junk: only position replies actually sent count (sms_cmd_max per
#    sms_cmd_window_s per contact, what a PIN holder can make the device spend), never a STOP;
#  - a message older than sms_max_age_s (SC timestamp against the clock, when both are known) is stale:
#    an old "STOP" read from the SIM after a reboot must not end a new alert.
from micropython import const

from firmware.settings import pin_lock
from firmware.sms import senders
from firmware.sms.pin_guard import PinGuard

ACK = "ack"
ACK_PIN = "ack_pin"
POSITION = "position"
STOP = "stop"
IGNORE = "ignore"

DEFAULTS = {
    "sms_cmd_max": 3,  # position replies per contact...
    "sms_cmd_window_s": 600,  # ...within this window
    "sms_pin_fails_max": 5,  # wrong PINs in a row from one contact's number...
    "sms_pin_lock_s": 3600,  # ...lock that contact's PIN commands this long (doubling, 24 h at most)
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
    """(command, pin or None) for ACK/POSITION/STOP, or (None, None). The PIN is the digits right after
    the command word; a PIN command followed by anything else ("Où es-tu ?") is no command. An
    acknowledgement followed by other words ("OK j'arrive", "OK 5 min") is one, without a PIN."""
    ws = words(text)
    if not ws:
        return None, None
    head, glued = _split_glued(ws[0])
    arg = glued if glued is not None else (ws[1] if len(ws) > 1 else None)
    if head == "BIEN" and len(ws) > 1 and ws[1] == "RECU":
        head, arg = "RECU", ws[2] if len(ws) > 2 else None
    if head in _ACK_WORDS:
        return ACK, arg if senders.is_digits(arg) and len(arg) >= pin_lock.PIN_MIN else None
    cmd = POSITION if head in _POS_WORDS else STOP if head in _STOP_WORDS else None
    if cmd is None or (arg is not None and not senders.is_digits(arg)):
        return None, None
    return cmd, arg


def mask(number):
    """A number as it may appear in the log: kind and last two digits only."""
    s = number or ""
    if len(s) <= 4:
        return "*" * len(s)
    return s[:3] + "*" * (len(s) - 5) + s[-2:]


class Inbox:
    def __init__(self, cfg, log=None, now=0, pin_path=None):
        """now: uptime ms at creation (a persisted lock resumes from it); pin_path: where the wrong-PIN
        counts live (None: RAM only, for tests and host tools)."""
        self.cfg = cfg
        self.log = log or (lambda *a, **k: None)
        n = self._n("sms_cmd_max")
        if n < 1 or n > _MAX_RATE:
            n = DEFAULTS["sms_cmd_max"]
        self._rate_n = n
        self._times = [[0] * n for _ in range(_MAX_CONTACTS)]  # ring of recent reply times (uptime ms)
        self._count = [0] * _MAX_CONTACTS
        fails = self._n("sms_pin_fails_max")
        self.guard = PinGuard(fails if fails >= 1 else DEFAULTS["sms_pin_fails_max"],
                              max(1, self._n("sms_pin_lock_s")), now, path=pin_path, log=self.log)
        self.contacts = None  # the alert's recipients when one runs (fixed at its trigger), else cfg's

    def _n(self, key):
        v = self.cfg.get(key, DEFAULTS[key])
        return v if isinstance(v, int) and not isinstance(v, bool) else DEFAULTS[key]

    def _flag(self, key):
        return self.cfg.get(key, DEFAULTS[key]) is True

    # --- public ------------------------------------------------------------------------------------
    def contact_of(self, sender, ton=None):
        """Index in the contacts of the one whose number is the sender's, or -1."""
        return senders.contact_of(self.contacts if self.contacts is not None else self.cfg.get("contacts"),
                                  sender, ton, _MAX_CONTACTS)[0]

    def handle(self, sender, text, now, alert_active, sent_utc=None, now_utc=None, ton=None):
        contacts = self.contacts if self.contacts is not None else self.cfg.get("contacts")
        c, who = senders.contact_of(contacts, sender, ton, _MAX_CONTACTS)
        if c < 0:
            self.log("sms_unknown_sender", sender=mask(sender), chars=len(text or ""), why=who)
            return (IGNORE, -1, "unknown_sender")
        if sent_utc is not None and now_utc is not None and now_utc - sent_utc > self._n("sms_max_age_s"):
            return self._ignore(c, "stale", age_s=int(now_utc - sent_utc))
        cmd, pin = parse(text or "")
        if cmd is None:
            return self._ignore(c, "not_a_command", chars=len(text or ""))
        if cmd == ACK and pin is None and not self._flag("sms_ack_pin"):
            pass  # an acknowledgement without a PIN: allowed, and weighed as such by the follow-ups
        else:
            why = self._pin(c, pin, now)
            if why is not None:
                if cmd == ACK and not self._flag("sms_ack_pin"):
                    why = None  # "OK 1234" with a wrong PIN counts as a guess, and is a plain ack
                else:
                    return self._ignore(c, why, cmd=cmd)
            elif cmd == ACK:
                cmd = ACK_PIN
        if not alert_active and (cmd != POSITION or not self._flag("sms_position_idle")):
            return self._ignore(c, "no_alert", cmd=cmd)
        if cmd == POSITION and not self._rate_ok(c, now):
            return self._ignore(c, "rate_limited", cmd=cmd)
        self.log("sms_command", contact=c, cmd=cmd)
        return (cmd, c, None)

    def tick(self, now):
        """About once a minute: the PIN locks' remaining times to flash."""
        self.guard.tick(now)

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

    def _pin(self, c, pin, now):
        """None if pin is the contacts' PIN, else why not. Only a PIN given counts as a guess."""
        stored = self.cfg.get("contacts_pin")
        if not stored:
            return "pin_not_set"
        if self.guard.remaining_ms(c, now):
            return "pin_locked"
        if pin is None:
            return "pin_missing"
        if pin_lock.matches(stored, pin):
            self.guard.right(c, now)
            return None
        self.guard.wrong(c, now)
        return "bad_pin"


_STOPPED = {
    "fr": "FIN D'ALERTE: alerte terminée par %s.",
    "en": "ALERT ENDED: stopped by %s.",
}


def stop_text(contact_name, lang="fr"):
    """Text telling the other contacts who ended the alert (contact names are at most 24 characters,
    so it always fits one segment)."""
    return _STOPPED.get(lang, _STOPPED["fr"]) % (contact_name or "?")
