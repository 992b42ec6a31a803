# Sound evidence on flash, sealed to the association (issue 21, docs/evidence-sealing.md): one directory
# per recording (ev/r00001/), one file per chunk of about 10 s (c0000.evs ...). The plaintext chunk is
# header + IMA-ADPCM blocks + trailer (firmware/core/evidence_chunk.py); on flash each of those is a
# ChaCha20-Poly1305 record under the recording's key, after a plaintext envelope
# (firmware/core/evidence_seal.py). The SHA-256 of each plaintext chunk is written into the next
# chunk's header, so every chunk vouches for the one before it (chunk 0 carries 32 zero bytes); the
# last chunk of a recording has the FINAL flag. A chunk being written is c000N.part; at boot, recover()
# closes what a power cut left open with an unauthenticated close marker (there is no key at boot).
# The device's signed heads are appended to heads.abh (firmware/evidence/recorder.py signs them).
#
# Flash policy: before a chunk is opened there must be room for it plus a reserve for the rest of the
# firmware; when short, expendable non-evidence files go first, then recordings already exported
# (oldest first). A recording not yet exported is never deleted to make room: recording stops
# instead (the last chunk is closed FINAL + FLASH_FULL). Listing, reading and deleting are offered to
# the technician console, which must check the PIN first.
import binascii
import hashlib
import os

try:
    from micropython import const
except ImportError:  # CPython (host tools)
    def const(x):
        return x

from firmware.core import evidence_seal as seal
from firmware.system import storage
# the chunk format lives in core (the host verifies with the same code); re-exported for the store's users
from firmware.core.evidence_chunk import (header,
    trailer,
    parse,
    audio,
    MAGIC,
    END_MAGIC,
    VERSION,
    HEADER_FMT,
    HEADER_SIZE,
    TRAILER_FMT,
    TRAILER_SIZE,
    ZERO_HASH,
    H_PREALERT,
    H_TIME,
    H_POS,
    T_FINAL,
    T_INTERRUPTED,
    T_GAP,
    T_FLASH_FULL,
    NO_AGE)  # noqa: F401

ROOT = "ev"
EXT = ".evs"  # a closed sealed chunk (".part" while it is written)
HEADS = "heads.abh"  # the recording's signed head records, 120 bytes each
READ_MAX = const(4096)  # largest piece the console hands out in one read


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def du(path):
    """Bytes in the files under path."""
    try:
        names = os.listdir(path)
    except OSError:
        return _size(path)
    total = 0
    for name in names:
        p = path + "/" + name
        if os.stat(p)[0] & 0x4000:
            total += du(p)
        else:
            total += os.stat(p)[6]
    return total


class ChunkWriter:
    """One chunk being written, sealed record by record (firmware/core/evidence_seal.py): envelope,
    header, blocks, trailer. The SHA-256 of the PLAINTEXT chunk is the chain's head, as before."""

    def __init__(self, path, head, sealing, index):
        self.path = path
        self.sealing = sealing
        self.f = open(path, "wb")
        self.sha = hashlib.sha256()
        self.blocks = 0
        self.f.write(sealing.start(index))
        self._put(0, head)

    def _put(self, record, b):
        self.sha.update(b)
        self.f.write(self.sealing.seal(record, b))

    def add(self, block):
        self.blocks += 1
        self._put(self.blocks, block)

    def flush(self):
        self.f.flush()

    def close(self, flags, lost=0, warmup=0):
        """Write the sealed trailer; returns the chunk's SHA-256 (bytes)."""
        self._put(seal.TRAILER_NUMBER, trailer(self.blocks, flags, lost, warmup))
        self.f.close()
        return self.sha.digest()


class Recording:
    """Writes the sealed chunks of one recording, chaining their hashes. sealing: a
    firmware.evidence.sealing.Sealing holding the recording's key (wiped when the recording ends)."""

    def __init__(self, store, rec, device_id, rate, sealing):
        self.store = store
        self.rec = rec
        self.device_id = device_id
        self.rate = rate
        self.sealing = sealing
        self.index = 0
        self.prev = ZERO_HASH
        self.chunk = None
        self.final = False

    def open_chunk(self, alert, flags, start_utc_ms, offset_ms, start_ticks, fix):
        if self.chunk is not None or self.final:
            raise ValueError("a chunk is already open or the recording is closed")
        head = header(self.device_id, self.rec, alert, self.index, self.rate, flags, start_utc_ms, offset_ms,
                      start_ticks, fix, self.prev)
        self.chunk = ChunkWriter(self.store.path(self.rec, "c%04d.part" % self.index), head, self.sealing,
                                 self.index)

    def add(self, block):
        self.chunk.add(block)

    def close_chunk(self, final=False, flags=0, lost=0, warmup=0):
        """warmup: the microphone's start-up blocks at the chunk's start (opened with H_MIC_WARMUP)."""
        c = self.chunk
        if final:
            flags |= T_FINAL
        self.prev = c.close(flags, lost, warmup)
        os.rename(c.path, self.store.path(self.rec, "c%04d%s" % (self.index, EXT)))
        self.chunk = None
        self.store.write_head(self.rec, self.index, self.prev, final)
        self.index += 1
        self.final = final
        if final:
            self.sealing.wipe()  # nothing on the device can decrypt this recording any more
        return self.prev

    def abandon(self):
        """The recording ends without its trailer (a write error): the key is wiped all the same;
        recover() closes the .part at the next boot."""
        self.sealing.wipe()


def _is_envelope(data):
    try:
        seal.parse_envelope(data)
        return True
    except ValueError:
        return False


class Store:
    def __init__(self, root=ROOT, capacity=None, reserve=65536, expendable=("events.log.1",), log=None):
        """capacity: size of the filesystem holding root, when statvfs cannot tell (the simulated
        board's flash); reserve: bytes always left free for the rest of the firmware."""
        self.root = root
        self.capacity = capacity
        self.reserve = reserve
        self.expendable = list(expendable)
        self.log = log or (lambda *a, **k: None)
        self.active = None  # the Recording being written, never deleted
        self.low_bytes = 0  # status() says "low" below this (the recorder sets: one full recording)
        try:
            os.mkdir(root)
        except OSError:
            pass

    # --- layout ---------------------------------------------------------------------------------
    def path(self, rec, name=None):
        d = "%s/r%05d" % (self.root, rec)
        return d if name is None else d + "/" + name

    def recordings(self):
        out = []
        for name in os.listdir(self.root):
            if name[0] == "r" and len(name) == 6:
                try:
                    out.append(int(name[1:]))
                except ValueError:
                    pass
        out.sort()
        return out

    def chunk_names(self, rec):
        names = [n for n in os.listdir(self.path(rec)) if n.endswith(EXT) and n[0] == "c"]
        names.sort()
        return names

    def begin(self, device_id, rate, rkey):
        """A new recording with a number never used before on this device, sealed with rkey (a
        firmware.evidence.sealing.RecordingKey)."""
        seq = storage.read_json(self.root + "/seq") or 0
        recs = self.recordings()
        rec = max([seq] + recs) + 1
        storage.write_json(self.root + "/seq", rec)
        os.mkdir(self.path(rec))
        from firmware.evidence.sealing import Sealing
        r = Recording(self, rec, device_id, rate, Sealing(rkey, device_id, rec))
        self.active = r
        return r

    def end(self, recording):
        if self.active is recording:
            self.active = None

    def write_head(self, rec, index, digest, final, closed_at_boot=False):
        """The last head the device knows of (hashes only: nothing of the audio or the position)."""
        h = {"index": index, "sha256": None if digest is None else binascii.hexlify(digest).decode(), "final": final}
        if closed_at_boot:
            h["closed_at_boot"] = True
        storage.write_json(self.path(rec, "head"), h)

    def append_head_record(self, rec, record):
        """Append a 120-byte signed head record to the recording's heads.abh (flushed at once)."""
        with open(self.path(rec, HEADS), "ab") as f:
            f.write(record)

    def head_records(self, rec):
        try:
            with open(self.path(rec, HEADS), "rb") as f:
                data = f.read()
        except OSError:
            return b""
        return data[:len(data) // seal.HEAD_RECORD_SIZE * seal.HEAD_RECORD_SIZE]

    def head(self, rec):
        return storage.read_json(self.path(rec, "head"))

    # --- boot ---------------------------------------------------------------------------------
    def recover(self):
        """Close what a power cut or crash left open. There is no key at boot (it was only in RAM), so
        nothing can be sealed: a .part keeps its whole records, loses a partial last one, and gets the
        16-byte UNAUTHENTICATED close marker (the verifier says "closed at boot, not authenticated").
        A recording cut between two chunks simply ends with its last closed chunk, not FINAL.
        Returns the recordings closed here."""
        fixed = []
        for rec in self.recordings():
            d = self.path(rec)
            head = self.head(rec)
            if head and (head.get("final") or head.get("closed_at_boot")):
                if not [n for n in os.listdir(d) if n.endswith(".part")]:
                    continue  # closed: nothing to read (boot stays quick with many recordings)
            for name in [n for n in os.listdir(d) if n.endswith(".part")]:
                self._close_part(rec, name)
            if not head:
                head = {"index": -1, "sha256": None}
            self.write_head(rec, head["index"], None if head.get("sha256") is None
                            else binascii.unhexlify(head["sha256"]), False, closed_at_boot=True)
            fixed.append(rec)
        if fixed:
            self.log("evidence_recovered", recordings=fixed)
        return fixed

    def _close_part(self, rec, name):
        src = self.path(rec, name)
        dst = src[:-5] + EXT
        size = _size(src)
        try:
            blocks, end = seal.layout(size)
        except ValueError:
            end = None
        if end == seal.END_TRAILER:
            with open(src, "rb") as f:  # an envelope that is not ours is left as it is for the verifier
                env_ok = _is_envelope(f.read(seal.ENVELOPE_SIZE))
            if env_ok:
                os.rename(src, dst)  # complete: only the rename was missing
                return
        keep = seal.whole_records_size(size)
        if keep == 0:
            os.remove(src)  # not even a whole header record: no audio was in it
            self.log("evidence_part_dropped", rec=rec, chunk=name, bytes=size)
            return
        blocks = (keep - seal.FIRST_BLOCK) // seal.BLOCK_RECORD
        buf = bytearray(seal.BLOCK_RECORD)
        with open(src, "rb") as f, open(dst + ".tmp", "wb") as w:
            left = keep
            while left:
                n = f.readinto(memoryview(buf)[:min(left, len(buf))])
                if not n:
                    break
                w.write(memoryview(buf)[:n])
                left -= n
            w.write(seal.close_marker(blocks, T_INTERRUPTED))
        os.rename(dst + ".tmp", dst)
        os.remove(src)

    # --- space ----------------------------------------------------------------------------------
    def free(self):
        if self.capacity is not None:
            return self.capacity - du(".")
        st = os.statvfs(self.root)
        return st[0] * st[3]

    def used(self):
        return du(self.root)

    def make_room(self, need):
        """True once `need` bytes fit above the reserve, after deleting what may be deleted."""
        if self.free() >= need + self.reserve:
            return True
        for p in self.expendable:
            if _exists(p):
                os.remove(p)
                self.log("evidence_freed", what=p)
                if self.free() >= need + self.reserve:
                    return True
        for rec in self.recordings():
            if self.is_exported(rec) and not self._is_active(rec):
                self.delete(rec)
                self.log("evidence_freed", what="recording", rec=rec)
                if self.free() >= need + self.reserve:
                    return True
        return False

    def _is_active(self, rec):
        return self.active is not None and self.active.rec == rec

    def status(self, low_bytes=None):
        recs = self.recordings()
        free = self.free()
        if low_bytes is None:
            low_bytes = self.low_bytes
        return {"recordings": len(recs), "unexported": len([r for r in recs if not self.is_exported(r)]),
                "bytes": self.used(), "free": free, "low": free - self.reserve < low_bytes,
                "recording": self.active.rec if self.active else None}

    # --- console (the console checks the technician PIN before any of these) -------------------
    def list(self):
        """What the console may show without the association's key: numbers, sizes, heads, states
        (the alert id and start time are inside the sealed headers now)."""
        out = []
        for rec in self.recordings():
            names = self.chunk_names(rec)
            head = self.head(rec) or {}
            out.append({"rec": rec, "chunks": len(names), "bytes": sum(_size(self.path(rec, n)) for n in names),
                        "final": bool(head.get("final")), "closed_at_boot": bool(head.get("closed_at_boot")),
                        "head": head.get("sha256"), "heads": len(self.head_records(rec)) // seal.HEAD_RECORD_SIZE,
                        "exported": self.is_exported(rec), "active": self._is_active(rec)})
        return out

    def chunks(self, rec):
        return [{"index": int(n[1:5]), "file": n, "size": _size(self.path(rec, n))} for n in self.chunk_names(rec)]

    def read(self, rec, index, offset, n):
        """Up to n (<= READ_MAX) bytes of closed chunk `index` (-1: the heads file) from `offset`; b""
        past its end."""
        if n < 0 or n > READ_MAX or offset < 0:
            raise ValueError("read size 0..%d" % READ_MAX)
        with open(self.path(rec, "c%04d%s" % (index, EXT) if index >= 0 else HEADS), "rb") as f:
            f.seek(offset)
            return f.read(n)

    def read_b64(self, rec, index, offset, n):
        return binascii.b2a_base64(self.read(rec, index, offset, n)).decode().strip()

    def is_exported(self, rec):
        return _exists(self.path(rec, "exported"))

    def mark_exported(self, rec, head_hex):
        """The host verified an export whose chain ends in head_hex: the recording may now make room."""
        head = self.head(rec)
        if not head or not (head.get("final") or head.get("closed_at_boot")) or head.get("sha256") != head_hex:
            return False  # a recording closed at boot: head_hex is the last head the device signed
        storage.write_json(self.path(rec, "exported"), {"sha256": head_hex})
        return True

    def delete(self, rec, force=False):
        """Delete a recording. Refused while it is recorded, and before export unless forced."""
        if self._is_active(rec):
            raise ValueError("recording %d is in progress" % rec)
        if not force and not self.is_exported(rec):
            raise ValueError("recording %d was never exported" % rec)
        d = self.path(rec)
        for name in os.listdir(d):
            os.remove(d + "/" + name)
        os.rmdir(d)
        self.log("evidence_deleted", rec=rec, forced=force)


CONSOLE_READ_MAX = const(1024)  # a console answer line (base64 + JSON) stays under 2048 bytes


def console_command(store, args):
    """The console's `AB1 evidence <args>` (the console checks the technician PIN first and turns a
    ValueError into an ERR answer). Returns the JSON object of the OK answer.
        list | status | chunks <rec> | read <rec> <index> <offset> <n> | exported <rec> <head> |
        delete <rec> [force]     (read with index -1: the recording's signed heads file)"""
    w = args.split()
    if not w:
        raise ValueError("evidence list | status | chunks REC | read REC INDEX|-1 OFFSET N | exported REC HEAD | "
                         "delete REC [force]")
    cmd = w[0]
    try:
        nums = [int(x) for x in w[1:5] if x != "force" and len(x) < 12]
    except ValueError:
        raise ValueError("numbers expected after 'evidence %s'" % cmd)
    if cmd == "list":
        return {"recordings": store.list()}
    if cmd == "status":
        return store.status(store.low_bytes)
    if not nums or nums[0] not in store.recordings():
        raise ValueError("no such recording")
    rec = nums[0]
    if cmd == "chunks":
        return {"rec": rec, "chunks": store.chunks(rec), "heads_bytes": _size(store.path(rec, HEADS))}
    if cmd == "read" and len(nums) == 4:
        if nums[3] > CONSOLE_READ_MAX:
            raise ValueError("at most %d bytes per read" % CONSOLE_READ_MAX)
        try:
            data = store.read_b64(rec, nums[1], nums[2], nums[3])
        except OSError:
            raise ValueError("no such chunk")
        return {"rec": rec, "index": nums[1], "offset": nums[2], "data": data}
    if cmd == "exported" and len(w) == 3:
        return {"rec": rec, "ok": store.mark_exported(rec, w[2])}
    if cmd == "delete":
        store.delete(rec, force=len(w) > 2 and w[2] == "force")
        return {"deleted": rec}
    raise ValueError("unknown or incomplete evidence command")
