# Store-and-forward queue on flash for the platform link (issue 9): events wait here while the
# platform is out of reach and are removed only once the platform acknowledged them.
#
# One small file per event in DIR, named <seq, 10 digits><kind>, kind "a" (alert events) or "h"
# (other data: heartbeats). A file is written under a temporary name and renamed: LittleFS renames
# atomically, so after a power cut an event is either whole or absent, never torn. An ack removes
# the file (a cut during the removal at worst sends the event twice; events carry their sequence
# number so the platform drops duplicates).
#
# Bounded by a count and a byte budget. When full, the oldest non-alert event is dropped first,
# then the oldest alert event (a newer alert event carries the newer state). Drops are counted and
# the count survives reboots: the heartbeat reports it.
#
# Sequence numbers never repeat, even across reboots with an empty queue: the meta file reserves
# them in blocks (written before the first number of a block is used).
import os

from firmware.system import storage

ALERT = "a"
OTHER = "h"
_RESERVE = 64  # sequence numbers reserved per meta write
_TMP = "put.tmp"
_META = "meta"


class PlatformQueue:
    def __init__(self, path="pq", max_items=48, max_bytes=32768, log=None):
        if max_items < 2 or max_bytes < 256:
            raise ValueError("queue too small")
        self.path = path
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.log = log
        self.index = []  # [seq, kind, size], oldest first
        self.bytes = 0
        self.dropped = 0
        self._next = 1
        self._reserved = 0
        self._open()

    # --- public -----------------------------------------------------------------------------------
    def __len__(self):
        return len(self.index)

    def put(self, data, alert=False):
        """Persist one event (str or bytes); returns its sequence number. Makes room first if the
        queue is full. OSError if the flash cannot take it (the caller logs; SMS are unaffected)."""
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        if n > self.max_bytes // 2:
            raise ValueError("event too large")
        kind = ALERT if alert else OTHER
        while self.index and (len(self.index) >= self.max_items or self.bytes + n > self.max_bytes):
            self._drop_one()
        seq = self._take_seq()
        tmp = self._p(_TMP)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, self._p(_name(seq, kind)))
        self.index.append([seq, kind, n])
        self.bytes += n
        return seq

    def next(self):
        """(seq, kind, data) of the event to send next: the oldest alert event, else the oldest other
        one; None if empty. An unreadable file is dropped (and counted), never retried forever."""
        while self.index:
            e = self._first(ALERT) or self.index[0]
            try:
                with open(self._p(_name(e[0], e[1])), "rb") as f:
                    return e[0], e[1], f.read()
            except OSError as err:
                self._count_drop("unreadable", e, err)
                self._forget(e)
        return None

    def ack(self, seq):
        """The platform has the event: remove it. Unknown sequence numbers are ignored."""
        for e in self.index:
            if e[0] == seq:
                try:
                    os.remove(self._p(_name(seq, e[1])))
                except OSError:
                    pass  # already gone (a cut after the removal, before the index knew)
                self._forget(e)
                return True
        return False

    def counts(self):
        a = 0
        for e in self.index:
            if e[1] == ALERT:
                a += 1
        return {"pending": len(self.index), "alerts": a, "bytes": self.bytes, "dropped": self.dropped}

    # --- internals --------------------------------------------------------------------------------
    def _p(self, name):
        return self.path + "/" + name

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
            seq, kind = _parse(name)
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
            self.index.append([seq, kind, size])
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

    def _first(self, kind):
        for e in self.index:
            if e[1] == kind:
                return e
        return None

    def _forget(self, e):
        self.index.remove(e)
        self.bytes -= e[2]

    def _drop_one(self):
        e = self._first(OTHER) or self.index[0]
        self._count_drop("full", e)
        try:
            os.remove(self._p(_name(e[0], e[1])))
        except OSError:
            pass
        self._forget(e)

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


def _name(seq, kind):
    return "%010d%s" % (seq, kind)


def _parse(name):
    if len(name) != 11 or name[10] not in (ALERT, OTHER) or not name[:10].isdigit():
        return None, None
    return int(name[:10]), name[10]


def _int(v, default):
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else default
