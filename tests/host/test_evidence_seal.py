"""The host's sealed-evidence reader (alertbutton.evidence.seal, PyNaCl) against a second sealer written
from the spec with `cryptography` (evidence_forge.py); the association key file; the anchors' parsing."""
import binascii
import hashlib
import os
import stat
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from alertbutton import cli  # noqa: E402
from alertbutton.evidence import anchors, seal  # noqa: E402
from firmware.core import evidence_chunk as C  # noqa: E402
import evidence_forge as F  # noqa: E402


def chunk(index=3, blocks=4, final=True, seed=1):
    audio = hashlib.sha256(bytes([seed])).digest() * (8 * blocks)
    return (C.header(b"DEV-0001", 7, 2, index, 8000, 0, 1767225600000, 4000, 5, (45.1, 4.2, 9, 2), b"\1" * 32)
            + audio + C.trailer(blocks, C.T_FINAL if final else 0))


@pytest.fixture
def keyfile(tmp_path, capsys):
    path = tmp_path / "assoc.key"
    assert cli.main(["keys", "association", "new", "--out", str(path)]) == 0
    pub = capsys.readouterr().out.strip()
    return path, seal.load_association_key(str(path)), pub


def test_key_file_is_private_never_overwritten_and_prints_its_public_key(keyfile, capsys):
    path, (secret, public), printed = keyfile
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert printed == binascii.hexlify(public).decode()
    before = path.read_bytes()
    assert cli.main(["keys", "association", "new", "--out", str(path)]) == 2
    assert "not overwritten" in capsys.readouterr().err and path.read_bytes() == before
    assert cli.main(["keys", "association", "show", str(path)]) == 0
    assert capsys.readouterr().out.strip() == printed
    path.write_text(path.read_text().replace(printed, "00" * 32))
    with pytest.raises(ValueError, match="damaged"):
        seal.load_association_key(str(path))


@pytest.mark.parametrize("blocks,end", [(4, "trailer"), (0, "trailer"), (3, "close"), (2, "open")])
def test_the_pynacl_reader_opens_what_the_cryptography_sealer_wrote(keyfile, blocks, end):
    _, (secret, public), _ = keyfile
    plain = chunk(blocks=blocks)
    key, epk = F.recording_key(os.urandom(32), public)
    data = F.seal_chunk(plain, key, epk, close_marker=end == "close")
    if end == "open":
        data = data[:-32]
    assert len(data) == 64 + 116 + 272 * blocks + {"trailer": 32, "close": 16, "open": 0}[end]
    got, info = seal.unseal(data, secret, public)
    if end == "trailer":
        assert got == plain and not info["closed_at_boot"]
    elif end == "close":
        assert got[:-16] == plain[:-16] and info["closed_at_boot"] and C.parse(got)["blocks"] == blocks
    else:
        assert got == plain[:-16] and info["open"]
    assert (info["device"], info["recording"], info["index"]) == (b"DEV-0001".hex(), 7, 3)


def test_another_association_key_or_a_cut_file_is_refused(keyfile, tmp_path):
    _, (secret, public), _ = keyfile
    key, epk = F.recording_key(os.urandom(32), public)
    data = F.seal_chunk(chunk(), key, epk)
    p2 = tmp_path / "other.key"
    seal.new_association_key(str(p2))
    other = seal.load_association_key(str(p2))
    with pytest.raises(seal.SealError, match="not sealed to this association's key"):
        seal.unseal(data, *other)
    with pytest.raises(seal.SealError, match="length"):
        seal.unseal(data[:-5], secret, public)
    # a record moved to another place (nonce = record number | chunk index) does not open
    swapped = data[:180] + data[180 + 272:180 + 544] + data[180:180 + 272] + data[180 + 544:]
    with pytest.raises(seal.SealError, match="audio block 0"):
        seal.unseal(swapped, secret, public)
    # a low-order ephemeral key (all zero) is refused, never used
    zero = data[:24] + bytes(32) + data[56:]
    with pytest.raises(seal.SealError, match="low-order"):
        seal.unseal(zero, secret, public)


def test_the_envelope_is_read_by_the_device_s_own_parser(keyfile, monkeypatch):
    # one reading of the format (review of issue 21): the host adapts firmware/core/evidence_seal's parser
    # (device id as hex, the envelope's bytes, SealError) instead of keeping a twin of it
    from firmware.core import evidence_seal as FS
    env = FS.envelope(b"DEV-0001", 7, 3, b"\x09" * 32)
    assert seal.parse_envelope(env + b"records") == {"device": b"DEV-0001".hex(), "recording": 7, "index": 3,
                                                     "epk": b"\x09" * 32, "envelope": env}
    for bad, why in ((env[:63], "too short"), (b"XBSE" + env[4:], "bad envelope"),
                     (env[:4] + b"\x02" + env[5:], "unknown sealed chunk version"), (env[:-1] + b"\x01", "version")):
        with pytest.raises(seal.SealError, match=why):
            seal.parse_envelope(bad)
    _, (secret, public), _ = keyfile
    key, epk = F.recording_key(os.urandom(32), public)
    data = F.seal_chunk(chunk(), key, epk)
    real, seen = FS.parse_envelope, []
    monkeypatch.setattr(FS, "parse_envelope", lambda d: seen.append(bytes(d[:64])) or real(d))
    seal.unseal(data, secret, public)
    assert seen == [data[:64]]


def test_hkdf_matches_rfc5869_test_case_1():
    ikm = b"\x0b" * 22
    salt = bytes(range(13))
    info = bytes(range(0xf0, 0xfa))
    assert seal.hkdf_sha256(ikm, salt, info, 42).hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def test_anchors_parse_and_say_what_to_give(tmp_path):
    seed = bytes(range(32))
    head = hashlib.sha256(b"x").digest()
    rec = F.sign_head(seed, b"DEV-0001", 7, 3, head, True)
    a = anchors.parse(rec.hex(), F.ed25519_public(seed))[0]
    assert (a.kind, a.index, a.final, a.signed, a.recording) == ("signed", 3, True, True, 7)
    assert "did not sign it" in anchors.parse(rec.hex(), F.ed25519_public(bytes(32)))[0].signed
    assert "--device-key" in anchors.parse(rec.hex())[0].signed
    f = tmp_path / "heads.abh"
    f.write_bytes(rec + rec)
    assert len(anchors.parse(str(f))) == 2
    f.write_bytes(rec[:-1])
    with pytest.raises(ValueError, match="not a whole number"):
        anchors.parse(str(f))
    ref = anchors.sms_reference(3, head)
    assert len(ref) == 2 + 13 and anchors.parse(ref.lower())[0].matches(head)
    assert anchors.parse(head.hex())[0].matches(head)
    for bad in ("3:ABCDEFGHIJKL", "12", "zz" * 32, "3:" + "1" * 13):
        with pytest.raises(ValueError):
            anchors.parse(bad)
    assert anchors.load_device_key(F.ed25519_public(seed).hex()) == F.ed25519_public(seed)
    with pytest.raises(ValueError, match="64 hex digits"):
        anchors.load_device_key("abc")
