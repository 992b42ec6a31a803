"""The device's hand-written crypto (firmware/core/crypto/), run in the MicroPython VM and imported into
CPython, against two well-kept independent libraries: PyNaCl (libsodium) and `cryptography` (OpenSSL),
on a few hundred random keys, messages and lengths around the block edges; edits refused."""
import os
import random

import nacl.bindings as sodium
import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from alertbutton import fwimport, vm  # noqa: F401 - fwimport puts the device tree on sys.path

from firmware.core.crypto import chacha20poly1305 as aead  # noqa: E402

ORACLE = os.path.join(vm.REPO, "tests", "vm", "crypto_oracle.py")
EDGE_LENGTHS = (0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 255, 256, 257, 511, 512, 513)


def oracle(requests):
    """Answers of the device code in the VM, one per request (op, *bytes)."""
    lines = [" ".join([op] + [a.hex() or "-" for a in args]) for op, *args in requests]
    p = vm.run(script=ORACLE, stdin="\n".join(lines) + "\n", timeout=600)
    answers = p.stdout.splitlines()
    assert len(answers) == len(requests), p.stdout[-2000:] + p.stderr[-2000:]
    return [None if a.startswith("ERR") else (b"" if a == "-" else bytes.fromhex(a)) for a in answers]


def rnd(r, n):
    return bytes(r.getrandbits(8) for _ in range(n))


def aead_cases(seed, count):
    r = random.Random(seed)
    cases = []
    for i in range(count):
        n = EDGE_LENGTHS[i] if i < len(EDGE_LENGTHS) else r.choice(EDGE_LENGTHS + (r.randrange(1024),))
        cases.append((rnd(r, 32), rnd(r, 12), rnd(r, r.choice((0, 1, 12, 16, 64, 100))), rnd(r, n)))
    return cases


def sodium_seal(key, nonce, ad, msg):
    return sodium.crypto_aead_chacha20poly1305_ietf_encrypt(msg, ad or None, nonce, key)


def test_aead_seal_matches_libsodium_and_openssl_in_the_vm():
    cases = aead_cases(1, 300)
    got = oracle([("seal", k, n, a, m) for k, n, a, m in cases] + [("seal_into", k, n, a, m) for k, n, a, m in cases])
    for i, (k, n, a, m) in enumerate(cases):
        want = ChaCha20Poly1305(k).encrypt(n, m, a)
        assert want == sodium_seal(k, n, a, m)
        assert got[i] == want, (i, len(m), len(a))
        assert got[len(cases) + i] == want, (i, len(m), len(a))


def test_aead_open_takes_libsodium_output_and_refuses_every_edit_in_the_vm():
    r = random.Random(2)
    reqs, expect = [], []
    for k, n, a, m in aead_cases(3, 200):
        sealed = sodium_seal(k, n, a, m)
        reqs.append(("open", k, n, a, sealed))
        expect.append(m)
        bad = bytearray(sealed)
        bad[r.randrange(len(bad))] ^= 1 << r.randrange(8)  # one bit of ciphertext or tag
        reqs.append(("open", k, n, a, bytes(bad)))
        expect.append(None)
        bad_ad = bytearray(a + b"\x00") if not a else bytearray(a)
        if a:
            bad_ad[r.randrange(len(a))] ^= 0x80
        reqs.append(("open", k, n, bytes(bad_ad), sealed))
        expect.append(None)
        bad_n = bytearray(n)
        bad_n[r.randrange(12)] ^= 0x01
        reqs.append(("open", k, bytes(bad_n), a, sealed))
        expect.append(None)
        reqs.append(("open", k, n, a, sealed[:-1]))  # truncated
        expect.append(None)
    got = oracle(reqs)
    for i, (want, have) in enumerate(zip(expect, got)):
        assert have == want, (i, reqs[i][0])


def test_aead_in_cpython_matches_openssl():
    """The host imports the same module (plain-Python path): same bytes, same refusals."""
    for k, n, a, m in aead_cases(4, 60):
        want = ChaCha20Poly1305(k).encrypt(n, m, a)
        assert aead.seal(k, n, m, a) == want
        assert aead.open(k, n, want, a) == m
        with pytest.raises(ValueError):
            aead.open(k, n, want[:-1] + bytes([want[-1] ^ 1]), a)
