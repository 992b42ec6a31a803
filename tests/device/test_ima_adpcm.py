# IMA-ADPCM in the MicroPython VM: the viper encoder gives the same bytes as its plain twin (which the
# host tests check against CPython's audioop), allocates nothing per block, survives full-scale input,
# and the decoder reproduces speech-band audio with a good SNR.
import math
import micropython
from array import array

from firmware.core import ima_adpcm as A

N = A.BLOCK_SAMPLES


class Rng:  # deterministic LCG
    def __init__(self, seed):
        self.s = seed

    def below(self, n):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return self.s % n


def pcm_bytes(samples):
    return bytearray(array("h", samples))  # MicroPython: the raw int16 LE bytes


def voiced(nblocks, seed=3):
    """Vowel-like: harmonics of a gliding pitch, syllabic envelope, some noise."""
    rng = Rng(seed)
    out = []
    ph = 0.0
    for i in range(nblocks * N):
        f0 = 140 + 40 * math.sin(i / 4000)
        ph += 2 * math.pi * f0 / 8000
        env = 0.2 + 0.8 * abs(math.sin(i * math.pi / 2400))
        v = 0.0
        for h, a in ((1, 1.0), (2, 0.6), (3, 0.5), (5, 0.3), (8, 0.2), (13, 0.1)):
            v += a * math.sin(h * ph)
        v = v * 5000 * env + (rng.below(600) - 300)
        out.append(max(-32768, min(32767, int(v))))
    return out


def encode_all(samples, enc):
    nb = len(samples) // N
    pcm = pcm_bytes(samples[:nb * N])
    out = bytearray(nb * A.BLOCK_BYTES)
    st = A.new_state()
    for b in range(nb):
        st[A.ST_PCM] = b * N
        enc(pcm, out, st)
    return out, st


def snr(ref, dec):
    sig = sum(v * v for v in ref)
    err = sum((a - b) * (a - b) for a, b in zip(ref, dec))
    return 10 * math.log10(sig / err)


def test_viper_matches_plain_twin_on_noise_and_voice():
    rng = Rng(7)
    noise = [rng.below(65536) - 32768 for _ in range(6 * N)]
    for sig in (noise, voiced(8)):
        a, sa = encode_all(sig, A.encode_block)
        b, sb = encode_all(sig, A.encode_block_py)
        assert a == b, "viper and plain encoders differ"
        assert sa[A.ST_INDEX] == sb[A.ST_INDEX] and sa[A.ST_OUT] == sb[A.ST_OUT] == len(a)
    assert A.encode_block is not A.encode_block_py  # the device really runs the viper version


def test_block_layout():
    sig = voiced(2)
    out, st = encode_all(sig, A.encode_block)
    for b in range(2):
        blk = out[b * 256:(b + 1) * 256]
        first = blk[0] | blk[1] << 8
        if first >= 32768:
            first -= 65536
        assert first == sig[b * N], "header holds the block's first sample exactly"
        assert blk[2] <= 88 and blk[3] == 0
    # the index in block 1's header is the state the encoder carried over from block 0
    st2 = A.new_state()
    A.encode_block(pcm_bytes(sig[:N]), bytearray(256), st2)
    assert out[256 + 2] == st2[A.ST_INDEX]
    assert len(A.decode(out)) == 2 * N


def test_no_allocation_per_block():
    pcm = pcm_bytes(voiced(1))
    out = bytearray(256 * 4)
    st = A.new_state()
    micropython.heap_lock()
    try:
        for b in range(4):
            st[A.ST_PCM] = 0
            A.encode_block(pcm, out, st)
    finally:
        micropython.heap_unlock()
    assert st[A.ST_OUT] == 4 * 256


def test_speech_band_snr():
    sig = voiced(24)
    out, _ = encode_all(sig, A.encode_block)
    dec = A.decode(out)
    s = snr(sig, dec)
    print("voiced SNR %.1f dB" % s)
    assert s >= 20, s


def test_full_scale_square_wave_saturates_without_wrapping():
    sig = [32767 if (i // 20) % 2 else -32768 for i in range(4 * N)]
    out, _ = encode_all(sig, A.encode_block)
    dec = A.decode(out)
    assert max(dec) <= 32767 and min(dec) >= -32768
    # after the step size adapts, the decoded wave follows the square (no sign flips from overflow)
    bad = [i for i in range(200, len(sig)) if (dec[i] > 0) != (sig[i] > 0) and i % 20 > 4]
    assert len(bad) < len(sig) // 50, len(bad)


def test_silence_is_silence():
    out, _ = encode_all([0] * (3 * N), A.encode_block)
    assert max(abs(v) for v in A.decode(out)) <= 7


def test_decoder_rejects_bad_blocks():
    for bad in (b"\x00\x00", b"\x00\x00\x59\x00" + b"\x00" * 10):
        try:
            A.decode_block(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)
