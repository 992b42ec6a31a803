# The recording key and the sealing of one recording's records (layouts: firmware/core/evidence_seal.py).
#
# KeyAhead computes the NEXT recording's key while the button is idle (at boot, after a recording):
# a fresh ephemeral X25519 secret, its public key epk, the shared secret with the association's public
# key and K = HKDF(...). The ephemeral secret is zeroed as soon as K exists; K waits in RAM (nothing on
# flash decrypts) and is zeroed when its recording closes. So an alert never waits for the X25519
# (seconds of pure-Python big-integer maths on an ESP32) before its SMS or its first audio block.
# Python ints made inside the X25519 cannot be zeroed: they are freed garbage until the heap reuses them.
import os

from firmware.core import evidence_seal as seal


def _unload(*names):
    """Drop modules used once per recording, so their code does not stay in the heap through an alert
    (imported again for the next recording, when idle)."""
    import sys
    pkg = sys.modules.get("firmware.core.crypto")
    for n in names:
        sys.modules.pop("firmware.core.crypto." + n, None)
        if pkg is not None and hasattr(pkg, n):
            delattr(pkg, n)


def _zero(b):
    for i in range(len(b)):
        b[i] = 0


def parse_association_pub(text):
    """32 bytes from 64 hex characters; ValueError saying what to do otherwise."""
    t = text.strip() if isinstance(text, str) else ""
    if len(t) != 64:
        raise ValueError("the association public key is 64 hex characters (32 bytes), got %d characters: "
                         "copy it from `alertbutton keys association new`" % len(t))
    t = t.lower()
    for ch in t:
        if ch not in "0123456789abcdef":
            raise ValueError("the association public key is hexadecimal (0-9, a-f) only, %r is not: copy it "
                             "from `alertbutton keys association new`" % ch)
    b = bytes(int(t[i:i + 2], 16) for i in range(0, 64, 2))
    if not any(b):
        raise ValueError("an all-zero association public key cannot seal anything: use the association's real key")
    return b


class RecordingKey:
    """K and epk of one recording."""

    def __init__(self, key, epk):
        self.key = key  # bytearray(32)
        self.epk = epk

    def wipe(self):
        _zero(self.key)


def association_from_cfg(cfg):
    """The association key of the settings (checked at load: 64 hex or None), as 32 bytes or None."""
    v = cfg.get("association_pub")
    return None if v is None else parse_association_pub(v)


class KeyAhead:
    def __init__(self, association_pub, log, urandom=os.urandom):
        """association_pub: 32 bytes, or None (then nothing can be sealed: can_seal() is False)."""
        self.pub = association_pub
        self.log = log
        self.urandom = urandom
        self._next = None
        self.last_ms = None  # how long the last computation held the CPU

    def set_pub(self, association_pub):
        """A new association key (or None): a key prepared for the old one is wiped."""
        self.forget()
        self.pub = association_pub

    def can_seal(self):
        return self.pub is not None

    def ready(self):
        return self._next is not None

    def prepare(self):
        """Compute the next recording's key now, blocking (see prepare_steps). Returns the ms taken."""
        for _ in self.prepare_steps():
            pass
        return self.last_ms

    def prepare_steps(self, every=32):
        """The next recording's key in pieces: a generator yielding None between pieces of the two
        X25519 (each piece ~1/8 of a ladder), for a task that awaits between them."""
        if self.pub is None or self._next is not None:
            return
        from time import ticks_us, ticks_diff  # here: the host imports this module for parse_association_pub
        t0 = ticks_us()
        from firmware.core.crypto import x25519
        esk = bytearray(self.urandom(32))
        try:
            epk = None
            for epk in x25519.x25519_steps(esk, x25519.BASE_U, every):
                if epk is None:
                    yield None
            shared = None
            for shared in x25519.x25519_steps(esk, self.pub, every):
                if shared is None:
                    yield None
            key = bytearray(seal.key_from_shared(shared, epk, self.pub))
        finally:
            _zero(esk)
            shared = x25519 = None
            _unload("x25519", "hkdf")
        self._next = RecordingKey(key, bytes(epk))
        self.last_ms = ticks_diff(ticks_us(), t0) // 1000
        self.log("evidence_key_ready", ms=self.last_ms)

    def take(self):
        """The prepared key (computed now if it was not ready: logged, it delays what runs next)."""
        if self._next is None:
            self.prepare()
            self.log("evidence_key_late", ms=self.last_ms)
        k = self._next
        self._next = None
        return k

    def forget(self):
        if self._next is not None:
            self._next.wipe()
            self._next = None


class Sealing:
    """Seals the records of one recording's chunks with preallocated buffers."""

    def __init__(self, rkey, device_id, rec):
        from firmware.core.crypto import chacha20poly1305
        self.rkey = rkey
        self.sealer = chacha20poly1305.Sealer(rkey.key)
        self.device_id = device_id
        self.rec = rec
        self.nonce = bytearray(12)
        self.out = bytearray(seal.BLOCK_RECORD)
        mv = memoryview(self.out)
        self._views = {seal.HEADER_PLAIN: mv[:seal.HEADER_RECORD], seal.TRAILER_PLAIN: mv[:seal.TRAILER_RECORD],
                       seal.BLOCK_PLAIN: mv}
        self.env = None
        self.index = 0

    def start(self, index):
        """The envelope of chunk `index` (its associated data)."""
        self.index = index
        self.env = seal.envelope(self.device_id, self.rec, index, self.rkey.epk)
        return self.env

    def seal(self, record, src):
        """The sealed record (a view into the shared output buffer: write it before the next call)."""
        out = self._views[len(src)]
        seal.nonce_into(self.nonce, record, self.index)
        self.sealer.seal_into(self.nonce, src, len(src), self.env, out)
        return out

    def wipe(self):
        self.rkey.wipe()
        if self.sealer is not None:
            self.sealer.wipe()  # its own copy of K (key words), keystream and Poly1305 state
        self.sealer = None
