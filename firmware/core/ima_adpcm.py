# IMA-ADPCM (Intel/DVI), 4 bits per sample, in the WAV block layout (format 0x11, mono): each block
# starts with a 4-byte header (first sample as int16 LE, step index, 0), then two samples per byte,
# low nibble first. A block decodes on its own, so a ring can drop its oldest blocks and a court
# expert can decode any chunk with standard tools (sox, ffmpeg) once wrapped in a WAV header.
# The encoder runs on the device in viper with caller-owned buffers (no allocation per block); the
# plain decoder (and a plain encoder twin, the reference for tests) also run on the host in CPython.
import sys

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: host tools import this module for the decoder
    micropython = None

    def const(x):
        return x

from array import array

BLOCK_BYTES = const(256)
BLOCK_SAMPLES = const(505)  # 1 sample in the header + 252 bytes x 2 nibbles
CODEC_ID = const(1)  # evidence chunk codec id: IMA-ADPCM, 256-byte blocks of 505 samples

STEPS = array("H", (
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66, 73, 80,
    88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449, 494, 544,
    598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272, 2499, 2749,
    3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442, 11487, 12635,
    13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767))

# Encoder state, an array("i", 3) owned by the caller: [step index, out byte offset, pcm sample offset].
ST_INDEX = const(0)
ST_OUT = const(1)
ST_PCM = const(2)


def new_state():
    return array("i", (0, 0, 0))


def encode_block_py(pcm, out, st, n=BLOCK_SAMPLES):
    """Plain twin of the viper encoder (same arguments, same bytes): the reference in the tests and
    the encoder on the host. pcm: int16 LE samples (bytes-like), out: bytearray."""
    p = st[ST_PCM] * 2
    o = st[ST_OUT]
    index = st[ST_INDEX]
    pred = pcm[p] | (pcm[p + 1] << 8)
    if pred >= 32768:
        pred -= 65536
    out[o] = pred & 0xFF
    out[o + 1] = (pred >> 8) & 0xFF
    out[o + 2] = index
    out[o + 3] = 0
    o += 4
    hi = 0
    byte = 0
    for i in range(1, n):
        q = p + 2 * i
        s = pcm[q] | (pcm[q + 1] << 8)
        if s >= 32768:
            s -= 65536
        diff = s - pred
        code = 0
        if diff < 0:
            code = 8
            diff = -diff
        step = STEPS[index]
        vp = step >> 3
        if diff >= step:
            code |= 4
            diff -= step
            vp += step
        step >>= 1
        if diff >= step:
            code |= 2
            diff -= step
            vp += step
        step >>= 1
        if diff >= step:
            code |= 1
            vp += step
        pred = pred - vp if code & 8 else pred + vp
        if pred > 32767:
            pred = 32767
        elif pred < -32768:
            pred = -32768
        m = code & 7
        index = index - 1 if m < 4 else index + (m - 3) * 2
        if index < 0:
            index = 0
        elif index > 88:
            index = 88
        if hi:
            out[o] = byte | (code << 4)
            o += 1
            hi = 0
        else:
            byte = code
            hi = 1
    st[ST_INDEX] = index
    st[ST_OUT] = o


encode_block = encode_block_py

if sys.implementation.name == "micropython":  # the compiler, not the module, knows viper

    @micropython.viper
    def _encode_block_viper(pcm: ptr16, out: ptr8, st: ptr32, n: int):
        steps = ptr16(STEPS)
        p = int(st[2])
        o = int(st[1])
        index = int(st[0])
        pred = int(pcm[p])
        if pred >= 32768:
            pred -= 65536
        out[o] = pred & 0xFF
        out[o + 1] = (pred >> 8) & 0xFF
        out[o + 2] = index
        out[o + 3] = 0
        o += 4
        hi = 0
        byte = 0
        i = 1
        while i < n:
            s = int(pcm[p + i])
            if s >= 32768:
                s -= 65536
            diff = s - pred
            code = 0
            if diff < 0:
                code = 8
                diff = 0 - diff
            step = int(steps[index])
            vp = step >> 3
            if diff >= step:
                code |= 4
                diff -= step
                vp += step
            step >>= 1
            if diff >= step:
                code |= 2
                diff -= step
                vp += step
            step >>= 1
            if diff >= step:
                code |= 1
                vp += step
            if code & 8:
                pred -= vp
            else:
                pred += vp
            if pred > 32767:
                pred = 32767
            elif pred < -32768:
                pred = -32768
            m = code & 7
            if m < 4:
                index -= 1
                if index < 0:
                    index = 0
            else:
                index += (m - 3) * 2
                if index > 88:
                    index = 88
            if hi:
                out[o] = byte | (code << 4)
                o += 1
                hi = 0
            else:
                byte = code
                hi = 1
            i += 1
        st[0] = index
        st[1] = o

    def encode_block(pcm, out, st, n=BLOCK_SAMPLES):  # noqa: F811 - the device's encoder
        """Encode n (odd) int16 samples from pcm[st[ST_PCM]:] into one block at out[st[ST_OUT]:],
        continuing from st[ST_INDEX]; advances st[ST_OUT] and st[ST_INDEX]. Allocation-free."""
        _encode_block_viper(pcm, out, st, n)


def decode_block(block, out=None):
    """Samples (list of int) of one block (bytes-like, header included)."""
    if len(block) < 4:
        raise ValueError("ADPCM block shorter than its header")
    pred = block[0] | (block[1] << 8)
    if pred >= 32768:
        pred -= 65536
    index = block[2]
    if index > 88:
        raise ValueError("ADPCM block with step index %d" % index)
    if out is None:
        out = []
    out.append(pred)
    steps = STEPS
    for k in range(4, len(block)):
        b = block[k]
        for code in (b & 15, b >> 4):
            step = steps[index]
            vp = step >> 3
            if code & 4:
                vp += step
            if code & 2:
                vp += step >> 1
            if code & 1:
                vp += step >> 2
            pred = pred - vp if code & 8 else pred + vp
            if pred > 32767:
                pred = 32767
            elif pred < -32768:
                pred = -32768
            m = code & 7
            index = index - 1 if m < 4 else index + (m - 3) * 2
            if index < 0:
                index = 0
            elif index > 88:
                index = 88
            out.append(pred)
    return out


def decode(data, block_bytes=BLOCK_BYTES):
    """Samples of a run of whole blocks."""
    out = []
    for o in range(0, len(data) - len(data) % block_bytes, block_bytes):
        decode_block(data[o:o + block_bytes], out)
    return out
