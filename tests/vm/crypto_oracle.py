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


OPS = {"seal": aead_seal, "seal_into": aead_seal_into, "open": aead_open}


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
