# Ed25519 (RFC 8032 section 5.1): public_key, sign, verify over Python big ints, points in extended
# twisted Edwards coordinates (X, Y, Z, T). Written from the RFC's algorithm; SHA-512 from sha512.py.
# Not constant-time: the device signs its own chain heads, whose content is public (docs/evidence-crypto.md).
from firmware.core.crypto.sha512 import sha512

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493  # order of the base point
_D = -121665 * pow(121666, P - 2, P) % P
_SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * _D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p1):
    x1, y1, z1, _ = p1
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(k, pt):
    """k * pt (0 <= k < 2**256), double-and-add from bit 255 (MicroPython ints have no bit_length)."""
    q = (0, 1, 1, 0)
    for i in range(255, -1, -1):
        q = _double(q)
        if (k >> i) & 1:
            q = _add(q, pt)
    return q


def _comb():
    """The 16 sums of subsets of (B, 2**64 B, 2**128 B, 2**192 B), made on first use (~1 scalar
    multiplication, 16 points kept): _mul_base then needs 64 doublings and 64 additions, not 256 + 128."""
    global _COMB
    if _COMB is None:
        g = [_B]
        for _ in range(3):
            q = g[-1]
            for _ in range(64):
                q = _double(q)
            g.append(q)
        t = [(0, 1, 1, 0)]
        for i in range(1, 16):
            j = 0 if i & 1 else 1 if i & 2 else 2 if i & 4 else 3  # lowest set bit of i
            t.append(_add(t[i & ~(1 << j)], g[j]))
        _COMB = t
    return _COMB


_COMB = None


def _mul_base(k):
    """k * B for 0 <= k < 2**256 (Lim-Lee comb with 4 teeth; the addition law is complete, so adding
    the identity for a zero column is fine)."""
    t = _comb()
    q = (0, 1, 1, 0)
    for i in range(63, -1, -1):
        q = _double(q)
        q = _add(q, t[((k >> i) & 1) | (((k >> (i + 64)) & 1) << 1) | (((k >> (i + 128)) & 1) << 2)
                      | (((k >> (i + 192)) & 1) << 3)])
    return q


def _equal(p1, p2):
    return ((p1[0] * p2[2] - p2[0] * p1[2]) % P == 0) and ((p1[1] * p2[2] - p2[1] * p1[2]) % P == 0)


def _small_order(pt):
    """True when 8 * pt is the identity (the 8 points of order 1, 2, 4 or 8)."""
    q = _double(_double(_double(pt)))
    return q[0] % P == 0 and (q[1] - q[2]) % P == 0


def _recover_x(y, sign):
    """x of the point with this y and sign bit, or None (RFC 8032 5.1.3)."""
    if y >= P:
        return None  # non-canonical encoding: decoding fails
    x2 = (y * y - 1) * pow(_D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * _SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decode(s):
    """The point of a 32-byte encoding, or None when it is not a valid, canonical encoding."""
    y = int.from_bytes(bytes(s), "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def _encode(pt):
    zi = pow(pt[2], P - 2, P)
    x = pt[0] * zi % P
    y = pt[1] * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


_GY = 4 * pow(5, P - 2, P) % P
_B = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % P)


def _h_int(*parts):
    h = sha512()
    for p in parts:
        h.update(p)
    return int.from_bytes(h.digest(), "little")


def _expand(seed32):
    """(scalar a, prefix, public key) of a seed (RFC 8032 5.1.5). The last seed's are kept: the device
    signs every chunk head with the same key, and this saves a hash and a scalar multiplication."""
    global _LAST
    if len(seed32) != 32:
        raise ValueError("Ed25519 seed must be 32 bytes, got %d" % len(seed32))
    seed32 = bytes(seed32)
    if _LAST is None or _LAST[0] != seed32:
        h = sha512(seed32).digest()
        a = int.from_bytes(h[:32], "little")
        a &= (1 << 254) - 8
        a |= 1 << 254
        _LAST = (seed32, a, h[32:], _encode(_mul_base(a)))
    return _LAST[1:]


_LAST = None


def public_key(seed32):
    """The 32-byte public key of a 32-byte private seed."""
    return _expand(seed32)[2]


def sign(seed32, msg):
    """The 64-byte signature R || S of msg (RFC 8032 5.1.6, pure Ed25519)."""
    a, prefix, pub = _expand(seed32)
    r = _h_int(prefix, msg) % L
    rb = _encode(_mul_base(r))
    k = _h_int(rb, pub, msg) % L
    return rb + ((r + k * a) % L).to_bytes(32, "little")


def verify(pub32, msg, sig64):
    """True when sig64 is a valid signature of msg under pub32 (RFC 8032 5.1.7: S < L, canonical
    encodings of A and R; the cofactorless equation [S]B = R + [k]A). Like libsodium, A or R of small
    order is refused too: under such a key, R = identity and S = 0 would sign every message."""
    if len(pub32) != 32 or len(sig64) != 64:
        return False
    a = _decode(pub32)
    r = _decode(sig64[:32])
    if a is None or r is None or _small_order(a) or _small_order(r):
        return False
    s = int.from_bytes(bytes(sig64[32:]), "little")
    if s >= L:
        return False
    k = _h_int(sig64[:32], pub32, msg) % L
    return _equal(_mul_base(s), _add(r, _mul(k, a)))
