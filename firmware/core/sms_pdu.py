"""GSM 03.40 / 3GPP TS 23.040 SMS-SUBMIT PDU encoder, single segment only (no UDH, no concatenation).

PDU layout: SMSC "00" (use the SIM's SMSC) | first octet | TP-MR 00 | TP-DA | TP-PID 00 | TP-DCS |
TP-VP (relative) | TP-UDL | TP-UD. Text goes as GSM-7 (DCS 0x00) when every character is in the default
alphabet or its extension table, else as UCS2 (DCS 0x08, UTF-16BE, non-BMP characters as surrogate pairs).

Validity (TP-VP, 23.040 9.2.3.12.1): the relative period is rounded DOWN to the longest representable
period not exceeding the request (5-minute steps to 12 h, 30-minute steps to 24 h, days to 30 days, weeks
to 63 weeks), so the SMSC never keeps a message longer than asked. Below 5 minutes nothing is
representable: ValueError. Above 63 weeks it is clamped to 63 weeks.
"""
import binascii

from firmware.core import gsm7

GSM7_LIMIT = 160  # septets in one segment
UCS2_LIMIT = 70  # UTF-16 code units in one segment (140 octets)

_MTI_SUBMIT = 0x01
_VPF_RELATIVE = 0x10  # TP-VPF = 10b in bits 4..3
_SRR = 0x20
_TOA_INTERNATIONAL = 0x91  # ext bit | international number | ISDN numbering plan
_DCS_GSM7 = 0x00
_DCS_UCS2 = 0x08


def utf16_units(text):
    """UTF-16 code units of text (characters outside the BMP take two)."""
    n = 0
    for ch in text:
        n += 2 if ord(ch) > 0xFFFF else 1
    return n


def segment_info(text):
    """(encoding, units, limit): ('gsm7', septets, 160) or ('ucs2', UTF-16 code units, 70)."""
    if gsm7.is_gsm7(text):
        return "gsm7", gsm7.septet_count(text), GSM7_LIMIT
    return "ucs2", utf16_units(text), UCS2_LIMIT


def fits_one_segment(text):
    _enc, units, limit = segment_info(text)
    return units <= limit


def encode_ucs2(text):
    """UTF-16BE bytes of text (MicroPython's str.encode only does UTF-8, so do it by hand)."""
    out = bytearray(2 * utf16_units(text))
    i = 0
    for ch in text:
        o = ord(ch)
        if o > 0xFFFF:
            o -= 0x10000
            hi = 0xD800 | (o >> 10)
            out[i] = hi >> 8
            out[i + 1] = hi & 0xFF
            i += 2
            o = 0xDC00 | (o & 0x3FF)
        out[i] = o >> 8
        out[i + 1] = o & 0xFF
        i += 2
    return bytes(out)


def validity_octet(minutes):
    """Relative TP-VP octet for the longest period <= minutes (see module docstring)."""
    if not isinstance(minutes, int) or minutes < 5:
        raise ValueError("validity must be an int >= 5 minutes")
    if minutes <= 720:  # 5-minute steps up to 12 h
        return minutes // 5 - 1
    if minutes < 1440:  # 30-minute steps from 12 h to 24 h
        return 143 + (minutes - 720) // 30
    if minutes < 2880:  # the day range starts at 2 days
        return 167
    if minutes < 50400:  # 2..30 days (anything from 30 to 35 days stays 30 days)
        return min(196, 166 + minutes // 1440)
    return min(255, 192 + minutes // 10080)  # 5..63 weeks


def validity_minutes(octet):
    """Period in minutes meant by a relative TP-VP octet (inverse of validity_octet's table)."""
    if octet < 0 or octet > 255:
        raise ValueError("TP-VP octet out of range")
    if octet <= 143:
        return (octet + 1) * 5
    if octet <= 167:
        return 720 + (octet - 143) * 30
    if octet <= 196:
        return (octet - 166) * 1440
    return (octet - 192) * 10080


def encode_address(number):
    """TP-DA for an E.164 number '+<8..15 digits>' (no leading 0): length, 0x91, BCD with F padding."""
    if not isinstance(number, str) or len(number) < 9 or len(number) > 16 or number[0] != "+":
        raise ValueError("number must be E.164: + and 8..15 digits")
    digits = number[1:]
    for ch in digits:
        if ch < "0" or ch > "9":
            raise ValueError("number must be E.164: + and 8..15 digits")
    if digits[0] == "0":
        raise ValueError("E.164 numbers never start with 0")
    n = len(digits)
    out = bytearray(2 + (n + 1) // 2)
    out[0] = n
    out[1] = _TOA_INTERNATIONAL
    for i in range(n):
        d = ord(digits[i]) - 48
        k = 2 + i // 2
        if i & 1:
            out[k] = (out[k] & 0x0F) | (d << 4)
        else:
            out[k] = 0xF0 | d  # high nibble stays F (filler) if this is the last digit
    return bytes(out)


def encode_submit(number, text, validity_minutes=4320, status_report=False):
    """SMS-SUBMIT for one segment: (pdu_hex with leading SMSC '00', TPDU octets for AT+CMGS=<n>).

    ValueError on a bad number, a bad validity or a text that does not fit one segment.
    """
    da = encode_address(number)
    vp = validity_octet(validity_minutes)
    enc, units, limit = segment_info(text)
    if units > limit:
        raise ValueError("text needs %d %s units, one segment holds %d" % (units, enc, limit))
    if enc == "gsm7":
        dcs, ud, udl = _DCS_GSM7, gsm7.pack_septets(text), units
    else:
        ud = encode_ucs2(text)
        dcs, udl = _DCS_UCS2, len(ud)
    first = _MTI_SUBMIT | _VPF_RELATIVE | (_SRR if status_report else 0)
    tpdu = bytes((first, 0)) + da + bytes((0, dcs, vp, udl)) + ud
    return "00" + binascii.hexlify(tpdu).decode().upper(), len(tpdu)
