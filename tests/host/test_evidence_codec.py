"""The firmware's IMA-ADPCM against an independent implementation (CPython's audioop, Intel/DVI ADPCM)
and the bytes the viper encoder produces inside the MicroPython VM: same nibbles, same decoded audio.
Also the speech-like test signal and the SNR/alignment helpers the end-to-end test relies on."""
import os
import struct
import sys
import warnings

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from alertbutton import vm  # noqa: E402
from alertbutton.sim import speechlike  # noqa: E402
from firmware.core import ima_adpcm as A  # noqa: E402



with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # removed in Python 3.13
        audioop = None

needs_audioop = pytest.mark.skipif(audioop is None, reason="audioop (independent ADPCM) not in this Python")
N = A.BLOCK_SAMPLES


def encode_py(samples):
    nb = len(samples) // N
    pcm = struct.pack("<%dh" % (nb * N), *samples[:nb * N])
    out = bytearray(nb * A.BLOCK_BYTES)
    st = A.new_state()
    for b in range(nb):
        st[A.ST_PCM] = b * N
        A.encode_block_py(pcm, out, st)
    return bytes(out)


def swap_nibbles(b):
    return bytes(((c & 15) << 4) | (c >> 4) for c in b)  # WAV layout: low nibble first; audioop: high


@pytest.fixture(scope="module")
def speech():
    return speechlike.generate(4.0, seed=5)


@needs_audioop
def test_encoder_matches_audioop_block_by_block(speech):
    enc = encode_py(speech)
    for b in range(len(enc) // 256):
        blk = enc[b * 256:(b + 1) * 256]
        pred, index = struct.unpack("<h", blk[:2])[0], blk[2]
        assert pred == speech[b * N]
        pcm = struct.pack("<%dh" % (N - 1), *speech[b * N + 1:(b + 1) * N])
        ref, state = audioop.lin2adpcm(pcm, 2, (pred, index))
        assert swap_nibbles(blk[4:]) == ref, "block %d" % b
        if b + 1 < len(enc) // 256:
            assert enc[(b + 1) * 256 + 2] == state[1]  # the next header carries audioop's final index


@needs_audioop
def test_decoder_matches_audioop(speech):
    enc = encode_py(speech)
    dec = A.decode(enc)
    for b in range(len(enc) // 256):
        blk = enc[b * 256:(b + 1) * 256]
        pred, index = struct.unpack("<h", blk[:2])[0], blk[2]
        ref, _ = audioop.adpcm2lin(swap_nibbles(blk[4:]), 2, (pred, index))
        assert [pred] + list(struct.unpack("<%dh" % (N - 1), ref)) == dec[b * N:(b + 1) * N]


def test_vm_viper_encoder_bytes_equal_the_plain_encoder(speech, tmp_path):
    """The device encoder (viper, in the VM) on the speech-like signal: byte-identical to the plain twin
    (and so, by the tests above, to audioop)."""
    wav = tmp_path / "s.wav"
    speechlike.write_wav(wav, speech)
    code = ("import sys\nfrom firmware.core import ima_adpcm as A\nf = open(sys.argv[1], 'rb'); f.read(44)\n"
            "pcm = bytearray(f.read())\nnb = len(pcm) // 2 // 505\nout = bytearray(nb * 256)\nst = A.new_state()\n"
            "for b in range(nb):\n    st[2] = b * 505\n    A.encode_block(pcm, out, st)\n"
            "import binascii\nprint(binascii.hexlify(out).decode())\n")
    p = vm.run(code=code, args=(str(wav),), timeout=60)
    assert p.returncode == 0, p.stderr
    assert bytes.fromhex(p.stdout.strip()) == encode_py(speech)


def test_alignment_finds_the_offset_into_the_looped_source(speech):
    lag = 12345
    test = [speech[(lag + j) % len(speech)] for j in range(16000)]
    dec = A.decode(encode_py(test))
    found = speechlike.find_lag(speech, dec)
    assert found == lag
    direct = speechlike.snr_db(test[:len(dec)], dec, 0)
    assert speechlike.snr_db(speech, dec, found) == direct
    assert direct > 15
    for wrong in (found - 1, found + 1, found + 505):
        assert speechlike.snr_db(speech, dec, wrong) < direct - 8


def test_speech_like_signal_is_deterministic_and_speech_shaped():
    a = speechlike.generate(8.0, seed=1)
    assert a == speechlike.generate(8.0, seed=1)
    assert a != speechlike.generate(8.0, seed=2)
    frames = [sum(v * v for v in a[i:i + 160]) / 160 for i in range(0, len(a) - 160, 160)]
    loud = max(frames)
    # syllabic: loud frames, quiet frames and near-silent pauses all occur
    assert sum(1 for f in frames if f > loud / 10) > len(frames) // 5
    assert sum(1 for f in frames if f < loud / 1000) > 0


def test_bench_reports_the_encoder_cost_in_esp32_terms():
    from alertbutton.evidence import export as tool
    r = tool.bench(seconds=1.0)
    assert r["blocks"] == 16 and r["vm_us_per_audio_s"] > 0
    if r["vm_pystones"]:  # tools/alertbutton/pystone.py ran in the same VM process
        assert abs(r["esp32_ms_per_audio_s"] - r["vm_us_per_audio_s"] * r["vm_pystones"] / 1660 / 1000) < 1e-6
        assert r["esp32_core_percent"] == r["esp32_ms_per_audio_s"] / 10.0


def test_progress_bar_on_a_terminal_and_one_line_in_a_log():
    import io
    from alertbutton.evidence import export as tool

    class Tty(io.StringIO):
        def isatty(self):
            return True
    for stream, tty in ((Tty(), True), (io.StringIO(), False)):
        bar = tool.Progress(4096, "rec 1", stream=stream)
        for _ in range(4):
            bar.add(1024)
        bar.end()
        out = stream.getvalue()
        if tty:
            assert "100%" in out and "4/4 KB" in out and "\r" in out
        else:
            assert out == "rec 1: 4 KB read\n"
