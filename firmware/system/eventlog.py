# Event log: every state transition and notable fact, timestamped in ms since boot. Kept in a small
# RAM ring (for the console's `log tail`) and handed to the board's sinks (flash file, simulator).
# No full phone number ever goes into it (issue 19): every text field is masked here, whatever the
# event ('+33 6 •• •• •• 78', firmware.core.phone.mask_in), and a contact's index comes with its slot
# (1-5, as the console and the CLI say it). Full numbers stay where the product needs them: the
# configuration record and the outbox entry being sent.
import json

from firmware.core import phone
from firmware.core import uptime  # ms since boot that never wrap: ticks_diff would go negative after 6.2 days


def _clean(v):
    if isinstance(v, (bytes, bytearray)):
        try:
            v = bytes(v).decode()
        except UnicodeError:
            return repr(v)
    if isinstance(v, str):
        return phone.mask_in(v)
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {k: _clean(v[k]) for k in v}
    return v


class EventLog:
    def __init__(self, sinks=(), keep=64):
        self.sinks = list(sinks)
        self.keep = keep
        self.ring = []

    def __call__(self, event, **fields):
        rec = {"ms": uptime.ms(), "event": event}
        for k in fields:
            rec[k] = _clean(fields[k])
        c = fields.get("contact")
        if isinstance(c, int) and 0 <= c < 5 and "slot" not in fields:
            rec["slot"] = c + 1  # "contact" is the 0-based index the code uses
        try:
            line = json.dumps(rec)
        except (TypeError, ValueError):
            line = json.dumps({"ms": rec["ms"], "event": event, "fields": repr(fields)})
        self.ring.append(line)
        if len(self.ring) > self.keep:
            self.ring.pop(0)
        for sink in self.sinks:
            try:
                sink(line)
            except Exception:  # a failing sink (full flash) must never stop the alert path
                pass
        return rec

    def tail(self, n):
        return self.ring[-n:]


class FlashSink:
    """Event log lines to a flash file, written in batches: the persisted outbox, not the log, is
    what must reach flash first when an alert starts, and batching spares flash wear."""

    def __init__(self, path="events.log", max_bytes=65536, keep=64):
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.buf = []
        self.dropped = 0

    def __call__(self, line):
        self.buf.append(line)
        if len(self.buf) > self.keep:
            self.buf.pop(0)
            self.dropped += 1

    def flush(self):
        from firmware.system import storage
        if not self.buf:
            return
        lines, self.buf = self.buf, []
        storage.append_lines(self.path, lines, self.max_bytes)
