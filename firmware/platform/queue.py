# Store-and-forward queue on flash for the platform link (issues 9, 25): events wait here while the
# platform is out of reach and are removed only once the platform acknowledged them.
#
# One small file per event in DIR, named <seq, 10 digits><kind><group>: kind "t" (an alert's
# `triggered`), "a" (its later states: sms, delivered, dispatched, ended), "e" (an evidence chain
# head), "h" (heartbeat); group is the alert id (t, a) or the recording (e). A file is written under
# a temporary name and renamed: LittleFS renames atomically, so after a power cut an event is either
# whole or absent, never torn. An ack removes the file (a cut during the removal at worst sends the
# event twice; events carry their sequence number so the platform drops duplicates).
#
# Alert events (t, a, e) are sent before heartbeats, oldest first.
#
# What a full queue drops (issue 25), counted on flash before the file goes (the heartbeat reports
# the count; it survives reboots):
#   - a heartbeat never waits behind another: a new one replaces the queued one (the newest state of
#     the device is what the platform needs; this is not counted as a loss);
#   - over the bounds (queue_items, queue_bytes), superseded states go first, oldest first: an
#     alert's states older than its latest (its `triggered` excepted), an evidence head older than
#     the newest of its recording (the newest vouches for every earlier chunk);
#   - an alert's `triggered`, its latest state, the newest head of a recording and the heartbeat are
#     kept even beyond the bounds, up to twice them; only past that (dozens of alerts queued with
#     no network) does the oldest event go, whatever it is.
#
# Sequence numbers never repeat, even across reboots with an empty queue: the meta file reserves
# them in blocks (written before the first number of a block is used).
import os

from firmware.system import storage

ALERT = "a"  # an alert's state after `triggered` (kept for callers that say alert=True)
TRIGGERED = "t"
EVIDENCE = "e"
OTHER = "h"  # heartbeat
ALERT_KINDS = "tae"  # sent first, topic alerts/<device>
_RESERVE = 64  # sequence numbers reserved per meta write
_TMP = "put.tmp"
_META = "meta"
_HARD = 2  # protected events may take the queue to this many times its bounds


class PlatformQueue:
    def __init__(self, path="pq", max_items=48, max_bytes=32768, log=None):
        if max_items < 2 or max_bytes < 256:
            raise ValueError("queue too small")
        self.path = path
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.log = log
        self.index = []  # [seq, kind, size, group], oldest first
        self.bytes = 0
        self.dropped = 0
        self._next = 1
        self._reserved = 0
        self._open()

    # --- public -----------------------------------------------------------------------------------
    def __len__(self):
        return len(self.index)

    def put(self, data, alert=False, kind=None, group=0):
        """Persist one event (str or bytes); returns its sequence number. kind: t, a, e or h (else
        `alert` picks a or h); group: its alert id or recording. Then trims the queue to its bounds
        by the policy above. OSError if the flash cannot take it (the caller logs; SMS are
        unaffected)."""
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        if n > self.max_bytes // 2:
            raise ValueError("event too large")
        if kind is None:
            kind = ALERT if alert else OTHER
        if kind not in ALERT_KINDS and kind != OTHER:
            raise ValueError("kind: one of t a e h")
        group = group if isinstance(group, int) and 0 <= group < 10 ** 9 else 0
        seq = self._take_seq()
        tmp = self._p(_TMP)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, self._p(_name(seq, kind, group)))
        e = [seq, kind, n, group]
        self.index.append(e)
        self.bytes += n
        if kind == OTHER:  # the newest heartbeat replaces the queued ones
            for old in [x for x in self.index if x[1] == OTHER and x is not e]:
                self._remove(old)
        self._trim()
        return seq

    def next(self):
        """(seq, kind, data) of the event to send next: the oldest alert event, else the heartbeat;
        None if empty. An unreadable file is dropped (and counted), never retried forever."""
        while self.index:
            e = self._first_alert() or self.index[0]
            try:
                with open(self._file(e), "rb") as f:
                    return e[0], e[1], f.read()
            except OSError as err:
                self._count_drop("unreadable", e, err)
                self._forget(e)
        return None

    def ack(self, seq):
        """The platform has the event: remove it. Unknown sequence numbers are ignored."""
        for e in self.index:
            if e[0] == seq:
                self._remove(e)
                return True
        return False

    def counts(self):
        a = 0
        for e in self.index:
            if e[1] in ALERT_KINDS:
                a += 1
        return {"pending": len(self.index), "alerts": a, "bytes": self.bytes, "dropped": self.dropped}

    def count_drop(self, why, seq=None, kind=None):
        """Count an event lost before it reached the queue (the link's RAM buffer full)."""
        self._count_drop(why, [seq, kind, 0, None])

    # --- internals --------------------------------------------------------------------------------
    def _p(self, name):
        return self.path + "/" + name

    def _file(self, e):
        return self._p(_name(e[0], e[1], e[3]))

    def _open(self):
        try:
            os.mkdir(self.path)
        except OSError:
            pass  # exists
        meta = storage.read_json(self._p(_META)) or {}
        self._reserved = _int(meta.get("next"), 1)
        self.dropped = _int(meta.get("dropped"), 0)
        top = 0
        for name in os.listdir(self.path):
            if name == _META:
                continue
            seq, kind, group = _parse(name)
            if seq is None:  # a temporary file left by a power cut: that put never happened
                try:
                    os.remove(self._p(name))
                except OSError:
                    pass
                continue
            try:
                size = os.stat(self._p(name))[6]
            except OSError:
                continue
            self.index.append([seq, kind, size, group])
            self.bytes += size
            if seq > top:
                top = seq
        self.index.sort(key=lambda e: e[0])
        # numbers below the reservation may have been used before the reboot: start above both
        self._next = max(top + 1, self._reserved)

    def _take_seq(self):
        seq = self._next
        if seq >= self._reserved:
            self._reserved = seq + _RESERVE
            self._write_meta()  # before the number is used: a reboot never hands it out again
        self._next = seq + 1
        return seq

    def _write_meta(self):
        storage.write_json(self._p(_META), {"next": self._reserved, "dropped": self.dropped})

    def _first_alert(self):
        for e in self.index:
            if e[1] in ALERT_KINDS:
                return e
        return None

    def _forget(self, e):
        self.index.remove(e)
        self.bytes -= e[2]

    def _remove(self, e):
        try:
            os.remove(self._file(e))
        except OSError:
            pass  # already gone (a cut after the removal, before the index knew)
        self._forget(e)

    def _over(self, factor):
        return len(self.index) > self.max_items * factor or self.bytes > self.max_bytes * factor

    def _superseded(self):
        """The oldest event a newer one of the same alert (or recording) makes redundant, or None."""
        newest = {}
        for e in self.index:
            if e[1] == ALERT or e[1] == EVIDENCE:
                newest[(e[1], e[3])] = e[0]
        for e in self.index:
            if (e[1] == ALERT or e[1] == EVIDENCE) and newest[(e[1], e[3])] != e[0]:
                return e
        return None

    def _trim(self):
        while self._over(1):
            e = self._superseded()
            if e is None:
                if not self._over(_HARD):
                    return  # only protected events: kept, up to twice the bounds
                e = self.index[0]  # the last resort: the oldest event, whatever it is
            self._count_drop("full", e)
            self._remove(e)

    def _count_drop(self, why, e, err=None):
        # counted on flash before the event goes: a power cut never hides a drop
        self.dropped += 1
        if self.log is not None:
            self.log("platform_queue_drop", why=why, seq=e[0], kind=e[1], dropped=self.dropped,
                     err=repr(err) if err else None)
        try:
            self._write_meta()
        except OSError:
            pass


def _name(seq, kind, group=0):
    if group is None:  # a file queued before issue 25
        return "%010d%s" % (seq, kind)
    return "%010d%s%d" % (seq, kind, group)


def _parse(name):
    """(seq, kind, group) of an event file, (None, None, None) for anything else. The names of the
    queue before issue 25 (no group) still parse: their events are sent as before."""
    if len(name) < 11 or name[10] not in "taeh" or not name[:10].isdigit():
        return None, None, None
    rest = name[11:]
    if rest and not rest.isdigit():
        return None, None, None
    return int(name[:10]), name[10], int(rest) if rest else None


def _int(v, default):
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else default
