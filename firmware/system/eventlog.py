# Event log: every state transition and notable fact, timestamped in ms since boot. Kept in a small
# RAM ring (for the console's `log tail`) and handed to the board's sinks (flash file, simulator).
import json

from firmware.core import uptime  # ms since boot that never wrap: ticks_diff would go negative after 6.2 days


def _clean(v):
    if isinstance(v, (bytes, bytearray)):
        try:
            return bytes(v).decode()
        except UnicodeError:
            return repr(v)
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
