# The evidence chunk format: a chunk file is header + IMA-ADPCM blocks + trailer; its SHA-256 over all
# of its bytes is written into the next chunk's header (docs/evidence.md has every field). Shared by
# the recorder's store on the device and the host's export and verification.
import binascii
import hashlib
import struct

try:
    from micropython import const
except ImportError:  # CPython (host tools)
    def const(x):
        return x

from firmware.core import ima_adpcm

MAGIC = b"ABEV"
END_MAGIC = b"ABEN"
VERSION = const(1)
HEADER_FMT = "<4sBBBB8sIIIIHHqiIiiII32s"
HEADER_SIZE = const(100)
TRAILER_FMT = "<4sIBBHI"
TRAILER_SIZE = const(16)
ZERO_HASH = b"\0" * 32

# header flags
H_PREALERT = const(1)  # the pre-alert ring, frozen at the trigger
H_TIME = const(2)  # start_utc_ms is valid (clock set from GNSS or the network)
H_POS = const(4)  # lat/lon/acc/fix age are valid
H_MIC_WARMUP = const(8)  # the first w blocks are the microphone's start-up silence (w: trailer offset 10)
# trailer flags
T_FINAL = const(1)  # last chunk of the recording
T_INTERRUPTED = const(2)  # closed after a power cut, crash or write error (at boot, or by the recorder)
T_GAP = const(4)  # audio was lost before this chunk's first block (see `lost`)
T_FLASH_FULL = const(8)  # recording stopped early: no room left without deleting unexported evidence

NO_AGE = const(0xFFFFFFFF)


def header(device_id, rec, alert, index, rate, flags, start_utc_ms, offset_ms, start_ticks, fix, prev):
    """Chunk header bytes. fix: (lat, lon, acc_m, age_s) or None."""
    dev = bytes(device_id)[:8]
    dev = dev + b"\0" * (8 - len(dev))
    lat = lon = acc = 0
    age = NO_AGE
    if fix is not None:
        flags |= H_POS
        lat = int(round(fix[0] * 1e7))
        lon = int(round(fix[1] * 1e7))
        acc = int(fix[2]) if fix[2] is not None else 0
        age = NO_AGE if fix[3] is None else min(int(fix[3]), NO_AGE - 1)
    if start_utc_ms is None:
        start_utc_ms = 0
    else:
        flags |= H_TIME
    return struct.pack(HEADER_FMT, MAGIC, VERSION, HEADER_SIZE, ima_adpcm.CODEC_ID, flags, dev, rec, alert,
                       index, rate, ima_adpcm.BLOCK_BYTES, ima_adpcm.BLOCK_SAMPLES, start_utc_ms, offset_ms,
                       start_ticks & 0xFFFFFFFF, lat, lon, acc, age, prev)


def trailer(blocks, flags, lost=0, warmup=0):
    """warmup: how many of the first blocks are the microphone's start-up silence (with H_MIC_WARMUP)."""
    if not 0 <= warmup <= blocks:
        raise ValueError("warm-up blocks must be 0..blocks")
    return struct.pack(TRAILER_FMT, END_MAGIC, blocks, flags, 0, warmup, lost)


def parse(data):
    """Fields of one complete chunk file (bytes); ValueError if it is not a well-formed chunk."""
    n = len(data)
    if n < HEADER_SIZE + TRAILER_SIZE:
        raise ValueError("too short for a chunk")
    h = struct.unpack(HEADER_FMT, data[:HEADER_SIZE])
    if h[0] != MAGIC or h[2] != HEADER_SIZE:
        raise ValueError("bad chunk header")
    if h[1] != VERSION or h[3] != ima_adpcm.CODEC_ID:
        raise ValueError("unknown chunk version or codec")
    t = struct.unpack(TRAILER_FMT, data[n - TRAILER_SIZE:])
    bb = h[10]
    if t[0] != END_MAGIC or bb == 0 or t[1] * bb != n - HEADER_SIZE - TRAILER_SIZE:
        raise ValueError("bad chunk trailer or length")
    flags, tflags = h[4], t[2]
    return {
        "version": h[1], "codec": "ima-adpcm", "device": binascii.hexlify(h[5]).decode(), "recording": h[6],
        "alert": h[7], "index": h[8], "sample_rate": h[9], "block_bytes": bb, "block_samples": h[11],
        "start_utc_ms": h[12] if flags & H_TIME else None, "offset_ms": h[13], "start_ticks_ms": h[14],
        "position": ({"lat": h[15] / 1e7, "lon": h[16] / 1e7, "acc_m": h[17],
                      "age_s": None if h[18] == NO_AGE else h[18]} if flags & H_POS else None),
        "prealert": bool(flags & H_PREALERT), "prev_sha256": binascii.hexlify(h[19]).decode(),
        "blocks": t[1], "samples": t[1] * h[11], "final": bool(tflags & T_FINAL),
        "interrupted": bool(tflags & T_INTERRUPTED), "gap": bool(tflags & T_GAP),
        "flash_full": bool(tflags & T_FLASH_FULL), "lost_blocks": t[5],
        # as written: a verifier reports a count without the flag, or above the block count
        "mic_warmup": bool(flags & H_MIC_WARMUP), "mic_warmup_blocks": t[4],
        "sha256": binascii.hexlify(hashlib.sha256(data).digest()).decode(),
    }


def audio(data):
    """The ADPCM blocks of a chunk file."""
    return data[HEADER_SIZE:len(data) - TRAILER_SIZE]
