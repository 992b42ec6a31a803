# HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869) over hashlib.sha256, which MicroPython has.
import hashlib

_BLOCK = 64  # SHA-256 block size
HASH_BYTES = 32


def hmac_sha256(key, msg):
    """HMAC-SHA256(key, msg): 32 bytes."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    k = bytearray(_BLOCK)
    k[:len(key)] = key
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))
    outer.update(inner.digest())
    return outer.digest()


def hkdf_sha256(ikm, salt, info, length):
    """RFC 5869 HKDF with SHA-256: extract (an empty salt means 32 zero bytes), then expand to length
    bytes (at most 255 x 32)."""
    if not 0 <= length <= 255 * HASH_BYTES:
        raise ValueError("HKDF-SHA256 gives 0 to 8160 bytes, not %d" % length)
    prk = hmac_sha256(salt if salt else bytes(HASH_BYTES), ikm)
    okm = bytearray()
    t = b""
    i = 1
    while len(okm) < length:
        t = hmac_sha256(prk, t + info + bytes((i,)))
        okm.extend(t)
        i += 1
    return bytes(okm[:length])
