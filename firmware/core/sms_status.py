# SMS-STATUS-REPORT decoder (3GPP TS 23.040 9.2.2.3), for +CDS delivery reports in PDU mode.
from binascii import unhexlify

# TP-ST (23.040 9.2.3.15): 0x00-0x1F transaction completed (0x00 received by the SME),
# 0x20-0x3F temporary error, SC still trying; 0x40-0x6F permanent error; 0x60-0x7F temporary error,
# SC stopped trying (treated as failed for this message).
DELIVERED = "delivered"
TRYING = "trying"
FAILED = "failed"


def classify(status):
    if status < 0x20:
        return DELIVERED
    if status < 0x40:
        return TRYING
    return FAILED


def decode_status_report(pdu_hex, has_sca=True):
    """(mr, recipient, status) from a hex SMS-STATUS-REPORT (str or the modem's bytes).
    Raises ValueError on anything else."""
    try:
        b = unhexlify(pdu_hex)
    except (ValueError, TypeError, UnicodeError):
        raise ValueError("not hex")
    i = 0
    if has_sca:
        if not b:
            raise ValueError("empty")
        i = 1 + b[0]
    if len(b) < i + 4:
        raise ValueError("too short")
    fo = b[i]
    if fo & 0x03 != 0x02:
        raise ValueError("not a status report")
    mr = b[i + 1]
    ndigits = b[i + 2]
    toa = b[i + 3]
    if ndigits > 20:
        raise ValueError("bad address length")
    j = i + 4
    nbytes = (ndigits + 1) // 2
    if len(b) < j + nbytes + 14 + 1:
        raise ValueError("too short")
    digits = []
    for k in range(nbytes):
        o = b[j + k]
        for d in (o & 0x0F, o >> 4):
            if d < 10:
                digits.append(chr(48 + d))
    number = "".join(digits[:ndigits])
    if toa & 0x70 == 0x10:
        number = "+" + number
    j += nbytes + 7 + 7  # TP-SCTS, TP-DT
    return mr, number, b[j]
