# X25519 (RFC 7748 section 5): the Montgomery ladder over Python big ints, with the same sequence of
# operations for every scalar (the conditional swap is arithmetic, not a branch). Not constant-time at
# the machine level (big-int sizes vary): the device only uses it once per recording, with a fresh
# ephemeral secret, to seal to the association's public key (docs/evidence-crypto.md).
P = 2 ** 255 - 19
_A24 = 121665  # (486662 - 2) / 4
BASE_U = b"\x09" + bytes(31)


def _scalar(k):
    """Decode and clamp a 32-byte scalar (RFC 7748 decodeScalar25519)."""
    if len(k) != 32:
        raise ValueError("X25519 scalar must be 32 bytes, got %d" % len(k))
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(bytes(b), "little")


def _u(u):
    """Decode a u-coordinate: the top bit is masked and non-canonical values (>= p) are reduced, as
    RFC 7748 5 requires."""
    if len(u) != 32:
        raise ValueError("X25519 u-coordinate must be 32 bytes, got %d" % len(u))
    b = bytearray(u)
    b[31] &= 127
    return int.from_bytes(bytes(b), "little") % P


def x25519(scalar32, u32):
    """X25519(k, u) -> 32 bytes. An all-zero result (u of small order) is returned as is: callers that
    need a contributory key check it (RFC 7748 6.1)."""
    for r in x25519_steps(scalar32, u32, 0):
        pass
    return r


def x25519_steps(scalar32, u32, every=32):
    """x25519() in pieces, for a caller that must not block: a generator that yields None after every
    `every` of the 255 ladder steps (never when 0), then yields the 32-byte result."""
    k = _scalar(scalar32)
    x1 = _u(u32)
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    for t in range(254, -1, -1):
        bit = (k >> t) & 1
        swap ^= bit
        d = swap * (x2 - x3)  # cswap by arithmetic: same operations whichever the bit
        x2, x3 = x2 - d, x3 + d
        d = swap * (z2 - z3)
        z2, z3 = z2 - d, z3 + d
        swap = bit
        a = x2 + z2
        aa = a * a % P
        b = x2 - z2
        bb = b * b % P
        e = aa - bb
        da = (x3 - z3) * a % P
        cb = (x3 + z3) * b % P
        x3 = (da + cb) * (da + cb) % P
        z3 = x1 * (da - cb) * (da - cb) % P
        x2 = aa * bb % P
        z2 = e * (aa + _A24 * e) % P
        if every and t % every == 0:
            yield None
    d = swap * (x2 - x3)
    x2 = x2 - d
    d = swap * (z2 - z3)
    z2 = z2 - d
    yield (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


def public_key(secret32):
    """The X25519 public key of a 32-byte secret: X25519(secret, 9)."""
    return x25519(secret32, BASE_U)
