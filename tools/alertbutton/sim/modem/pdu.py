"""SMS PDUs on the simulated network's side (3GPP TS 23.040), independent of the firmware's encoder:
SMS-SUBMIT checked and decoded (python-gsmmodem-new) as the TE typed it after AT+CMGS, and the
SMS-STATUS-REPORT (+CDS) and SMS-DELIVER PDUs the network produces, with their addresses and
timestamps; the +CMS error codes and TP-ST status values the simulator uses.
"""
import datetime

from gsmmodem.pdu import decodeSmsPdu, encodeGsm7, packSeptets

# 3GPP TS 27.005 section 3.2.5 codes (reported numerically: 27.005 defines no verbose form).
CMS_INVALID_PDU = 304     # invalid PDU mode parameter
CMS_INVALID_TEXT = 305    # invalid text mode parameter
CMS_NO_SERVICE = 331      # no network service
CMS_NO_CNMA = 340         # no +CNMA acknowledgement expected
CMS_UNKNOWN = 500         # unknown error


# TP-ST values (3GPP TS 23.040 9.2.3.15) used by the delivery-report faults.
ST_DELIVERED = 0x00        # short message received by the SME
ST_SME_BUSY = 0x21         # temporary error, SC still trying to transfer the SM
ST_INCOMPATIBLE = 0x41     # permanent error: incompatible destination


_HEX = frozenset(b"0123456789ABCDEFabcdef")


def _ud_octets(dcs, udl):
    """Octets the user data must occupy for TP-DCS dcs and TP-UDL udl (TS 23.038 alphabet groups)."""
    if dcs & 0xC0 == 0x00:
        alphabet = (dcs >> 2) & 3
    elif dcs & 0xF0 == 0xF0:
        alphabet = (dcs >> 2) & 1
    elif dcs & 0xF0 == 0xE0:
        alphabet = 2
    else:
        alphabet = 0
    return (udl * 7 + 7) // 8 if alphabet == 0 else udl


def check_submit_pdu(hexstr, n):
    """Validate what the TE typed after AT+CMGS=n in PDU mode.

    Returns (None, decoded) when the PDU is a well-formed SMS-SUBMIT whose TPDU (the PDU without its
    leading SMSC field) is exactly n octets, else (CMS error code, None). Decoding is done by
    python-gsmmodem-new, independently of the firmware's encoder.
    """
    if not hexstr or len(hexstr) % 2 or any(c not in _HEX for c in hexstr.encode("latin-1")):
        return CMS_INVALID_PDU, None
    raw = bytes.fromhex(hexstr)
    smsc_len = raw[0]
    tpdu = raw[1 + smsc_len:]
    if 1 + smsc_len > len(raw) or len(tpdu) != n or len(tpdu) < 7:
        return CMS_INVALID_PDU, None
    # walk the SMS-SUBMIT header (TS 23.040 9.2.2.2) so a truncated or padded PDU is refused
    fo = tpdu[0]
    if fo & 0x03 != 0x01:
        return CMS_INVALID_PDU, None
    i = 2                                   # first octet, TP-MR
    da_digits = tpdu[i]
    i += 2 + (da_digits + 1) // 2           # length, type of address, semi-octets
    i += 2                                  # TP-PID, TP-DCS
    if i > len(tpdu):
        return CMS_INVALID_PDU, None
    dcs = tpdu[i - 1]
    vpf = (fo >> 3) & 3
    i += {0: 0, 2: 1}.get(vpf, 7)
    if i >= len(tpdu):
        return CMS_INVALID_PDU, None
    udl = tpdu[i]
    if len(tpdu) - i - 1 != _ud_octets(dcs, udl):
        return CMS_INVALID_PDU, None
    try:
        decoded = decodeSmsPdu(hexstr)
    except Exception:
        return CMS_INVALID_PDU, None
    if decoded.get("type") != "SMS-SUBMIT":
        return CMS_INVALID_PDU, None
    return None, decoded


# --- SMS-STATUS-REPORT (3GPP TS 23.040 9.2.2.3), the PDU of a +CDS delivery report ------------------

def _semi_octets(digits):
    """'3361' -> b'\\x33\\x16': BCD digits, low nibble first, odd count padded with F."""
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))


def encode_address(number):
    """TP-RA address field: digit count, type of address (0x91 international, 0x81 unknown), digits."""
    intl = number.startswith("+")
    digits = "".join(c for c in number if c.isdigit())
    if not digits:
        raise ValueError("address %r has no digits" % number)
    return bytes((len(digits), 0x91 if intl else 0x81)) + _semi_octets(digits)


def encode_smsc(number):
    """RP SC address field as the module prints it before a TPDU: octet count (TOA + digits), TOA,
    digits; b'\\x00' when unknown."""
    if not number:
        return b"\x00"
    a = encode_address(number)
    return bytes((len(a) - 1,)) + a[1:]


def encode_timestamp(utc, tzq):
    """7-octet TP-SCTS/TP-DT: local time (utc + tzq quarter hours) in swapped BCD; the zone in quarter
    hours, its sign in bit 3 of the last octet (23.040 9.2.3.11)."""
    local = utc + datetime.timedelta(minutes=15 * tzq)
    out = _semi_octets(local.strftime("%y%m%d%H%M%S") + "%02d" % abs(tzq))
    if tzq < 0:
        out = out[:6] + bytes((out[6] | 0x08,))
    return out


def status_report_pdu(mr, recipient, scts_utc, dt_utc, status, tzq=0, smsc=""):
    """(hex PDU with its SMSC field, TPDU length) of an SMS-STATUS-REPORT: first octet MTI=10 with
    TP-MMS set (no more messages), TP-SRQ 0 (report of an SMS-SUBMIT), TP-MR, TP-RA, TP-SCTS, TP-DT,
    TP-ST; no TP-PI (optional)."""
    if not 0 <= mr <= 255 or not 0 <= status <= 255:
        raise ValueError("mr and status are octets")
    tpdu = (bytes((0x06, mr)) + encode_address(recipient) + encode_timestamp(scts_utc, tzq)
            + encode_timestamp(dt_utc, tzq) + bytes((status,)))
    return (encode_smsc(smsc) + tpdu).hex().upper(), len(tpdu)


def deliver_pdu(sender, text, scts_utc, tzq=0, smsc=""):
    """(hex PDU with its SMSC field, TPDU length) of an SMS-DELIVER (23.040 9.2.2.1) as the module
    stores a received SMS: GSM-7 when the text allows it, else UCS2; one segment only."""
    try:
        ud, dcs = packSeptets(encodeGsm7(text)), 0x00
        udl = len(encodeGsm7(text))
    except ValueError:
        ud, dcs = text.encode("utf-16-be"), 0x08
        udl = len(ud)
    if udl > (160 if dcs == 0 else 140):
        raise ValueError("one segment only")
    tpdu = (bytes((0x04,)) + encode_address(sender) + bytes((0x00, dcs)) + encode_timestamp(scts_utc, tzq)
            + bytes((udl,)) + bytes(ud))
    return (encode_smsc(smsc) + tpdu).hex().upper(), len(tpdu)


def text_timestamp(utc, tzq):
    """'yy/MM/dd,hh:mm:ss+zz' (27.005 text mode <scts>/<dt>)."""
    local = utc + datetime.timedelta(minutes=15 * tzq)
    return "%s%+03d" % (local.strftime("%y/%m/%d,%H:%M:%S"), tzq)


def _norm_number(n):
    return "".join(c for c in str(n or "") if c.isdigit() or c == "+")
