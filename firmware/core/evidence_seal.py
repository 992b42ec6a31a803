# Sealed evidence: the byte layouts of issue 21 (docs/evidence-sealing.md; the lead's spec, sections
# B and C). Shared by the device's store and the host's reader. No cryptography of its own: it packs and
# parses, and calls the primitives of firmware/core/crypto only to derive a recording's key.
#
# A sealed chunk file (ev/rNNNNN/cNNNN.evs) is:
#   envelope (64 bytes, plaintext; the associated data of every record of the file)
#   record 0: the 100-byte chunk header, sealed (116 bytes)
#   records 1..n: the 256-byte IMA-ADPCM blocks, sealed (272 bytes each)
#   then either the 16-byte trailer sealed as record 0xFFFFFFFF (32 bytes), or the 16-byte
#   unauthenticated close marker recover() writes at boot after a power cut, or nothing (still open).
# Each record is ChaCha20-Poly1305(K, nonce = u32 record | u32 chunk index | u32 0, plaintext,
# ad = envelope). The plaintext chunk (header + blocks + trailer) is exactly firmware/core/evidence_chunk's:
# its SHA-256 is the chain's head, unchanged.
#
# A signed head record (ev/rNNNNN/heads.abh, 120 bytes each): a 56-byte message then its Ed25519
# signature by the device key. The follow-up SMS carries `<index>:<13 base32 chars>` (65 bits of the head).
import struct

try:
    from micropython import const
except ImportError:  # CPython (host tools)
    def const(x):
        return x

MAGIC = b"ABSE"
VERSION = const(1)
ENVELOPE_FMT = "<4sBBH8sII32s8s"
ENVELOPE_SIZE = const(64)
TAG_SIZE = const(16)
HEADER_PLAIN = const(100)  # firmware.core.evidence_chunk.HEADER_SIZE
BLOCK_PLAIN = const(256)  # firmware.core.ima_adpcm.BLOCK_BYTES
TRAILER_PLAIN = const(16)  # firmware.core.evidence_chunk.TRAILER_SIZE
HEADER_RECORD = const(116)
BLOCK_RECORD = const(272)
TRAILER_RECORD = const(32)
TRAILER_NUMBER = const(0xFFFFFFFF)  # the trailer's record number (in its nonce)
FIRST_BLOCK = const(180)  # ENVELOPE_SIZE + HEADER_RECORD: where block record 1 starts

CLOSE_MAGIC = b"ABCL"
CLOSE_FMT = "<4sIB7s"
CLOSE_SIZE = const(16)

KDF_INFO = b"alertbutton evidence seal v1"

HEAD_MAGIC = b"ABHD"
HEAD_FMT = "<4sBBH8sII32s"
HEAD_MESSAGE_SIZE = const(56)
HEAD_RECORD_SIZE = const(120)
HEAD_FINAL = const(1)  # flags bit 0: the last chunk of its recording
SMS_REF_CHARS = const(13)  # 65 bits of the head

# how a sealed file ends (layout())
END_TRAILER = "trailer"
END_CLOSE = "close"
END_OPEN = "open"

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _dev8(device_id):
    dev = bytes(device_id)[:8]
    return dev + b"\0" * (8 - len(dev))


def envelope(device_id, rec, index, epk):
    """The 64-byte envelope of chunk `index` of recording `rec` (epk: the recording's ephemeral
    X25519 public key)."""
    if len(epk) != 32:
        raise ValueError("epk must be 32 bytes")
    return struct.pack(ENVELOPE_FMT, MAGIC, VERSION, 0, ENVELOPE_SIZE, _dev8(device_id), rec, index,
                       bytes(epk), b"\0" * 8)


def parse_envelope(data):
    """Fields of a sealed file's first 64 bytes; ValueError if they are not an envelope of version 1."""
    if len(data) < ENVELOPE_SIZE:
        raise ValueError("too short for a sealed chunk envelope")
    e = struct.unpack(ENVELOPE_FMT, bytes(data[:ENVELOPE_SIZE]))
    if e[0] != MAGIC or e[3] != ENVELOPE_SIZE:
        raise ValueError("not a sealed chunk (bad envelope)")
    if e[1] != VERSION or e[2] != 0 or e[8] != b"\0" * 8:
        raise ValueError("unknown sealed chunk version")
    return {"device": bytes(e[4]), "recording": e[5], "index": e[6], "epk": bytes(e[7])}


def nonce_into(buf, record, index):
    """Write the 12-byte nonce of `record` (0 header, 1..n blocks, TRAILER_NUMBER) of chunk `index`."""
    struct.pack_into("<III", buf, 0, record, index, 0)
    return buf


def nonce(record, index):
    return nonce_into(bytearray(12), record, index)


def layout(size):
    """(blocks, end) of a sealed file of `size` bytes: end is END_TRAILER, END_CLOSE or END_OPEN.
    ValueError when the size is none of those (a partial record at the end)."""
    body = size - FIRST_BLOCK
    if body < 0:
        raise ValueError("sealed chunk shorter than its envelope and header record")
    rest = body % BLOCK_RECORD
    if rest == 0:
        return body // BLOCK_RECORD, END_OPEN
    if rest == TRAILER_RECORD:
        return body // BLOCK_RECORD, END_TRAILER
    if rest == CLOSE_SIZE:
        return body // BLOCK_RECORD, END_CLOSE
    raise ValueError("sealed chunk ends inside a record")


def whole_records_size(size):
    """The length of the whole records at the start of a file left open by a power cut (what recover()
    keeps: envelope, header record if whole, whole block records)."""
    if size < FIRST_BLOCK:
        return 0 if size < ENVELOPE_SIZE + HEADER_RECORD else FIRST_BLOCK
    return FIRST_BLOCK + (size - FIRST_BLOCK) // BLOCK_RECORD * BLOCK_RECORD


def file_size(blocks, end):
    return FIRST_BLOCK + BLOCK_RECORD * blocks + {END_TRAILER: TRAILER_RECORD, END_CLOSE: CLOSE_SIZE,
                                                   END_OPEN: 0}[end]


def close_marker(blocks, flags):
    """The UNAUTHENTICATED 16-byte close marker recover() appends (flags: T_INTERRUPTED ...)."""
    return struct.pack(CLOSE_FMT, CLOSE_MAGIC, blocks, flags, b"\0" * 7)


def parse_close_marker(data):
    m = struct.unpack(CLOSE_FMT, bytes(data))
    if m[0] != CLOSE_MAGIC or m[3] != b"\0" * 7:
        raise ValueError("bad close marker")
    return {"blocks": m[1], "flags": m[2]}


def recording_key(esk, epk, association_pub):
    """K of a recording: HKDF-SHA256(X25519(esk, association_pub), salt epk || association_pub, info
    KDF_INFO, 32). ValueError on an all-zero shared secret (a low-order association key)."""
    from firmware.core.crypto import x25519
    return key_from_shared(x25519.x25519(esk, association_pub), epk, association_pub)


def key_from_shared(shared, epk, association_pub):
    """K from the X25519 shared secret (for a caller that ran the X25519 in steps)."""
    from firmware.core.crypto import hkdf
    if not any(shared):
        raise ValueError("the association public key is not usable (all-zero shared secret)")
    return hkdf.hkdf_sha256(shared, bytes(epk) + bytes(association_pub), KDF_INFO, 32)


def head_message(device_id, rec, index, head, final):
    """The 56-byte message a head record signs (head: SHA-256 of plaintext chunk `index`)."""
    if len(head) != 32:
        raise ValueError("head must be 32 bytes")
    return struct.pack(HEAD_FMT, HEAD_MAGIC, VERSION, HEAD_FINAL if final else 0, 0, _dev8(device_id), rec,
                       index, bytes(head))


def parse_head_record(data):
    """Fields of a 120-byte signed head record (the signature is NOT checked here)."""
    if len(data) != HEAD_RECORD_SIZE:
        raise ValueError("a signed head record is %d bytes" % HEAD_RECORD_SIZE)
    m = struct.unpack(HEAD_FMT, bytes(data[:HEAD_MESSAGE_SIZE]))
    if m[0] != HEAD_MAGIC or m[1] != VERSION or m[3] != 0 or m[2] & ~HEAD_FINAL:
        raise ValueError("not a signed head record of version 1")
    return {"device": bytes(m[4]), "recording": m[5], "index": m[6], "head": bytes(m[7]),
            "final": bool(m[2] & HEAD_FINAL), "message": bytes(data[:HEAD_MESSAGE_SIZE]),
            "signature": bytes(data[HEAD_MESSAGE_SIZE:])}


def sms_ref(index, head):
    """`<index>:<13 chars>`: the chunk index and the first 65 bits of its head in RFC 4648 base32."""
    out = []
    acc = bits = 0
    for b in head[:9]:  # 72 bits, 65 used
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5 and len(out) < SMS_REF_CHARS:
            bits -= 5
            out.append(_B32[(acc >> bits) & 31])
        acc &= (1 << bits) - 1
    return "%d:%s" % (index, "".join(out))


def parse_sms_ref(text):
    """(index, 65-bit prefix as int) of an SMS head reference; ValueError with what is wrong."""
    t = text.strip()
    i = t.find(":")
    if i < 1 or not t[:i].isdigit():
        raise ValueError("a head reference is <chunk index>:<13 letters/digits>, e.g. 3:K7Q2M9ABCDEFG")
    code = t[i + 1:].upper()
    if len(code) != SMS_REF_CHARS:
        raise ValueError("a head reference has %d characters after the colon, not %d" % (SMS_REF_CHARS, len(code)))
    v = 0
    for ch in code:
        k = _B32.find(ch)
        if k < 0:
            raise ValueError("%r is not a base32 character (A-Z, 2-7)" % ch)
        v = (v << 5) | k
    return int(t[:i]), v


def head_prefix65(head):
    """The first 65 bits of a head as an int (what an SMS reference carries)."""
    v = 0
    for b in head[:9]:
        v = (v << 8) | b
    return v >> 7
