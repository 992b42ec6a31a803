# SHA-512 (FIPS 180-4 section 6.4), for Ed25519: MicroPython's hashlib has only SHA-256 and SHA-1.
# sha512(data).update(b).digest() as hashlib's objects. On MicroPython the compression runs in viper on
# 32-bit halves (hi, lo) of the 64-bit words: viper ints are 32-bit on the ESP32 and plain ints end at
# 2**30 there, so 64-bit Python ints would be heap-allocated big ints. The plain twin on Python ints
# runs in CPython and is the reference the device tests compare the viper code with.
import sys
from array import array

try:
    import micropython
except ImportError:  # CPython: the host tools import the same module
    micropython = None

_M64 = 0xFFFFFFFFFFFFFFFF
_K = (
    0x428A2F98D728AE22, 0x7137449123EF65CD, 0xB5C0FBCFEC4D3B2F, 0xE9B5DBA58189DBBC,
    0x3956C25BF348B538, 0x59F111F1B605D019, 0x923F82A4AF194F9B, 0xAB1C5ED5DA6D8118,
    0xD807AA98A3030242, 0x12835B0145706FBE, 0x243185BE4EE4B28C, 0x550C7DC3D5FFB4E2,
    0x72BE5D74F27B896F, 0x80DEB1FE3B1696B1, 0x9BDC06A725C71235, 0xC19BF174CF692694,
    0xE49B69C19EF14AD2, 0xEFBE4786384F25E3, 0x0FC19DC68B8CD5B5, 0x240CA1CC77AC9C65,
    0x2DE92C6F592B0275, 0x4A7484AA6EA6E483, 0x5CB0A9DCBD41FBD4, 0x76F988DA831153B5,
    0x983E5152EE66DFAB, 0xA831C66D2DB43210, 0xB00327C898FB213F, 0xBF597FC7BEEF0EE4,
    0xC6E00BF33DA88FC2, 0xD5A79147930AA725, 0x06CA6351E003826F, 0x142929670A0E6E70,
    0x27B70A8546D22FFC, 0x2E1B21385C26C926, 0x4D2C6DFC5AC42AED, 0x53380D139D95B3DF,
    0x650A73548BAF63DE, 0x766A0ABB3C77B2A8, 0x81C2C92E47EDAEE6, 0x92722C851482353B,
    0xA2BFE8A14CF10364, 0xA81A664BBC423001, 0xC24B8B70D0F89791, 0xC76C51A30654BE30,
    0xD192E819D6EF5218, 0xD69906245565A910, 0xF40E35855771202A, 0x106AA07032BBD1B8,
    0x19A4C116B8D2D0C8, 0x1E376C085141AB53, 0x2748774CDF8EEB99, 0x34B0BCB5E19B48A8,
    0x391C0CB3C5C95A63, 0x4ED8AA4AE3418ACB, 0x5B9CCA4F7763E373, 0x682E6FF3D6B2B8A3,
    0x748F82EE5DEFB2FC, 0x78A5636F43172F60, 0x84C87814A1F0AB72, 0x8CC702081A6439EC,
    0x90BEFFFA23631E28, 0xA4506CEBDE82BDE9, 0xBEF9A3F7B2C67915, 0xC67178F2E372532B,
    0xCA273ECEEA26619C, 0xD186B8C721C0C207, 0xEADA7DD6CDE0EB1E, 0xF57D4F7FEE6ED178,
    0x06F067AA72176FBA, 0x0A637DC5A2C898A6, 0x113F9804BEF90DAE, 0x1B710B35131C471B,
    0x28DB77F523047D84, 0x32CAAB7B40C72493, 0x3C9EBE0A15C9BEBC, 0x431D67C49C100D4C,
    0x4CC5D4BECB3E42B6, 0x597F299CFC657E2A, 0x5FCB6FAB3AD6FAEC, 0x6C44198C4A475817,
)
# first 64 bits of the fractional parts of the square roots of the first 8 primes (5.3.5)
_H0 = (0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
       0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179)


_KH = array("I", [w for k in _K for w in (k >> 32, k & 0xFFFFFFFF)])  # (hi, lo) halves


def _rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & _M64


def _compress_py(h, w, k, block, off):
    """One 128-byte block (block[off:off+128]) into the state h (array 'I' of 16 halves: hi, lo of
    the 8 words), FIPS 180-4 6.4.2. w and k: as the viper twin takes them (unused here)."""
    w = [int.from_bytes(bytes(block[off + i:off + i + 8]), "big") for i in range(0, 128, 8)]
    for t in range(16, 80):
        x, y = w[t - 15], w[t - 2]
        s0 = _rotr(x, 1) ^ _rotr(x, 8) ^ (x >> 7)
        s1 = _rotr(y, 19) ^ _rotr(y, 61) ^ (y >> 6)
        w.append((w[t - 16] + s0 + w[t - 7] + s1) & _M64)
    st = [(h[2 * i] << 32) | h[2 * i + 1] for i in range(8)]
    a, b, c, d, e, f, g, hh = st
    for t in range(80):
        t1 = (hh + (_rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)) + ((e & f) ^ (~e & g)) + _K[t] + w[t]) & _M64
        t2 = ((_rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))) & _M64
        hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M64, c, b, a, (t1 + t2) & _M64
    for i, v in enumerate((a, b, c, d, e, f, g, hh)):
        v = (st[i] + v) & _M64
        h[2 * i] = v >> 32
        h[2 * i + 1] = v & 0xFFFFFFFF


_compress = _compress_py

if sys.implementation.name == "micropython":  # the compiler, not the module, knows viper

    @micropython.viper
    def _compress_v(h: ptr32, w: ptr32, k: ptr32, blk: ptr8, off: int):
        # Every value is a 32-bit half; m masks what a left shift pushes past bit 31 (viper ints are
        # 64-bit on a 64-bit VM). Sums of 64-bit words add the low halves 16 bits at a time so that
        # the carry into the high half survives on a 32-bit machine.
        m = uint(0xFFFFFFFF)
        t = 0
        while t < 32:  # the 16 big-endian words of the block
            j = off + (t << 2)
            w[t] = (blk[j] << 24) | (blk[j + 1] << 16) | (blk[j + 2] << 8) | blk[j + 3]
            t += 1
        while t < 160:  # schedule: W[i] = s1(W[i-2]) + W[i-7] + s0(W[i-15]) + W[i-16]
            xh = uint(w[t - 30])
            xl = uint(w[t - 29])
            s0h = (((xh >> 1) | (xl << 31)) ^ ((xh >> 8) | (xl << 24)) ^ (xh >> 7)) & m
            s0l = (((xl >> 1) | (xh << 31)) ^ ((xl >> 8) | (xh << 24)) ^ ((xl >> 7) | (xh << 25))) & m
            xh = uint(w[t - 4])
            xl = uint(w[t - 3])
            s1h = (((xh >> 19) | (xl << 13)) ^ ((xl >> 29) | (xh << 3)) ^ (xh >> 6)) & m
            s1l = (((xl >> 19) | (xh << 13)) ^ ((xh >> 29) | (xl << 3)) ^ ((xl >> 6) | (xh << 26))) & m
            al = uint(w[t - 13])
            bl = uint(w[t - 31])
            lo = (s0l & 0xFFFF) + (s1l & 0xFFFF) + (al & 0xFFFF) + (bl & 0xFFFF)
            hi = (s0l >> 16) + (s1l >> 16) + (al >> 16) + (bl >> 16) + (lo >> 16)
            w[t + 1] = (hi << 16) | (lo & 0xFFFF)
            w[t] = s0h + s1h + uint(w[t - 14]) + uint(w[t - 32]) + (hi >> 16)
            t += 2
        ah = uint(h[0])
        al = uint(h[1])
        bh = uint(h[2])
        bl = uint(h[3])
        ch = uint(h[4])
        cl = uint(h[5])
        dh = uint(h[6])
        dl = uint(h[7])
        eh = uint(h[8])
        el = uint(h[9])
        fh = uint(h[10])
        fl = uint(h[11])
        gh = uint(h[12])
        gl = uint(h[13])
        hh = uint(h[14])
        hl = uint(h[15])
        t = 0
        while t < 160:
            # T1 = h + S1(e) + Ch(e, f, g) + K[t] + W[t]
            sh = (((eh >> 14) | (el << 18)) ^ ((eh >> 18) | (el << 14)) ^ ((el >> 9) | (eh << 23))) & m
            sl = (((el >> 14) | (eh << 18)) ^ ((el >> 18) | (eh << 14)) ^ ((eh >> 9) | (el << 23))) & m
            xh = (eh & fh) ^ ((eh ^ m) & gh)
            xl = (el & fl) ^ ((el ^ m) & gl)
            kl = uint(k[t + 1])
            wl = uint(w[t + 1])
            lo = (hl & 0xFFFF) + (sl & 0xFFFF) + (xl & 0xFFFF) + (kl & 0xFFFF) + (wl & 0xFFFF)
            hi = (hl >> 16) + (sl >> 16) + (xl >> 16) + (kl >> 16) + (wl >> 16) + (lo >> 16)
            t1l = ((hi << 16) | (lo & 0xFFFF)) & m
            t1h = (hh + sh + xh + uint(k[t]) + uint(w[t]) + (hi >> 16)) & m
            # T2 = S0(a) + Maj(a, b, c)
            sh = (((ah >> 28) | (al << 4)) ^ ((al >> 2) | (ah << 30)) ^ ((al >> 7) | (ah << 25))) & m
            sl = (((al >> 28) | (ah << 4)) ^ ((ah >> 2) | (al << 30)) ^ ((ah >> 7) | (al << 25))) & m
            xh = (ah & bh) ^ (ah & ch) ^ (bh & ch)
            xl = (al & bl) ^ (al & cl) ^ (bl & cl)
            hh = gh
            hl = gl
            gh = fh
            gl = fl
            fh = eh
            fl = el
            lo = (dl & 0xFFFF) + (t1l & 0xFFFF)  # e = d + T1
            hi = (dl >> 16) + (t1l >> 16) + (lo >> 16)
            el = ((hi << 16) | (lo & 0xFFFF)) & m
            eh = (dh + t1h + (hi >> 16)) & m
            dh = ch
            dl = cl
            ch = bh
            cl = bl
            bh = ah
            bl = al
            lo = (t1l & 0xFFFF) + (sl & 0xFFFF) + (xl & 0xFFFF)  # a = T1 + T2
            hi = (t1l >> 16) + (sl >> 16) + (xl >> 16) + (lo >> 16)
            al = ((hi << 16) | (lo & 0xFFFF)) & m
            ah = (t1h + sh + xh + (hi >> 16)) & m
            t += 2
        w[0] = ah  # the working variables, then added to h two halves at a time
        w[1] = al
        w[2] = bh
        w[3] = bl
        w[4] = ch
        w[5] = cl
        w[6] = dh
        w[7] = dl
        w[8] = eh
        w[9] = el
        w[10] = fh
        w[11] = fl
        w[12] = gh
        w[13] = gl
        w[14] = hh
        w[15] = hl
        i = 0
        while i < 16:
            xl = uint(h[i + 1])
            yl = uint(w[i + 1])
            lo = (xl & 0xFFFF) + (yl & 0xFFFF)
            hi = (xl >> 16) + (yl >> 16) + (lo >> 16)
            h[i + 1] = (hi << 16) | (lo & 0xFFFF)
            h[i] = uint(h[i]) + uint(w[i]) + (hi >> 16)
            i += 2

    _compress = _compress_v


class sha512:  # noqa: N801 - named like hashlib's constructors
    digest_size = 64
    block_size = 128

    def __init__(self, data=b"", plain=False):
        self._compress = _compress_py if plain else _compress
        self._h = array("I", [w for v in _H0 for w in (v >> 32, v & 0xFFFFFFFF)])
        self._w = array("I", bytes(160 * 4))  # the viper schedule's scratch
        self._buf = bytearray(128)
        self._n = 0  # bytes waiting in _buf
        self._len = 0
        self.update(data)

    def update(self, data):
        n = len(data)
        self._len += n
        i = 0
        if self._n:  # fill the waiting block first
            k = min(n, 128 - self._n)
            self._buf[self._n:self._n + k] = data[:k]
            self._n += k
            i = k
            if self._n < 128:
                return
            self._compress(self._h, self._w, _KH, self._buf, 0)
            self._n = 0
        while n - i >= 128:
            self._compress(self._h, self._w, _KH, data, i)
            i += 128
        if i < n:
            self._buf[0:n - i] = data[i:]
            self._n = n - i

    def digest(self):
        """The 64-byte digest of everything given so far (the object can still be updated)."""
        h = array("I", self._h)
        tail = bytearray(self._buf[:self._n])
        tail.append(0x80)
        tail.extend(bytes((112 - len(tail)) % 128))
        tail.extend((self._len * 8).to_bytes(16, "big"))
        for i in range(0, len(tail), 128):
            self._compress(h, self._w, _KH, tail, i)
        return b"".join(v.to_bytes(4, "big") for v in h)
