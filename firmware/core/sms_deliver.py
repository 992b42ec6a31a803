"""SMS-DELIVER decoder (3GPP TS 23.040 9.2.2.1), for messages read with AT+CMGR / AT+CMGL in PDU mode.

PDU: [SMSC] | first octet (MTI=00, MMS, SRI, UDHI, RP) | TP-OA | TP-PID | TP-DCS | TP-SCTS | TP-UDL | TP-UD.

- TP-OA: numbers as semi-octets ('*', '#', 'a'..'c' for 0xA..0xE, F filler); type of number 1 gives
  "+digits", 5 (alphanumeric) GSM-7 text ("InfoSMS"), others the digits as sent ("0612...").
- TP-DCS (23.038 section 4): general and automatic-deletion groups (alphabet in bits 3..2), message
  waiting groups 0xC0/0xD0 (GSM-7) and 0xE0 (UCS2), group 0xF0 (bit 2: 8-bit). Compressed text is
  refused (ValueError): no phone sends it.
- TP-UD: GSM-7 with the extension table, UCS2 (UTF-16BE, surrogate pairs joined, a lone surrogate
  becomes U+FFFD), 8-bit (raw bytes in .data, shown in .text as Latin-1). With a UDH, GSM-7 text
  starts on the septet boundary after the header (fill bits skipped).
- UDH: concatenation with 8-bit (IEI 0x00) or 16-bit (IEI 0x08) reference; an element with 0 parts,
  part 0 or part > parts is ignored (23.040 9.2.3.24.1). Application ports (0x04/0x05) are reported.
  Other elements (national language shift tables included: decoded with the default table) are skipped.
- TP-SCTS: (year, month, day, hour, minute, second, tz quarters) as sent (local time of the SC), or
  None when its digits are not valid BCD; a bad timestamp never loses the message.

ValueError for anything malformed or truncated (NotDeliver for a PDU of another type: stored
SUBMITs, status reports). Runs unchanged in MicroPython and CPython.
"""
import binascii

from firmware.core import clock, gsm7

_MTI_DELIVER = 0
_UDHI = 0x40
_TON_INTERNATIONAL = 1
_TON_ALPHA = 5
_SEMI = "0123456789*#abc"  # semi-octet values 0x0..0xE (0xF is the filler)

GSM7 = "gsm7"
UCS2 = "ucs2"
BIT8 = "8bit"


class NotDeliver(ValueError):
    """A well-formed start of a PDU that is not an SMS-DELIVER (mti: 1 SUBMIT, 2 STATUS-REPORT)."""

    def __init__(self, mti):
        super().__init__("not an SMS-DELIVER (TP-MTI %d)" % mti)
        self.mti = mti


class Sms:
    __slots__ = ("sender", "ton", "smsc", "pid", "dcs", "enc", "text", "data", "scts", "ref", "ref16",
                 "total", "seq", "ports", "mms")

    def key(self):
        """What identifies the whole (concatenated) message this part belongs to."""
        return (self.sender, self.ref, self.ref16, self.total)


def _hex(pdu):
    if isinstance(pdu, str):
        pdu = pdu.strip()
        if len(pdu) % 2:
            raise ValueError("odd number of hex digits")
        try:
            return binascii.unhexlify(pdu)
        except (ValueError, TypeError):  # binascii.Error is a ValueError
            raise ValueError("not hex")
    return bytes(pdu)


def _need(raw, end):
    if end > len(raw):
        raise ValueError("PDU truncated")


def semi_octets(raw, i, n):
    """n digits of semi-octets starting at raw[i] (low nibble first, stops at an F filler)."""
    out = []
    for k in range(n):
        b = raw[i + k // 2]
        v = (b >> 4) if k & 1 else (b & 0x0F)
        if v == 0x0F:
            break
        out.append(_SEMI[v])
    return "".join(out)


def _address(raw, i):
    """(address, type of number, index after the field) of a TP-OA at raw[i]."""
    _need(raw, i + 2)
    n = raw[i]
    toa = raw[i + 1]
    if n > 20:
        raise ValueError("address length %d" % n)
    octets = (n + 1) // 2
    _need(raw, i + 2 + octets)
    ton = (toa >> 4) & 7
    body = raw[i + 2:i + 2 + octets]
    if ton == _TON_ALPHA:
        # n counts semi-octets of packed septets; a trailing septet of fill bits decodes as '@'
        text = gsm7.unpack_septets(body, n * 4 // 7)
        while text and text[-1] == "@":
            text = text[:-1]
        addr = text
    else:
        addr = semi_octets(body, 0, n)
        if ton == _TON_INTERNATIONAL and addr:
            addr = "+" + addr
    return addr, ton, i + 2 + octets


def _bcd(b):
    lo, hi = b & 0x0F, b >> 4
    if lo > 9 or hi > 9:
        raise ValueError
    return lo * 10 + hi


def timestamp(raw, i):
    """(year, month, day, hour, minute, second, tz_quarters) of a 7-octet TP-SCTS, or None."""
    try:
        y, mo, d, h, mi, s = [_bcd(raw[i + k]) for k in range(6)]
        t = raw[i + 6]
        tz = (t & 0x07) * 10 + (t >> 4)
        # zones span -12..+14 h (-48..+56 quarters): anything beyond 16 h is a garbled octet
        if (t >> 4) > 9 or tz > 64 or not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 60):
            return None
        return (2000 + y, mo, d, h, mi, s, -tz if t & 0x08 else tz)
    except ValueError:
        return None


def alphabet(dcs):
    """GSM7, UCS2 or BIT8 for a TP-DCS octet; ValueError for compressed or unusable coding."""
    g = dcs >> 4
    if g < 8:  # general data coding (00xx) and automatic deletion (01xx)
        if dcs & 0x20:
            raise ValueError("compressed text (DCS 0x%02X)" % dcs)
        a = (dcs >> 2) & 3
        return (GSM7, BIT8, UCS2, GSM7)[a]  # 11 is reserved: read as GSM-7 (23.038)
    if g == 0x0C or g == 0x0D:
        return GSM7
    if g == 0x0E:
        return UCS2
    if g == 0x0F:
        return BIT8 if dcs & 0x04 else GSM7
    return GSM7  # 1000..1011 reserved: GSM-7 (23.038 section 4)


def ucs2(data):
    """Text of UTF-16BE bytes (an odd last byte is dropped)."""
    out = []
    n = len(data) & ~1
    i = 0
    while i < n:
        u = (data[i] << 8) | data[i + 1]
        i += 2
        if 0xD800 <= u <= 0xDBFF and i < n:
            lo = (data[i] << 8) | data[i + 1]
            if 0xDC00 <= lo <= 0xDFFF:
                i += 2
                out.append(chr(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)))
                continue
        out.append("\ufffd" if 0xD800 <= u <= 0xDFFF else chr(u))
    return "".join(out)


def _udh(sms, h):
    """Parse the information elements of a UDH (h without its length octet)."""
    i = 0
    while i < len(h):
        if i + 2 > len(h):
            raise ValueError("UDH truncated")
        iei, n = h[i], h[i + 1]
        v = h[i + 2:i + 2 + n]
        if len(v) != n:
            raise ValueError("UDH element truncated")
        i += 2 + n
        if iei == 0x00 and n == 3:
            ref, total, seq = v[0], v[1], v[2]
            ref16 = False
        elif iei == 0x08 and n == 4:
            ref, total, seq = (v[0] << 8) | v[1], v[2], v[3]
            ref16 = True
        elif iei == 0x04 and n == 2:
            sms.ports = (v[0], v[1])
            continue
        elif iei == 0x05 and n == 4:
            sms.ports = ((v[0] << 8) | v[1], (v[2] << 8) | v[3])
            continue
        else:
            continue
        if total == 0 or seq == 0 or seq > total:
            continue  # 23.040: such an element is ignored
        sms.ref, sms.ref16, sms.total, sms.seq = ref, ref16, total, seq


def _realign(ud, bit, n_septets):
    """The septets starting at bit offset `bit` of ud, repacked from bit 0 (for unpack_septets)."""
    need = (n_septets * 7 + 7) // 8
    out = bytearray(need)
    k, s = bit >> 3, bit & 7
    for j in range(need):
        lo = ud[k + j] if k + j < len(ud) else 0
        hi = ud[k + j + 1] if k + j + 1 < len(ud) else 0
        out[j] = ((lo >> s) | (hi << (8 - s))) & 0xFF
    return out


def decode(pdu, smsc=True):
    """Decode an SMS-DELIVER given as hex text or bytes (with the leading SMSC field unless
    smsc=False). Returns an Sms; raises ValueError (NotDeliver for other PDU types)."""
    raw = _hex(pdu)
    sms = Sms()
    i = 0
    sms.smsc = ""
    if smsc:
        _need(raw, 1)
        n = raw[0]
        _need(raw, 1 + n)
        if n > 1:
            sms.smsc = semi_octets(raw, 2, 2 * (n - 1))
            if (raw[1] >> 4) & 7 == _TON_INTERNATIONAL:
                sms.smsc = "+" + sms.smsc
        i = 1 + n
    _need(raw, i + 1)
    fo = raw[i]
    mti = fo & 3
    if mti != _MTI_DELIVER:
        raise NotDeliver(mti)
    sms.mms = not fo & 0x04  # TP-MMS 0: more messages are waiting in the SC
    sms.sender, sms.ton, i = _address(raw, i + 1)
    _need(raw, i + 2 + 7 + 1)
    sms.pid = raw[i]
    sms.dcs = raw[i + 1]
    sms.enc = alphabet(sms.dcs)
    sms.scts = timestamp(raw, i + 2)
    udl = raw[i + 9]
    ud = raw[i + 10:]
    sms.ref, sms.ref16, sms.total, sms.seq, sms.ports = 0, False, 1, 1, None
    if sms.enc == GSM7:
        if udl > 160:
            raise ValueError("UDL %d septets" % udl)
        _need(ud, (udl * 7 + 7) // 8)
    else:
        if udl > 140:
            raise ValueError("UDL %d octets" % udl)
        _need(ud, udl)
        ud = ud[:udl]
    start = 0  # octets of UDH (with its length octet)
    if fo & _UDHI:
        if not udl or not ud:
            raise ValueError("UDHI set without user data")
        hl = ud[0]
        start = hl + 1
        if start > (udl if sms.enc != GSM7 else (udl * 7) // 8):
            raise ValueError("UDH longer than the user data")
        _udh(sms, ud[1:start])
    if sms.enc == GSM7:
        hs = (start * 8 + 6) // 7  # septets taken by the header and its fill bits
        n = udl - hs
        sms.data = None
        sms.text = gsm7.unpack_septets(_realign(ud, hs * 7, n) if start else ud, n)
    else:
        body = bytes(ud[start:udl])
        sms.data = body
        sms.text = ucs2(body) if sms.enc == UCS2 else "".join([chr(b) for b in body])
    return sms


def sent_utc(sms):
    """Seconds (device epoch, UTC) of the SC timestamp of sms, or None."""
    t = sms.scts
    if t is None:
        return None
    try:
        return clock.epoch(t[0], t[1], t[2], t[3], t[4], t[5]) - t[6] * 900
    except (OverflowError, ValueError, TypeError):
        return None
