# Runs in the MicroPython VM for tests/host/test_crypto_interop.py: reads one request per stdin line,
# "OP hex hex ...", answers one line per request: the result in hex, "OK"/"NO" for a check, or
# "ERR <message>" when the device code raised ValueError. Modules are imported when first asked for.
import sys
from binascii import hexlify, unhexlify


def aead_seal(key, nonce, ad, msg):
    from firmware.core.crypto import chacha20poly1305 as C
    return C.seal(key, nonce, msg, ad)


def aead_seal_into(key, nonce, ad, msg):
    from firmware.core.crypto import chacha20poly1305 as C
    out = bytearray(len(msg) + 16)
    C.Sealer(key).seal_into(nonce, msg, len(msg), ad, out)
    return out


def aead_open(key, nonce, ad, data):
    from firmware.core.crypto import chacha20poly1305 as C
    return C.open(key, nonce, data, ad)


def x25519(k, u):
    from firmware.core.crypto import x25519 as X
    return X.x25519(k, u)


def x25519_pub(k):
    from firmware.core.crypto import x25519 as X
    return X.public_key(k)


def ed_pub(seed):
    from firmware.core.crypto import ed25519 as E
    return E.public_key(seed)


def ed_sign(seed, msg):
    from firmware.core.crypto import ed25519 as E
    return E.sign(seed, msg)


def ed_verify(pub, msg, sig):
    from firmware.core.crypto import ed25519 as E
    return E.verify(pub, msg, sig)


def sha512(msg):
    from firmware.core.crypto.sha512 import sha512 as H
    return H(msg).digest()


def hmac(key, msg):
    from firmware.core.crypto.hkdf import hmac_sha256
    return hmac_sha256(key, msg)


def hkdf(ikm, salt, info, length):  # length: 2 bytes, big-endian
    from firmware.core.crypto.hkdf import hkdf_sha256
    return hkdf_sha256(ikm, salt, info, int.from_bytes(length, "big"))


OPS = {"seal": aead_seal, "seal_into": aead_seal_into, "open": aead_open, "x25519": x25519,
       "x25519_pub": x25519_pub, "ed_pub": ed_pub, "ed_sign": ed_sign, "ed_verify": ed_verify,
       "sha512": sha512, "hmac": hmac, "hkdf": hkdf}


def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        words = line.split()
        if not words:
            continue
        args = [unhexlify(w) if w != "-" else b"" for w in words[1:]]
        try:
            r = OPS[words[0]](*args)
        except ValueError as e:
            print("ERR", str(e).replace("\n", " "))
            continue
        if r is True or r is False:
            print("OK" if r else "NO")
        else:
            print(hexlify(r).decode() or "-")


main()
