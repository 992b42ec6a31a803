# Persisted outbox: one record per contact and alert, written atomically (tmp + rename) before the
# first AT command and after every change of state. After any reset (brownout, watchdog, power cut)
# the firmware resumes from it: every contact gets the alert; only an SMS in flight at the reset can
# be sent twice (it was not yet marked accepted). The same file carries the running alert's own
# state (`alive`: its recipients, duress tag, age and follow-up schedule, from the alert manager's
# state_fn at every write), so an alert whose SMS were all sent is resumed too until it is closed.
from firmware.system import storage

PENDING = "pending"
SENDING = "sending"  # in RAM only: persisting it would cost a flash write before every AT+CMGS
ACCEPTED = "accepted"  # the network took it (+CMGS: mr)
DELIVERED = "delivered"  # status report: delivered to the phone
FAILED = "failed"  # permanent failure (e.g. unassigned number): reported, not retried
DROPPED = "dropped"  # not sent: the alert was stopped first (its contact never got the alert)

_MAGIC = "ABOX"
_VERSION = 1


class Outbox:
    def __init__(self, path="outbox.json", log=None):
        self.path = path
        self.log = log
        self.alert_id = 0  # last alert id ever used on this device (survives resets)
        self.kind = "alert"
        self.source = None  # what triggered the alert ("button", "fall"...); None in older files
        self.closed = True
        self.recs = []
        self.recipients = None  # the alert's [{"name", "number"}] fixed at its trigger; None in older files
        self.alive = None  # the alert's state as last written (dict), None in older files
        self.state_fn = None  # () -> that state now; called at every write
        self.load()

    def load(self):
        d = storage.read_json(self.path)
        if not isinstance(d, dict) or d.get("magic") != _MAGIC or d.get("v") != _VERSION:
            if d is not None and self.log:
                self.log("outbox_invalid")
            return False
        try:
            recs = d["recs"]
            for r in recs:
                if not (isinstance(r["to"], str) and isinstance(r["pdu"], str) and isinstance(r["n"], int)):
                    raise ValueError
            self.alert_id = int(d["alert"])
            self.kind = d.get("kind", "alert")
            src = d.get("src")  # absent from files written before it was stored
            self.source = src if isinstance(src, str) else None
            self.closed = bool(d.get("closed", False))
            rc = d.get("rcpt")
            self.recipients = rc if isinstance(rc, list) and all(isinstance(c, dict) for c in rc) else None
            al = d.get("alive")
            self.alive = al if isinstance(al, dict) else None
            self.recs = recs
        except (KeyError, TypeError, ValueError):
            if self.log:
                self.log("outbox_invalid")
            return False
        return True

    def save(self):
        storage.write_json(self.path, {"magic": _MAGIC, "v": _VERSION, "alert": self.alert_id,
                                       "kind": self.kind, "src": self.source, "closed": self.closed,
                                       "rcpt": self.recipients, "recs": self.recs,
                                       "alive": self.state_fn() if self.state_fn is not None else self.alive})

    def open(self, alert_id, kind, items, source=None, recipients=None):
        """Start an alert: items are (contact_index, number, pdu_hex, tpdu_len); recipients the alert's
        contacts as fixed at its trigger. Persisted at once."""
        self.alert_id = alert_id
        self.kind = kind
        self.source = source
        self.recipients = recipients
        self.closed = False
        self.recs = [{"c": c, "to": to, "pdu": pdu, "n": n, "st": PENDING, "mr": -1, "att": 0, "err": 0}
                     for c, to, pdu, n in items]
        self.save()

    def append(self, c, to, pdu, n, why):
        """A follow-up SMS for contact c during the alert (position update, reply). Persisted."""
        self.recs.append({"c": c, "to": to, "pdu": pdu, "n": n, "st": PENDING, "mr": -1, "att": 0, "err": 0,
                          "why": why})
        self.save()
        return len(self.recs) - 1

    def close(self):
        self.closed = True
        self.save()

    def unfinished(self):
        """True if an alert was interrupted before every contact was reached or failed for good."""
        return not self.closed and any(r["st"] == PENDING for r in self.recs)

    def interrupted(self):
        """True if an alert was running (dispatching or active) when the board was reset."""
        return not self.closed and (self.alive is not None or self.unfinished())

    def pending(self):
        return [i for i, r in enumerate(self.recs) if r["st"] in (PENDING, SENDING)]

    def set(self, i, persist=True, **fields):
        r = self.recs[i]
        for k in fields:
            r[k] = fields[k]
        if persist:
            self.save()

    def find_mr(self, mr, number=None):
        """The accepted record with this message reference (and number, when the report gives it)."""
        for i, r in enumerate(self.recs):
            if r["mr"] == mr and r["st"] in (ACCEPTED, DELIVERED):
                if number is None or _same_number(number, r["to"]):
                    return i
        return -1

    def counts(self):
        c = {}
        for r in self.recs:
            c[r["st"]] = c.get(r["st"], 0) + 1
        return c


def _same_number(a, b):
    # status reports may give the recipient in national form: compare the last 9 digits
    return a[-9:] == b[-9:]
