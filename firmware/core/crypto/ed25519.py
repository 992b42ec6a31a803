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


def _comb_build():
    """The 16 sums of subsets of (B, 2**64 B, 2**128 B, 2**192 B): bit j of the index picks 2**(64 j) B."""
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
    return t


_COMB_XY = (  # affine (x, y) of the comb's 16 points, as _comb_build() makes them
# (tests/device/test_crypto_sign.py checks it), written out so that the first signature after boot
# does not spend ~192 doublings on it
    (0,
     1),
    (15112221349535400772501151409588531511454012693041857206046113283949847762202,
     46316835694926478169428394003475163141307993866256225615783033603165251855960),
    (44388040078108422381599858079345000847427885062711346041771517276226329616898,
     1423604317745427322790381226394774763053130405907994130724317794966956167955),
    (6662018706191599431178452166789606405230924871765404930296631972757808937890,
     10940808738719939520951740725815997438526784125558095970249408395799900020294),
    (34445898214599204196824587830670445739267303633182408050117152659121903233060,
     43048524062920118298805915568484795959327268000798232147099016825120495085163),
    (49932680846730765880533179156762681844729764660303290282431838816456080660122,
     25436089807757778647346428845003824853559812566485633362966320115826425843867),
    (49730975818164347011006896154679660253994691292635003667187683690561923697157,
     43596716265492324419331516172668782433411530304578416526773668234894379989556),
    (22583158913684270152462153164487795190657695630755172437031277995082192345699,
     27716812822613073638623047139973965235630375389646255964366934770076723066471),
    (12565258097955692523285632157940150666933275725759344066053586092157591802509,
     44257820073692905562487031197842487206011716534849741297988353661581996935219),
    (1254655783184262252761720491957047894808578059598021988084055038476963309624,
     30237906261674111456047362865862306788194523612141747644963688073701182560700),
    (51291989238019243964065907190524849689493213339112419613268768841719077980711,
     42120467551253144211154842336278010404166472543236760429630925987868506205638),
    (27559412028230547188545777341730024445972817818302348819496233773977746829119,
     28558358488154912190940160856807354772855366229979665916393116766142003866889),
    (53601385222564178042721839961511374545427486321901579839985780528373281190353,
     6215096747748361160392575943411485869065990211061961484377712199079533290491),
    (49645731462947602298222028587495026960959012715043533886385725247072311526068,
     51579172559389363090143787128331729084853341000884319143840244606872923094616),
    (22084982804466787139153214837859323006527770445482894243031572733624940398406,
     26548341893677810339165150225204154642304635560371885518256192343278415415558),
    (45452028498214867141103948926352521759432133754788911924881971985727495233520,
     16778384168542697335264398778852869845995672992150258689247267152337508849727),
)
_COMB = [(x, y, 1, x * y % P) for x, y in _COMB_XY]


def _mul_base(k, every=0):
    """Generator: k * B for 0 <= k < 2**256 (Lim-Lee comb with 4 teeth: 64 doublings and 64 additions,
    not 256 and 128; the addition law is complete, so adding the identity for a zero column is fine).
    Yields None after every `every` columns (never when 0); returns the point."""
    t = _COMB
    q = (0, 1, 1, 0)
    for i in range(63, -1, -1):
        q = _double(q)
        q = _add(q, t[((k >> i) & 1) | (((k >> (i + 64)) & 1) << 1) | (((k >> (i + 128)) & 1) << 2)
                      | (((k >> (i + 192)) & 1) << 3)])
        if every and i % every == 0:
            yield None
    return q


def _run(gen):
    """The value a generator returns, driven to its end."""
    try:
        while True:
            next(gen)
    except StopIteration as e:
        return e.value


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


def _expand(seed32, every=0):
    """Generator returning (scalar a, prefix, public key) of a seed (RFC 8032 5.1.5). The last seed's
    are kept: the device signs every chunk head with one key, and this saves a hash and a k * B."""
    global _LAST
    if len(seed32) != 32:
        raise ValueError("Ed25519 seed must be 32 bytes, got %d" % len(seed32))
    seed32 = bytes(seed32)
    if _LAST is None or _LAST[0] != seed32:
        h = sha512(seed32).digest()
        a = int.from_bytes(h[:32], "little")
        a &= (1 << 254) - 8
        a |= 1 << 254
        _LAST = (seed32, a, h[32:], _encode((yield from _mul_base(a, every))))
    return _LAST[1:]


_LAST = None


def public_key(seed32):
    """The 32-byte public key of a 32-byte private seed."""
    return _run(_expand(seed32))[2]


def sign_steps(seed32, msg, every=16):
    """sign() in pieces, for a caller that must not block (an asyncio task beside the audio): a
    generator that yields None after every `every` of the 64 comb columns of each scalar
    multiplication, then yields the 64-byte signature:
        for sig in sign_steps(seed, msg):
            if sig is None:
                await asyncio.sleep_ms(0)
    """
    a, prefix, pub = yield from _expand(seed32, every)
    r = _h_int(prefix, msg) % L
    rb = _encode((yield from _mul_base(r, every)))
    k = _h_int(rb, pub, msg) % L
    yield rb + ((r + k * a) % L).to_bytes(32, "little")


def sign(seed32, msg):
    """The 64-byte signature R || S of msg (RFC 8032 5.1.6, pure Ed25519)."""
    for sig in sign_steps(seed32, msg, 0):
        pass
    return sig


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
    return _equal(_run(_mul_base(s)), _add(r, _mul(k, a)))
