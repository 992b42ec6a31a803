# ChaCha20-Poly1305 AEAD (RFC 8439 section 2.8): seal(), open(), and Sealer.seal_into() for the recorder.
# On MicroPython the ChaCha20 block, the XOR and Poly1305 run in viper over caller-owned arrays (no heap
# allocation per call); plain-Python twins (Poly1305 on big ints, as the RFC writes it) run in CPython
# and are the reference the device tests compare the viper code with. Not constant-time: the device
# only seals to a public key (docs/evidence-crypto.md).
import sys
from array import array

try:
    import micropython
except ImportError:  # CPython: the host tools import the same module
    micropython = None

TAG_BYTES = 16
KEY_BYTES = 32
NONCE_BYTES = 12
_M32 = 0xFFFFFFFF
_SIGMA = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k"
# the 8 quarter rounds of a double round (RFC 8439 2.3): 4 columns, then 4 diagonals
_QR = bytes((0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
             0, 5, 10, 15, 1, 6, 11, 12, 2, 7, 8, 13, 3, 4, 9, 14))
_P1305 = (1 << 130) - 5
_CLAMP = 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF


# --- plain twins (CPython, and the reference in the device tests) -------------------------------------

def _words_py(dst, off, src, nwords):
    """dst[off:off+nwords] = little-endian 32-bit words of src."""
    for i in range(nwords):
        dst[off + i] = src[4 * i] | (src[4 * i + 1] << 8) | (src[4 * i + 2] << 16) | (src[4 * i + 3] << 24)


def _block_py(st, x, ks):
    """ks (64 bytes) = ChaCha20 block of the state st (array 'I' of 16 words); x: 16 words of scratch."""
    for i in range(16):
        x[i] = st[i]
    for _ in range(10):
        for j in range(0, 32, 4):
            a, b, c, d = _QR[j], _QR[j + 1], _QR[j + 2], _QR[j + 3]
            xa = (x[a] + x[b]) & _M32
            xd = x[d] ^ xa
            xd = ((xd << 16) & _M32) | (xd >> 16)
            xc = (x[c] + xd) & _M32
            xb = x[b] ^ xc
            xb = ((xb << 12) & _M32) | (xb >> 20)
            xa = (xa + xb) & _M32
            xd = xd ^ xa
            xd = ((xd << 8) & _M32) | (xd >> 24)
            xc = (xc + xd) & _M32
            xb = xb ^ xc
            xb = ((xb << 7) & _M32) | (xb >> 25)
            x[a], x[b], x[c], x[d] = xa, xb, xc, xd
    for i in range(16):
        v = (x[i] + st[i]) & _M32
        ks[4 * i] = v & 255
        ks[4 * i + 1] = (v >> 8) & 255
        ks[4 * i + 2] = (v >> 16) & 255
        ks[4 * i + 3] = v >> 24


def _xor_py(dst, doff, src, soff, ks, n):
    for i in range(n):
        dst[doff + i] = src[soff + i] ^ ks[i]


class _PolyPy:
    """Poly1305 on big ints (RFC 8439 2.5), over zero-padded 16-byte blocks as the AEAD feeds it."""

    def start(self, key32):
        self.r = int.from_bytes(bytes(key32[0:16]), "little") & _CLAMP
        self.s = int.from_bytes(bytes(key32[16:32]), "little")
        self.h = 0

    def blocks(self, m, off, n):
        """MAC n bytes of m from off, the last block zero-padded to 16 bytes (RFC 8439 2.8 pad16)."""
        h, r = self.h, self.r
        end = off + n
        while off < end:
            k = min(16, end - off)
            h = (h + int.from_bytes(bytes(m[off:off + k]), "little") + (1 << 128)) * r % _P1305
            off += k
        self.h = h

    def wipe(self):
        self.r = self.s = self.h = 0

    def finish(self, out, off):
        tag = (self.h + self.s) & ((1 << 128) - 1)
        for i in range(16):
            out[off + i] = (tag >> (8 * i)) & 255


# --- viper (MicroPython) -------------------------------------------------------------------------------
# Poly1305 on 10 limbs of 13 bits (130 bits exactly, so 2**130 folds back as 5): every limb product
# sum fits an unsigned 32-bit viper int (10 x (2**13 + 256) x 5 x 2**13 < 2**32; h is carried after
# each addition so its limbs stay near 13 bits) and nothing is allocated. The state st (array 'I', 40
# words) holds h[0:10], r[10:20], 5 r[20:30] and the product d[30:40].

_words = _words_py
_block = _block_py
_xor = _xor_py
_Poly = _PolyPy

if sys.implementation.name == "micropython":  # the compiler, not the module, knows viper

    @micropython.viper
    def _words_v(dst: ptr32, off: int, src: ptr8, nwords: int):
        i = 0
        while i < nwords:
            j = i << 2
            dst[off + i] = src[j] | (src[j + 1] << 8) | (src[j + 2] << 16) | (src[j + 3] << 24)
            i += 1

    @micropython.viper
    def _block_v(st: ptr32, x: ptr32, ks: ptr8):
        q = ptr8(_QR)
        m = uint(0xFFFFFFFF)  # viper ints are 64-bit on a 64-bit VM: every sum is masked
        i = 0
        while i < 16:
            x[i] = st[i]
            i += 1
        i = 0
        while i < 80:  # 10 double rounds of 8 quarter rounds
            j = (i & 7) << 2
            ia = q[j]
            ib = q[j + 1]
            ic = q[j + 2]
            iz = q[j + 3]
            a = uint(x[ia])
            b = uint(x[ib])
            c = uint(x[ic])
            d = uint(x[iz])
            a = (a + b) & m
            d ^= a
            d = ((d << 16) | (d >> 16)) & m
            c = (c + d) & m
            b ^= c
            b = ((b << 12) | (b >> 20)) & m
            a = (a + b) & m
            d ^= a
            d = ((d << 8) | (d >> 24)) & m
            c = (c + d) & m
            b ^= c
            b = ((b << 7) | (b >> 25)) & m
            x[ia] = a
            x[ib] = b
            x[ic] = c
            x[iz] = d
            i += 1
        i = 0
        while i < 16:
            v = (uint(x[i]) + uint(st[i])) & m
            j = i << 2
            ks[j] = v
            ks[j + 1] = v >> 8
            ks[j + 2] = v >> 16
            ks[j + 3] = v >> 24
            i += 1

    @micropython.viper
    def _xor_v(dst: ptr8, doff: int, src: ptr8, soff: int, ks: ptr8, n: int):
        i = 0
        while i < n:
            dst[doff + i] = src[soff + i] ^ ks[i]
            i += 1

    @micropython.viper
    def _p_start(st: ptr32, key: ptr8, blk: ptr8):
        i = 0
        while i < 20:
            blk[i] = key[i] if i < 16 else 0
            i += 1
        blk[3] = blk[3] & 15
        blk[7] = blk[7] & 15
        blk[11] = blk[11] & 15
        blk[15] = blk[15] & 15
        blk[4] = blk[4] & 252
        blk[8] = blk[8] & 252
        blk[12] = blk[12] & 252
        i = 0
        while i < 10:
            b = i * 13
            j = b >> 3
            v = ((uint(blk[j]) | (uint(blk[j + 1]) << 8) | (uint(blk[j + 2]) << 16)) >> (b & 7)) & 0x1FFF
            st[i] = 0
            st[10 + i] = v
            st[20 + i] = 5 * v
            i += 1


    @micropython.viper
    def _p_blocks(st: ptr32, blk: ptr8, m: ptr8, off: int, n: int):
        end = off + n
        while off < end:
            k = end - off
            if k > 16:
                k = 16
            j = 0
            while j < 16:
                if j < k:
                    blk[j] = m[off + j]
                else:
                    blk[j] = 0
                j += 1
            blk[16] = 1
            c = uint(0)  # h += the block + 2**128
            i = 0
            while i < 10:
                b = i * 13
                j = b >> 3
                v = (uint(blk[j]) | (uint(blk[j + 1]) << 8) | (uint(blk[j + 2]) << 16)) >> (b & 7)
                c += uint(st[i]) + (v & 0x1FFF)
                st[i] = c & 0x1FFF
                c >>= 13
                i += 1
            c = uint(st[0]) + c * 5  # 2**130 = 5 (mod p)
            st[0] = c & 0x1FFF
            st[1] = uint(st[1]) + (c >> 13)
            i = 0  # d = h * r, limbs past 2**130 times 5
            while i < 10:
                d = uint(0)
                j = 0
                while j <= i:
                    d += uint(st[j]) * uint(st[10 + i - j])
                    j += 1
                while j < 10:
                    d += uint(st[j]) * uint(st[30 + i - j])
                    j += 1
                st[30 + i] = d
                i += 1
            c = uint(0)
            i = 0
            while i < 10:
                c += uint(st[30 + i])
                st[i] = c & 0x1FFF
                c >>= 13
                i += 1
            c = uint(st[0]) + c * 5
            st[0] = c & 0x1FFF
            st[1] = uint(st[1]) + (c >> 13)
            off += k


    @micropython.viper
    def _p_finish(st: ptr32, key: ptr8, out: ptr8, off: int):
        p = 0
        c = uint(0)
        while p < 2:  # two passes: limbs below 2**13, h below 2**130
            i = 0
            while i < 10:
                c += uint(st[i])
                st[i] = c & 0x1FFF
                c >>= 13
                i += 1
            c = c * 5
            p += 1
        st[0] = uint(st[0]) + c
        c = uint(5)  # g = h + 5: it reaches 2**130 exactly when h >= p, and then h - p is its low 130 bits
        i = 0
        while i < 10:
            c += uint(st[i])
            st[30 + i] = c & 0x1FFF
            c >>= 13
            i += 1
        if c:
            i = 0
            while i < 10:
                st[i] = st[30 + i]
                i += 1
        acc = uint(0)  # the low 128 bits of h, plus s, little-endian
        nb = 0
        i = 0
        o = 0
        c = uint(0)
        while o < 16:
            while nb < 8:
                acc |= uint(st[i]) << nb
                nb += 13
                i += 1
            c += (acc & 0xFF) + uint(key[16 + o])
            out[off + o] = c
            c >>= 8
            acc >>= 8
            nb -= 8
            o += 1

    class _PolyV:
        def __init__(self):
            self.st = array("I", bytes(40 * 4))
            self.blk = bytearray(20)  # one block, zero-padded, with the 2**128 byte

        def start(self, key32):
            self.key = key32
            _p_start(self.st, key32, self.blk)

        def blocks(self, m, off, n):
            _p_blocks(self.st, self.blk, m, off, n)

        def finish(self, out, off):
            _p_finish(self.st, self.key, out, off)

        def wipe(self):
            _zero(self.st)
            _zero(self.blk)
            self.key = None

    _words = _words_v
    _block = _block_v
    _xor = _xor_v
    _Poly = _PolyV


def _zero(buf):
    for i in range(len(buf)):
        buf[i] = 0


class Sealer:
    """ChaCha20-Poly1305 under one key, with every buffer allocated once here. plain=True uses the
    plain-Python twins (the reference in the tests; CPython always does)."""

    def __init__(self, key32, plain=False):
        if len(key32) != KEY_BYTES:
            raise ValueError("ChaCha20-Poly1305 key must be 32 bytes, got %d" % len(key32))
        self._words, self._block, self._xor = (_words_py, _block_py, _xor_py) if plain else (_words, _block, _xor)
        self._poly = _PolyPy() if plain else _Poly()
        self._st = array("I", _SIGMA + (0,) * 12)
        self._x = array("I", bytes(64))
        self._ks = bytearray(64)  # keystream block; its first 32 bytes are the Poly1305 one-time key
        self._pk = bytearray(32)
        self._lens = bytearray(16)
        self._words(self._st, 4, key32, 8)
        self._live = True  # until wipe()

    def wipe(self):
        """Zero every buffer that holds the key or anything made from it (issue 21: the recording key
        lives in RAM only while its recording is open). The Sealer refuses to work after this."""
        for buf in (self._st, self._x, self._ks, self._pk):
            _zero(buf)
        self._poly.wipe()
        self._live = False

    def _start(self, nonce12, ad, adlen):
        """Set the nonce and MAC the associated data (RFC 8439 2.6 and 2.8)."""
        if len(nonce12) != NONCE_BYTES:
            raise ValueError("ChaCha20-Poly1305 nonce must be 12 bytes, got %d" % len(nonce12))
        if not self._live:
            raise ValueError("this Sealer was wiped: make a new one with the key")
        st = self._st
        self._words(st, 13, nonce12, 3)
        st[12] = 0
        self._block(st, self._x, self._ks)
        pk = self._pk
        for i in range(32):
            pk[i] = self._ks[i]
        self._poly.start(pk)
        self._poly.blocks(ad, 0, adlen)

    def _crypt(self, src, n, out):
        st, x, ks = self._st, self._x, self._ks
        off = 0
        counter = 1
        while off < n:
            st[12] = counter
            self._block(st, x, ks)
            k = n - off if n - off < 64 else 64
            self._xor(out, off, src, off, ks, k)
            off += k
            counter += 1

    def _mac_end(self, adlen, n):
        lens = self._lens
        for i in range(8):
            lens[i] = (adlen >> (8 * i)) & 255
            lens[8 + i] = (n >> (8 * i)) & 255
        self._poly.blocks(lens, 0, 16)

    def seal_into(self, nonce12, src, n, ad, out):
        """Seal src[0:n] with associated data ad into out[0:n+16] (ciphertext || tag); returns n + 16.
        Allocates nothing on MicroPython for n < 2**30 (viper on preallocated arrays); only the call
        and loop ints, which are small."""
        if len(out) < n + TAG_BYTES or len(src) < n:
            raise ValueError("seal_into: src must hold n bytes and out n + 16")
        adlen = len(ad)
        self._start(nonce12, ad, adlen)
        self._crypt(src, n, out)
        self._poly.blocks(out, 0, n)
        self._mac_end(adlen, n)
        self._poly.finish(out, n)
        return n + TAG_BYTES

    def open_into(self, nonce12, data, n, ad, out):
        """Check and decrypt data[0:n] (ciphertext || tag) into out[0:n-16]; returns n - 16. Raises
        ValueError (out untouched) when the tag does not match: a wrong key, nonce, AD or any edit."""
        if n < TAG_BYTES or len(data) < n:
            raise ValueError("sealed data shorter than its 16-byte tag")
        m = n - TAG_BYTES
        if len(out) < m:
            raise ValueError("open_into: out must hold n - 16 bytes")
        adlen = len(ad)
        self._start(nonce12, ad, adlen)
        self._poly.blocks(data, 0, m)
        self._mac_end(adlen, m)
        tag = self._pk  # the one-time key is no longer needed: reuse its buffer for the tag
        self._poly.finish(tag, 0)
        diff = 0
        for i in range(TAG_BYTES):
            diff |= tag[i] ^ data[m + i]
        if diff:
            raise ValueError("ChaCha20-Poly1305: authentication failed (wrong key, nonce or data)")
        self._crypt(data, m, out)
        return m


def seal(key32, nonce12, plaintext, ad=b""):
    """RFC 8439 AEAD encryption: ciphertext || 16-byte tag (bytes)."""
    n = len(plaintext)
    out = bytearray(n + TAG_BYTES)
    Sealer(key32).seal_into(nonce12, plaintext, n, ad, out)
    return bytes(out)


def open(key32, nonce12, data, ad=b""):  # noqa: A001 - the spec's name (issue 21)
    """RFC 8439 AEAD decryption: the plaintext (bytes), or ValueError when the tag does not match."""
    n = len(data)
    out = bytearray(max(0, n - TAG_BYTES))
    Sealer(key32).open_into(nonce12, data, n, ad, out)
    return bytes(out)
