"""The device's hand-written crypto (firmware/core/crypto/), run in the MicroPython VM and imported into
CPython, against two well-kept independent libraries: PyNaCl (libsodium) and `cryptography` (OpenSSL),
on a few hundred random keys, messages and lengths around the block edges; edits refused."""
import os
import random

import hashlib
import hmac

import nacl.bindings as sodium
import nacl.exceptions
import nacl.signing
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from alertbutton import fwimport, vm  # noqa: F401 - fwimport puts the device tree on sys.path

from firmware.core.crypto import chacha20poly1305 as aead  # noqa: E402
from firmware.core.crypto import ed25519, hkdf, x25519  # noqa: E402
from firmware.core.crypto.sha512 import sha512  # noqa: E402

ORACLE = os.path.join(vm.REPO, "tests", "vm", "crypto_oracle.py")
EDGE_LENGTHS = (0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 255, 256, 257, 511, 512, 513)


def oracle(requests):
    """Answers of the device code in the VM, one per request (op, *bytes)."""
    lines = [" ".join([op] + [a.hex() or "-" for a in args]) for op, *args in requests]
    p = vm.run(script=ORACLE, stdin="\n".join(lines) + "\n", timeout=600)
    answers = p.stdout.splitlines()
    assert len(answers) == len(requests), p.stdout[-2000:] + p.stderr[-2000:]
    return [None if a.startswith("ERR") else a == "OK" if a in ("OK", "NO") else (b"" if a == "-" else bytes.fromhex(a))
            for a in answers]


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


MSG_LENGTHS = (0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 255, 256, 257, 1000)


def test_x25519_matches_libsodium_and_openssl_in_the_vm():
    r = random.Random(5)
    cases = [(rnd(r, 32), rnd(r, 32)) for _ in range(150)]  # u with its top bit set half of the time
    got = oracle([("x25519", k, u) for k, u in cases] + [("x25519_pub", k, ) for k, _ in cases])
    for i, (k, u) in enumerate(cases):
        want = sodium.crypto_scalarmult(k, u)
        assert got[i] == want, i
        assert X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u)) == want, i
        assert got[len(cases) + i] == sodium.crypto_scalarmult_base(k), i


def test_ed25519_matches_libsodium_both_ways_in_the_vm():
    r = random.Random(6)
    cases = []
    for i in range(120):
        n = MSG_LENGTHS[i % len(MSG_LENGTHS)] if i < 2 * len(MSG_LENGTHS) else r.randrange(300)
        cases.append((rnd(r, 32), rnd(r, n)))
    reqs = [("ed_pub", seed) for seed, _ in cases] + [("ed_sign", seed, m) for seed, m in cases]
    # PyNaCl's signatures verified by the device code, and one-bit edits of them refused
    theirs = []
    for seed, m in cases:
        sk = nacl.signing.SigningKey(seed)
        sig = sk.sign(m).signature
        bad = bytearray(sig)
        bad[r.randrange(64)] ^= 1 << r.randrange(8)
        pub = bytes(sk.verify_key)
        theirs.append((pub, m, sig, bytes(bad)))
        reqs += [("ed_verify", pub, m, sig), ("ed_verify", pub, m, bytes(bad)), ("ed_verify", pub, m + b"!", sig)]
    got = oracle(reqs)
    n = len(cases)
    for i, (seed, m) in enumerate(cases):
        sk = nacl.signing.SigningKey(seed)
        assert got[i] == bytes(sk.verify_key), i
        mine = got[n + i]
        assert mine == sk.sign(m).signature, i
        sk.verify_key.verify(m, mine)  # PyNaCl verifies the device's signature (raises if not)
        Ed25519PublicKey.from_public_bytes(got[i]).verify(mine, m)  # and OpenSSL does
        assert got[2 * n + 3 * i] is True, i
        assert got[2 * n + 3 * i + 1] is False, i
        assert got[2 * n + 3 * i + 2] is False, i
        with pytest.raises(nacl.exceptions.BadSignatureError):
            sk.verify_key.verify(m, theirs[i][3])


def test_ed25519_refuses_what_libsodium_refuses_in_the_vm():
    """Non-canonical S (S + L), non-canonical y (>= p), x = 0 with the sign bit, and small-order A or R:
    a public key of small order (here the identity) would make (R = identity, S = 0) a valid
    signature of every message under RFC 8032's bare equation; both refuse it."""
    p = 2 ** 255 - 19
    ell = 2 ** 252 + 27742317777372353535851937790883648493
    seed, m = bytes(range(32)), b"head"
    sk = nacl.signing.SigningKey(seed)
    pub, sig = bytes(sk.verify_key), sk.sign(m).signature
    s = int.from_bytes(sig[32:], "little")
    identity = (1).to_bytes(32, "little")
    small = [identity, (p - 1).to_bytes(32, "little"), bytes(32), (1 << 255).to_bytes(32, "little")]
    bad = [(pub, sig[:32] + (s + ell).to_bytes(32, "little")),
           ((p + 1).to_bytes(32, "little"), sig),
           (pub, (p + 1).to_bytes(32, "little") + sig[32:]),
           ((1 | 1 << 255).to_bytes(32, "little"), sig)]
    bad += [(a, identity + bytes(32)) for a in small]  # the forgery a small-order key allows
    bad += [(pub, r + sig[32:]) for r in small]
    got = oracle([("ed_verify", a, m, g) for a, g in bad])
    for i, (a, g) in enumerate(bad):
        assert got[i] is False, i
        with pytest.raises((nacl.exceptions.BadSignatureError, ValueError)):
            nacl.signing.VerifyKey(a).verify(m, g)


def test_sha512_hmac_hkdf_match_hashlib_and_openssl_in_the_vm():
    r = random.Random(7)
    msgs = [rnd(r, n) for n in MSG_LENGTHS + tuple(r.randrange(600) for _ in range(30))]
    keys = [rnd(r, r.choice((0, 1, 32, 63, 64, 65, 131))) for _ in range(40)]
    hk = [(rnd(r, r.randrange(1, 80)), rnd(r, r.choice((0, 16, 32, 64))), rnd(r, r.randrange(40)),
           r.choice((0, 1, 32, 33, 64, 100, 8160))) for _ in range(40)]
    got = oracle([("sha512", m) for m in msgs] + [("hmac", k, msgs[i]) for i, k in enumerate(keys)]
                 + [("hkdf", a, b, c, n.to_bytes(2, "big")) for a, b, c, n in hk])
    for i, m in enumerate(msgs):
        assert got[i] == hashlib.sha512(m).digest(), len(m)
    off = len(msgs)
    for i, k in enumerate(keys):
        assert got[off + i] == hmac.new(k, msgs[i], "sha256").digest(), len(k)
    off += len(keys)
    for i, (ikm, salt, info, n) in enumerate(hk):
        want = HKDF(hashes.SHA256(), n, salt or None, info).derive(ikm) if n else b""
        assert got[off + i] == want, (i, n)


def test_the_same_modules_in_cpython():
    r = random.Random(8)
    for n in MSG_LENGTHS:
        m = rnd(r, n)
        assert sha512(m).digest() == hashlib.sha512(m).digest()
        seed = rnd(r, 32)
        sk = nacl.signing.SigningKey(seed)
        assert ed25519.public_key(seed) == bytes(sk.verify_key)
        sig = ed25519.sign(seed, m)
        assert sig == sk.sign(m).signature
        assert ed25519.verify(bytes(sk.verify_key), m, sig)
        k, u = rnd(r, 32), rnd(r, 32)
        assert x25519.x25519(k, u) == sodium.crypto_scalarmult(k, u)
        assert hkdf.hkdf_sha256(m, k, u, 42) == HKDF(hashes.SHA256(), 42, k, u).derive(m)
