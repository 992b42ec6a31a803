# X25519 (RFC 7748) and HKDF-SHA256 (RFC 5869) in the MicroPython VM: RFC 7748 5.2 (both vectors, the 1
# and 1,000 iterations) and 6.1 (the Diffie-Hellman example), the small-order inputs that give an
# all-zero secret; RFC 5869 test cases 1-3 and the length limits.
from binascii import unhexlify as h

from firmware.core.crypto import x25519 as X
from firmware.core.crypto.hkdf import hkdf_sha256, hmac_sha256

P = 2 ** 255 - 19


def test_rfc7748_5_2_vectors():
    assert X.x25519(h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                    h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")) == h(
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
    # this u has its top bit set: masked, as the RFC says
    assert X.x25519(h("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                    h("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493")) == h(
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")


def test_rfc7748_5_2_iterations_1_and_1000():
    k = u = X.BASE_U
    for i in range(1000):
        k, u = X.x25519(k, u), k
        if i == 0:
            assert k == h("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
    assert k == h("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")


def test_rfc7748_6_1_diffie_hellman():
    a = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    pa, pb = X.public_key(a), X.public_key(b)
    assert pa == h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert pb == h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    k = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert X.x25519(a, pb) == k
    assert X.x25519(b, pa) == k


def test_small_order_points_give_all_zero_for_the_caller_to_refuse():
    # u = 0, u = 1 and u = p (non-canonical 0), p + 1: points of small order; RFC 7748 6.1: the result
    # is all zero, and the seal refuses it (engineer C's evidence_seal)
    a = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    for u in (0, 1, P, P + 1):
        assert X.x25519(a, u.to_bytes(32, "little")) == bytes(32), u


def test_non_canonical_u_is_reduced_mod_p():
    a = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    assert X.x25519(a, (P + 9).to_bytes(32, "little")) == X.public_key(a)


def test_wrong_sizes_refused():
    for k, u in ((bytes(31), X.BASE_U), (bytes(32), bytes(33))):
        try:
            X.x25519(k, u)
        except ValueError as e:
            assert "32 bytes" in str(e)
        else:
            raise AssertionError("accepted")


def test_rfc5869_cases_1_to_3():
    ikm = b"\x0b" * 22
    assert hmac_sha256(bytes(range(13)), ikm) == h(
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")  # case 1 PRK
    assert hkdf_sha256(ikm, bytes(range(13)), bytes(range(0xF0, 0xFA)), 42) == h(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    assert hkdf_sha256(bytes(range(80)), bytes(range(0x60, 0xB0)), bytes(range(0xB0, 0x100)), 82) == h(
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
        "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87")
    assert hkdf_sha256(ikm, b"", b"", 42) == h(
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")


def test_hmac_long_key_and_hkdf_limits():
    # RFC 4231 case 6: a 131-byte key is hashed first
    assert hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First") == h(
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    assert len(hkdf_sha256(b"k", b"s", b"i", 255 * 32)) == 255 * 32
    assert hkdf_sha256(b"k", b"s", b"i", 0) == b""
    for bad in (-1, 255 * 32 + 1):
        try:
            hkdf_sha256(b"k", b"s", b"i", bad)
        except ValueError:
            pass
        else:
            raise AssertionError("accepted length %d" % bad)


def test_x25519_steps_yields_between_pieces_and_gives_the_same():
    a = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    pb = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    steps = list(X.x25519_steps(a, pb, 32))
    assert steps[-1] == h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert steps[:-1] == [None] * 8  # ladder steps 254..0: a yield at t = 224, 192, ..., 0
