"""GSM 03.38 / 3GPP TS 23.038 default 7-bit alphabet and its extension table (no national shift tables).

Septet codes: 0x00..0x7F from the basic table; extension characters are sent as ESC (0x1B) followed by
their extension code, so they count as two septets. Runs unchanged in MicroPython and CPython.
"""

_ESC = 0x1B

# Basic table, index = septet code. Index 0x1B (ESC) holds a placeholder that is never looked up.
# Note 0x09 is the capital C cedilla (23.038), 0x24 the generic currency sign, 0x5F the section sign.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Extension table: characters and their codes after ESC (0x0A is the page break / form feed).
_EXT_CHARS = "\x0c^{}\\[~]|€"
_EXT_CODES = b"\x0a\x14\x28\x29\x2f\x3c\x3d\x3e\x40\x65"

# Lookup built once: value < 0x80 is a basic code, 0x80|code an extension code, 0xFF not representable.
# ASCII goes through a 128-byte table (no allocation); the ~40 other code points through a small dict.
_NONE = 0xFF
_ASCII = bytearray(b"\xff" * 128)
_OTHER = {}


def _build():
    for code in range(128):
        if code == _ESC:
            continue
        o = ord(_BASIC[code])
        if o < 128:
            _ASCII[o] = code
        else:
            _OTHER[o] = code
    for i in range(len(_EXT_CHARS)):
        o = ord(_EXT_CHARS[i])
        if o < 128:
            _ASCII[o] = 0x80 | _EXT_CODES[i]
        else:
            _OTHER[o] = 0x80 | _EXT_CODES[i]


_build()


def _lookup(ch):
    o = ord(ch)
    if o < 128:
        return _ASCII[o]
    return _OTHER.get(o, _NONE)


def is_gsm7(text):
    """True if every character of text is in the basic or extension table."""
    for ch in text:
        if _lookup(ch) == _NONE:
            return False
    return True


def septet_count(text):
    """Septets needed for text (extension characters count 2). ValueError if not representable."""
    n = 0
    for ch in text:
        v = _lookup(ch)
        if v == _NONE:
            raise ValueError("not GSM-7: U+%04X" % ord(ch))
        n += 2 if v & 0x80 else 1
    return n


def encode_septets(text):
    """Unpacked septet codes (one per byte, ESC sequences expanded). ValueError if not representable."""
    out = bytearray(septet_count(text))
    i = 0
    for ch in text:
        v = _lookup(ch)
        if v & 0x80:
            out[i] = _ESC
            i += 1
            v &= 0x7F
        out[i] = v
        i += 1
    return out


def pack_septets(text):
    """GSM 7-bit packing of text, septets laid LSB first, zero fill bits in the last octet."""
    codes = encode_septets(text)
    out = bytearray((len(codes) * 7 + 7) // 8)
    acc = 0
    bits = 0
    j = 0
    for c in codes:
        acc |= c << bits
        bits += 7
        if bits >= 8:
            out[j] = acc & 0xFF
            j += 1
            acc >>= 8
            bits -= 8
    if bits:
        out[j] = acc
    return bytes(out)


def unpack_septets(data, n_septets):
    """Inverse of pack_septets: decode the first n_septets septets of data to text.

    Per 23.038, an ESC followed by a code with no extension character shows the basic character, and an
    ESC with nothing usable after it shows as a space. ValueError if data is too short.
    """
    if n_septets < 0 or (n_septets * 7 + 7) // 8 > len(data):
        raise ValueError("data too short for %d septets" % n_septets)
    parts = []
    esc = False
    acc = 0
    bits = 0
    j = 0
    for _ in range(n_septets):
        if bits < 7:
            acc |= data[j] << bits
            j += 1
            bits += 8
        c = acc & 0x7F
        acc >>= 7
        bits -= 7
        if esc:
            esc = False
            k = _EXT_CODES.find(bytes((c,)))
            if k >= 0:
                parts.append(_EXT_CHARS[k])
            else:
                parts.append(" " if c == _ESC else _BASIC[c])
        elif c == _ESC:
            esc = True
        else:
            parts.append(_BASIC[c])
    if esc:
        parts.append(" ")
    return "".join(parts)
