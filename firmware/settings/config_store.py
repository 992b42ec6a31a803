# Durable small records on the device filesystem (LittleFS): the configuration and the PIN lockout.
#
# Record layout (little endian):
#   0  4  magic (which record this is)
#   4  1  schema version of the payload
#   5  3  reserved, zero
#   8  4  sequence number (+1 per write: tells the newer of two copies)
#   12 4  payload length N
#   16 N  payload (UTF-8 JSON)
#   16+N 4  CRC-32 of bytes 0..16+N
#
# A write never touches the current copy: the whole record goes to PATH.tmp in ONE write call (no
# flush in the middle), is read back and checked, then the current copy becomes PATH.bak (the last
# good copy) and PATH.tmp is renamed to PATH. LittleFS renames are atomic, so a power cut at any
# point leaves a valid PATH or, between the two renames, a valid PATH.bak. Reads take PATH, else
# PATH.bak, and report every problem met: a damaged record is never mistaken for an empty one.
import json
import os
import struct

from firmware.system import storage

try:
    from binascii import crc32
except ImportError:  # ports built without binascii.crc32
    crc32 = None

_HEAD = "<4sB3xII"
_HEAD_LEN = 16
MAX_PAYLOAD = 16384


def _crc32_soft(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def crc(data):
    return (crc32(data) if crc32 is not None else _crc32_soft(data)) & 0xFFFFFFFF


class RecordError(ValueError):
    pass


def pack(magic, schema, seq, obj):
    payload = json.dumps(obj).encode()
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("record too large")
    body = struct.pack(_HEAD, magic, schema, seq & 0xFFFFFFFF, len(payload)) + payload
    return body + struct.pack("<I", crc(body))


def unpack(data, magic):
    """(schema, seq, obj) of a record, or RecordError saying what is wrong with it."""
    if len(data) < _HEAD_LEN + 4:
        raise RecordError("truncated (%d bytes)" % len(data))
    m, schema, seq, n = struct.unpack(_HEAD, data[:_HEAD_LEN])
    if m != magic:
        raise RecordError("bad magic")
    if n > MAX_PAYLOAD or len(data) != _HEAD_LEN + n + 4:
        raise RecordError("length mismatch")
    if struct.unpack("<I", data[_HEAD_LEN + n:])[0] != crc(data[:_HEAD_LEN + n]):
        raise RecordError("CRC mismatch")
    try:
        obj = json.loads(bytes(data[_HEAD_LEN:_HEAD_LEN + n]).decode())
    except (ValueError, UnicodeError):
        raise RecordError("payload is not JSON")
    return schema, seq, obj


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _replace(src, dst):
    try:
        os.rename(src, dst)  # atomic replace on LittleFS and POSIX
    except OSError:
        if not _exists(dst):
            raise
        os.remove(dst)  # FAT refuses to rename over a file: not atomic there (LittleFS is the default)
        os.rename(src, dst)


class RecordFile:
    """One record with its last good copy: PATH, PATH.bak, PATH.tmp."""

    def __init__(self, path, magic):
        self.path = path
        self.bak = path + ".bak"
        self.tmp = path + ".tmp"
        self.magic = magic
        self.seq = 0

    def _try(self, path, problems, label):
        try:
            data = _read(path)
        except OSError:
            return None
        try:
            return unpack(data, self.magic)
        except RecordError as e:
            problems.append("%s: %s" % (label, e))
            return None

    def read(self):
        """(schema, obj, source, problems): source "main", "backup" or None when no valid copy."""
        problems = []
        got = self._try(self.path, problems, "main")
        source = "main"
        if got is None:
            if not problems and _exists(self.bak):
                problems.append("main: missing")
            got = self._try(self.bak, problems, "backup")
            source = "backup"
        if got is None:
            return None, None, None, problems
        schema, seq, obj = got
        self.seq = seq
        return schema, obj, source, problems

    def write(self, schema, obj, keep_backup=True):
        """Write atomically (see the module comment); returns the new sequence number. OSError if the
        filesystem refused, in which case the previous copy is still the current one.
        keep_backup=False (factory reset) drops the last good copy once the new record is in place, so
        a later fallback can never bring back what was erased."""
        seq = self.seq + 1
        data = pack(self.magic, schema, seq, obj)
        with open(self.tmp, "wb") as f:
            f.write(data)  # one write, closed before anything else happens
        if _read(self.tmp) != data:
            _remove(self.tmp)
            raise OSError(5, "read-back mismatch")  # EIO: flash did not keep what was written
        main_ok = False
        try:
            main_ok = unpack(_read(self.path), self.magic) is not None
        except (OSError, RecordError):
            pass
        if main_ok:
            _replace(self.path, self.bak)  # the current copy becomes the last good copy
        _replace(self.tmp, self.path)
        self.seq = seq
        if not keep_backup:  # overwritten, then removed: the erased settings are not left behind
            try:
                storage.shred(self.bak)
            except OSError:
                _remove(self.bak)
        return seq

    def wipe(self):
        """Remove every copy (factory reset writes a fresh record right after)."""
        for p in (self.tmp, self.bak, self.path):
            _remove(p)
        self.seq = 0
