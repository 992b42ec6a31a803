# SHA-512 (FIPS 180-4) and Ed25519 (RFC 8032) in the MicroPython VM: the standards' vectors (RFC 8032
# 7.1 TEST 1, 2, 3, 1024 and SHA(abc)), edits refused, and the encodings RFC 8032 5.1.3/5.1.7 says a
# verifier must refuse (S >= L, y >= p, x = 0 with the sign bit set).
from binascii import unhexlify as h

from firmware.core.crypto import ed25519 as E
from firmware.core.crypto.sha512 import sha512

TWO_BLOCKS = (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
              b"mnopqrstnopqrstu")
ABC512 = ("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
          "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
MSG1024 = h(
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
    "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
    "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
    "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
    "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
    "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
    "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
    "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
    "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
    "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
    "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
    "c60c905c15fc910840b94c00a0b9d0"
)
# RFC 8032 7.1: secret seed, public key, message, signature
VECTORS = (
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", b"",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", h("72"),
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", h("af82"),
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ("f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e", MSG1024,
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
     "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"),
    ("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf", h(ABC512),
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
)
L = 2 ** 252 + 27742317777372353535851937790883648493
P = 2 ** 255 - 19


def test_fips180_sha512_abc_and_two_blocks():
    assert sha512(b"abc").digest() == h(ABC512)
    assert sha512(TWO_BLOCKS).digest() == h(
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909")
    assert len(sha512().digest()) == 64


def test_fips180_sha512_million_a():
    s = sha512()
    a = b"a" * 1000
    for _ in range(1000):
        s.update(a)
    assert s.digest() == h("e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
                           "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b")


def test_sha512_viper_matches_plain_twin():
    data = bytes((i * 131 + 7) & 255 for i in range(700))
    for n in (0, 1, 111, 112, 113, 127, 128, 129, 239, 240, 256, 700):
        assert sha512(data[:n]).digest() == sha512(data[:n], True).digest(), n


def test_sha512_updates_in_pieces_equal_one_update():
    want = sha512(MSG1024).digest()
    for step in (1, 7, 111, 112, 127, 128, 129, 500):
        s = sha512()
        for i in range(0, len(MSG1024), step):
            s.update(MSG1024[i:i + step])
        assert s.digest() == want, step
        assert s.digest() == want  # digest() leaves the object usable


def test_rfc8032_7_1_vectors():
    for n, (sk, pk, msg, sig) in enumerate(VECTORS):
        assert E.public_key(h(sk)) == h(pk), n
        assert E.sign(h(sk), msg) == h(sig), n
        assert E.verify(h(pk), msg, h(sig)), n


def test_the_kept_key_follows_the_seed():
    # sign() keeps the last seed's expanded key: alternating seeds, and a seed buffer changed in
    # place, must still sign with the key they hold now
    seed = bytearray(h(VECTORS[0][0]))
    assert E.sign(seed, b"") == h(VECTORS[0][3])
    seed[:] = h(VECTORS[1][0])
    assert E.sign(seed, h("72")) == h(VECTORS[1][3])
    assert E.public_key(h(VECTORS[0][0])) == h(VECTORS[0][1])
    assert E.sign(h(VECTORS[1][0]), h("72")) == h(VECTORS[1][3])


def test_edits_refused():
    sk, pk, msg, sig = VECTORS[2]
    pk, sig = h(pk), h(sig)
    for pos in (0, 31, 32, 63):
        bad = bytearray(sig)
        bad[pos] ^= 0x04
        assert not E.verify(pk, msg, bytes(bad)), pos
    assert not E.verify(pk, msg + b"\x00", sig)
    assert not E.verify(pk, msg[:1], sig)
    assert not E.verify(h(VECTORS[1][1]), msg, sig)  # another key
    assert not E.verify(pk, msg, sig[:63])
    assert not E.verify(pk[:31], msg, sig)


def test_non_canonical_encodings_refused():
    sk, pk, msg, sig = VECTORS[0]
    pk, sig = h(pk), h(sig)
    # S + L is the same scalar mod L: RFC 8032 5.1.7 refuses S >= L (no malleable twin signatures)
    s = int.from_bytes(sig[32:], "little")
    assert not E.verify(pk, msg, sig[:32] + (s + L).to_bytes(32, "little"))
    # y >= p: decoding fails (5.1.3 step 1). y = p + 1 would be the point y = 1 (the identity)
    assert not E.verify((P + 1).to_bytes(32, "little"), msg, sig)
    assert not E.verify(pk, msg, (P + 1).to_bytes(32, "little") + sig[32:])
    # y = 1 has x = 0: with the sign bit set, decoding fails (5.1.3 step 4)
    assert not E.verify((1 | (1 << 255)).to_bytes(32, "little"), msg, sig)
    # a y with no x on the curve (x^2 is not a square)
    assert not E.verify((2).to_bytes(32, "little"), msg, sig)


def test_wrong_seed_size_refused():
    try:
        E.sign(bytes(31), b"x")
    except ValueError as e:
        assert "32 bytes" in str(e)
    else:
        raise AssertionError("accepted a 31-byte seed")


def test_small_order_key_or_r_refused():
    # under the identity as a public key, R = identity and S = 0 satisfy [S]B = R + [k]A for every
    # message; RFC 8032's equation alone accepts it, the device code (like libsodium) does not
    identity = (1).to_bytes(32, "little")
    for a in (identity, (P - 1).to_bytes(32, "little"), bytes(32)):  # orders 1, 2, 4
        assert not E.verify(a, b"any message", identity + bytes(32))
    sk, pk, msg, sig = VECTORS[0]
    assert not E.verify(h(pk), msg, identity + h(sig)[32:])


def test_comb_table_is_the_sums_of_its_teeth():
    # the 16 points written out in ed25519.py are those _comb_build() computes from the base point
    built = E._comb_build()
    assert len(E._COMB) == 16
    for i in range(16):
        assert E._equal(built[i], E._COMB[i]), i


def test_sign_steps_yields_between_pieces_and_signs_the_same():
    for n, (sk, pk, msg, sig) in enumerate(VECTORS[:3]):
        seed = bytearray(h(sk))
        seed[0] ^= 1  # a seed not kept yet: its k * B is done in pieces too
        nones = 0
        out = []
        for x in E.sign_steps(seed, msg, 16):
            if x is None:
                nones += 1
            else:
                out.append(x)
        assert out == [E.sign(seed, msg)], n
        assert nones == 8, nones  # 64 columns / 16, for a * B and for r * B
        steps = list(E.sign_steps(h(sk), msg, 8))  # another seed: a * B and r * B in 8 pieces each
        assert steps[-1] == h(sig) and steps[:-1] == [None] * 16
        steps = list(E.sign_steps(h(sk), msg, 8))  # that key is now kept: r * B only
        assert steps[-1] == h(sig) and steps[:-1] == [None] * 8
