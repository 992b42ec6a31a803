"""The sealed-evidence layouts of issue 21 (firmware/core/evidence_seal.py) against the spec's words,
built here byte by byte with CPython's struct/base64 (not with the codec), on CPython and inside the VM."""
import base64
import hashlib
import json
import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from alertbutton import vm  # noqa: E402
from firmware.core import evidence_seal as S  # noqa: E402

DEV = b"DEVICE01"
EPK = bytes(range(1, 33))
HEAD = hashlib.sha256(b"chunk 3").digest()


def spec_envelope(dev, rec, index, epk):
    # "ABSE" | version u8 = 1 | reserved u8 = 0 | envelope size u16 = 64 | device id 8 | recording u32 |
    # chunk index u32 | epk 32 | 8 zero bytes
    return b"ABSE" + bytes([1, 0]) + (64).to_bytes(2, "little") + dev + rec.to_bytes(4, "little") + \
        index.to_bytes(4, "little") + epk + bytes(8)


def spec_head_message(dev, rec, index, head, final):
    return b"ABHD" + bytes([1, 1 if final else 0]) + bytes(2) + dev + rec.to_bytes(4, "little") + \
        index.to_bytes(4, "little") + head


def test_envelope_is_the_spec_bytes_and_parses_back():
    e = S.envelope(DEV, 7, 3, EPK)
    assert len(e) == 64 and e == spec_envelope(DEV, 7, 3, EPK)
    assert S.parse_envelope(e) == {"device": DEV, "recording": 7, "index": 3, "epk": EPK}
    assert S.envelope(b"D", 1, 0, EPK)[8:16] == b"D" + bytes(7)  # a short id is padded with zeros
    for bad in (e[:63], b"ABSF" + e[4:], e[:4] + b"\x02" + e[5:], e[:6] + b"\x41\x00" + e[8:], e[:56] + b"\x01" + e[57:]):
        with pytest.raises(ValueError):
            S.parse_envelope(bad)


def test_nonce_and_record_sizes():
    assert bytes(S.nonce(0, 5)) == struct.pack("<III", 0, 5, 0)
    assert bytes(S.nonce(0xFFFFFFFF, 2)) == b"\xff" * 4 + b"\x02" + bytes(7)
    assert (S.HEADER_RECORD, S.BLOCK_RECORD, S.TRAILER_RECORD) == (100 + 16, 256 + 16, 16 + 16)
    for n in (0, 1, 159):
        assert S.layout(64 + 116 + 272 * n + 32) == (n, S.END_TRAILER)
        assert S.layout(64 + 116 + 272 * n + 16) == (n, S.END_CLOSE)
        assert S.layout(64 + 116 + 272 * n) == (n, S.END_OPEN)
        for end in (S.END_TRAILER, S.END_CLOSE, S.END_OPEN):
            assert S.layout(S.file_size(n, end)) == (n, end)
    for bad in (0, 179, 64 + 116 + 5, 64 + 116 + 272 + 100):
        with pytest.raises(ValueError):
            S.layout(bad)
    # what recover() keeps of a .part: whole records only
    assert S.whole_records_size(179) == 0 and S.whole_records_size(180) == 180
    assert S.whole_records_size(180 + 272 * 2 + 271) == 180 + 272 * 2


def test_close_marker_is_the_spec_bytes():
    m = S.close_marker(12, 2)
    assert m == b"ABCL" + (12).to_bytes(4, "little") + b"\x02" + bytes(7) and len(m) == 16
    assert S.parse_close_marker(m) == {"blocks": 12, "flags": 2}


def test_head_message_and_record():
    m = S.head_message(DEV, 7, 3, HEAD, True)
    assert len(m) == 56 and m == spec_head_message(DEV, 7, 3, HEAD, True)
    assert S.head_message(DEV, 7, 3, HEAD, False)[5] == 0
    p = S.parse_head_record(m + bytes(range(64)))
    assert (p["device"], p["recording"], p["index"], p["head"], p["final"]) == (DEV, 7, 3, HEAD, True)
    assert p["signature"] == bytes(range(64)) and p["message"] == m
    for bad in (m + bytes(63), b"ABHX" + m[4:] + bytes(64), m[:5] + b"\x02" + m[6:] + bytes(64)):
        with pytest.raises(ValueError):
            S.parse_head_record(bad)


@pytest.mark.parametrize("seed", range(40))
def test_sms_ref_is_65_bits_of_rfc4648_base32(seed):
    head = hashlib.sha256(b"%d" % seed).digest()
    ref = S.sms_ref(seed, head)
    want = base64.b32encode(head[:10]).decode()[:13]  # RFC 4648, upper case; 13 chars = 65 bits
    assert ref == "%d:%s" % (seed, want)
    idx, v = S.parse_sms_ref(ref)
    assert idx == seed and v == int.from_bytes(head, "big") >> (256 - 65) == S.head_prefix65(head)
    assert S.parse_sms_ref(ref.lower()) == (idx, v)


def test_sms_ref_refusals_say_what_to_do():
    for bad, words in (("K7Q2M9ABCDEFG", "<chunk index>"), ("3:K7Q2", "13 characters"), ("3:K7Q2M9ABCDEF1", "base32"),
                       (":AAAAAAAAAAAAA", "<chunk index>")):
        with pytest.raises(ValueError) as e:
            S.parse_sms_ref(bad)
        assert words in str(e.value)


CODE = r"""
import json, hashlib
from firmware.core import evidence_seal as S
out = {}
epk = bytes(range(1, 33))
out["env"] = S.envelope(b"DEVICE01", 7, 3, epk).hex()
out["parsed"] = S.parse_envelope(bytes.fromhex(out["env"]))["index"]
out["head"] = S.head_message(b"DEVICE01", 7, 3, hashlib.sha256(b"chunk 3").digest(), True).hex()
out["refs"] = [S.sms_ref(i, hashlib.sha256(b"%d" % i).digest()) for i in range(40)]
out["close"] = S.close_marker(12, 2).hex()
out["layout"] = [S.layout(S.file_size(n, e)) for n in (0, 3) for e in (S.END_TRAILER, S.END_CLOSE, S.END_OPEN)]
print(json.dumps(out))
"""


def test_the_vm_gives_the_same_bytes():
    r = vm.run(CODE)
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert bytes.fromhex(got["env"]) == spec_envelope(DEV, 7, 3, EPK) and got["parsed"] == 3
    assert bytes.fromhex(got["head"]) == spec_head_message(DEV, 7, 3, HEAD, True)
    assert got["refs"] == [S.sms_ref(i, hashlib.sha256(b"%d" % i).digest()) for i in range(40)]
    assert bytes.fromhex(got["close"]) == S.close_marker(12, 2)
    assert [tuple(x) for x in got["layout"]] == [(n, e) for n in (0, 3) for e in (S.END_TRAILER, S.END_CLOSE, S.END_OPEN)]


def test_sealing_a_block_allocates_nothing_and_the_bench_gives_esp32_figures():
    """`alertbutton bench seal` (docs/evidence-sealing.md): in the VM, with pystone in the same run."""
    from alertbutton.bench import seal
    r = seal.measure(reps=1)
    assert r["bytes_allocated_per_block"] == 0  # the Sealer's buffers and the record buffer are preallocated
    assert r["vm_pystones"] > 0 and r["esp32_key_ms"] > 0 and r["esp32_sign_ms"] > 0 and r["esp32_block_us"] > 0
