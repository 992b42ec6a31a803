# ChaCha20-Poly1305 (RFC 8439) in the MicroPython VM: the RFC's vectors through the viper code and its
# plain twin, the twins agree on every length around the 16- and 64-byte boundaries, any edit is
# refused, and Sealer.seal_into allocates nothing per 256-byte ADPCM block.
import gc
from binascii import unhexlify as h

from firmware.core.crypto import chacha20poly1305 as C
from rng import Rng

SUNSCREEN = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
             b"sunscreen would be it.")
K282 = h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
N282 = h("070000004041424344454647")
AD282 = h("50515253c0c1c2c3c4c5c6c7")
CT282 = h("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
          "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
          "3ff4def08e4b7a9de576d26586cec64b6116")
TAG282 = h("1ae10b594f09e26a7e902ecbd0600691")

KA5 = h("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0")
NA5 = h("000000000102030405060708")
ADA5 = h("f33388860000000000004e91")
CTA5 = h("64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0"
         "bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
         "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e9"
         "9040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
         "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130"
         "305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b")
TAGA5 = h("eead9d67890cbb22392336fea1851f38")
PTA5 = (b"Internet-Drafts are draft documents valid for a maximum of six months and may be updated, "
        b"replaced, or obsoleted by other documents at any time. It is inappropriate to use Internet-Drafts "
        b"as reference material or to cite them other than as /\xe2\x80\x9cwork in progress./\xe2\x80\x9d")

# RFC 8439 appendix A.3, the Poly1305 vectors whose messages are whole 16-byte blocks (the only form the
# AEAD feeds it): key (r || s), message, tag. #5-#11 drive h to the edges of the reduction mod 2**130-5.
POLY_A3 = (
    ("00" * 32, "00" * 64, "00" * 16),  # 1
    ("02" + "00" * 31, "ff" * 16, "03" + "00" * 15),  # 5
    ("02" + "00" * 15 + "ff" * 16, "02" + "00" * 15, "03" + "00" * 15),  # 6
    ("01" + "00" * 31, "ff" * 16 + "f0" + "ff" * 15 + "11" + "00" * 15, "05" + "00" * 15),  # 7
    ("01" + "00" * 31, "ff" * 16 + "fb" + "fe" * 15 + "01" * 16, "00" * 16),  # 8
    ("02" + "00" * 31, "fd" + "ff" * 15, "fa" + "ff" * 15),  # 9
    ("01" + "00" * 7 + "04" + "00" * 23, "e33594d7505e43b9" + "00" * 8 + "3394d7505e4379cd01" + "00" * 7
     + "00" * 16 + "01" + "00" * 15, "14" + "00" * 7 + "55" + "00" * 7),  # 10
    ("01" + "00" * 7 + "04" + "00" * 23, "e33594d7505e43b9" + "00" * 8 + "3394d7505e4379cd01" + "00" * 7
     + "00" * 16, "13" + "00" * 15),  # 11
)


def both():
    return (False, True)  # viper (on MicroPython), plain twin


def test_rfc8439_2_3_2_chacha20_block():
    want = h("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
             "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")
    for plain in both():
        s = C.Sealer(bytes(range(32)), plain)
        s._words(s._st, 13, h("000000090000004a00000000"), 3)
        s._st[12] = 1
        s._block(s._st, s._x, s._ks)
        assert bytes(s._ks) == want, plain


def test_rfc8439_a3_poly1305_vectors_incl_reduction_edges():
    for plain in both():
        for n, (key, msg, tag) in enumerate(POLY_A3):
            p = C._PolyPy() if plain else C._Poly()
            p.start(bytearray(h(key)))
            m = h(msg)
            p.blocks(m, 0, len(m))
            out = bytearray(16)
            p.finish(out, 0)
            assert bytes(out) == h(tag), (plain, n, out)


def test_rfc8439_2_8_2_seal_and_open():
    assert C.seal(K282, N282, SUNSCREEN, AD282) == CT282 + TAG282
    assert C.open(K282, N282, CT282 + TAG282, AD282) == SUNSCREEN
    for plain in both():
        s = C.Sealer(K282, plain)
        out = bytearray(len(SUNSCREEN) + 16)
        assert s.seal_into(N282, SUNSCREEN, len(SUNSCREEN), AD282, out) == len(SUNSCREEN) + 16
        assert bytes(out) == CT282 + TAG282, plain


def test_rfc8439_a5_open_and_tampering_refused():
    assert C.open(KA5, NA5, CTA5 + TAGA5, ADA5) == PTA5
    assert C.seal(KA5, NA5, PTA5, ADA5) == CTA5 + TAGA5
    sealed = CTA5 + TAGA5
    for pos in (0, 100, len(CTA5) - 1, len(CTA5), len(sealed) - 1):  # ciphertext and tag bytes
        bad = bytearray(sealed)
        bad[pos] ^= 0x01
        refused(KA5, NA5, bad, ADA5)
    refused(KA5, NA5, sealed, ADA5[:-1] + b"\x90")  # associated data
    refused(KA5, NA5, sealed, b"")
    refused(KA5, NA5[:-1] + b"\x09", sealed, ADA5)  # nonce
    refused(KA5[:-1] + b"\xc1", NA5, sealed, ADA5)  # key
    refused(KA5, NA5, sealed[:-1], ADA5)  # truncated
    refused(KA5, NA5, sealed[:15], ADA5)  # shorter than a tag


def refused(key, nonce, data, ad):
    try:
        C.open(key, nonce, data, ad)
    except ValueError:
        return
    raise AssertionError("accepted a tampered message")


def test_viper_matches_plain_twin_around_block_edges():
    rng = Rng(21)
    for n in (0, 1, 15, 16, 17, 63, 64, 65, 100, 127, 128, 255, 256, 257, 300):
        key = bytes(rng.below(256) for _ in range(32))
        nonce = bytes(rng.below(256) for _ in range(12))
        ad = bytes(rng.below(256) for _ in range(rng.below(70)))
        msg = bytes(rng.below(256) for _ in range(n))
        outs = []
        for plain in both():
            out = bytearray(n + 16)
            C.Sealer(key, plain).seal_into(nonce, msg, n, ad, out)
            outs.append(bytes(out))
        assert outs[0] == outs[1], n
        assert C.open(key, nonce, outs[0], ad) == msg


def test_open_into_leaves_out_untouched_on_a_bad_tag():
    sealed = bytearray(CT282 + TAG282)
    sealed[3] ^= 0x80
    out = bytearray(b"\xaa" * len(SUNSCREEN))
    try:
        C.Sealer(K282).open_into(N282, sealed, len(sealed), AD282, out)
    except ValueError:
        pass
    else:
        raise AssertionError("accepted")
    assert out == bytearray(b"\xaa" * len(SUNSCREEN))


def test_wrong_sizes_refused_with_a_message():
    for bad in (lambda: C.Sealer(bytes(31)), lambda: C.seal(bytes(32), bytes(8), b"x"),
                lambda: C.Sealer(bytes(32)).seal_into(bytes(12), bytes(256), 256, b"", bytearray(271))):
        try:
            bad()
        except ValueError as e:
            assert "bytes" in str(e), e
        else:
            raise AssertionError("accepted")


def test_seal_into_a_256_byte_block_allocates_nothing():
    s = C.Sealer(bytes(range(32)))
    src = bytearray(range(256))
    ad = bytes(64)
    out = bytearray(272)
    nonce = bytearray(12)
    s.seal_into(nonce, src, 256, ad, out)  # first call: anything lazily made is made now
    gc.collect()
    gc.disable()
    try:
        a = gc.mem_alloc()
        for i in range(10):
            nonce[0] = i
            s.seal_into(nonce, src, 256, ad, out)
        grown = gc.mem_alloc() - a
    finally:
        gc.enable()
    assert grown == 0, grown
    assert C.open(bytes(range(32)), nonce, out, ad) == src


def test_poly1305_limbs_at_their_largest_match_the_big_int_twin():
    # every key and message byte 0xff: r and each block at their maxima, the limb products at their
    # bound (an overflow of the 32-bit sums on the ESP32 word size would show here)
    rng = Rng(7)
    for n in (16, 32, 48, 64, 256, 336):
        for key in (b"\xff" * 32, bytes(rng.below(256) | 0xF0 for _ in range(32))):
            outs = []
            for p in (C._Poly(), C._PolyPy()):
                p.start(key)
                p.blocks(b"\xff" * n, 0, n)
                out = bytearray(16)
                p.finish(out, 0)
                outs.append(bytes(out))
            assert outs[0] == outs[1], n


def test_wipe_zeroes_the_key_material_and_the_sealer_refuses_after():
    for plain in both():
        s = C.Sealer(bytes(range(1, 33)), plain)
        out = bytearray(272)
        s.seal_into(bytes(12), bytes(256), 256, b"ad", out)
        s.wipe()
        for name, buf in (("st", s._st), ("x", s._x), ("ks", s._ks), ("pk", s._pk)):
            assert not any(buf), name
        if not plain:
            assert not any(s._poly.st) and not any(s._poly.blk)
        try:
            s.seal_into(bytes(12), bytes(256), 256, b"ad", out)
        except ValueError as e:
            assert "wiped" in str(e)
        else:
            raise AssertionError("sealed after wipe")
