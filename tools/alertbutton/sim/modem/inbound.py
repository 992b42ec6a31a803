"""Inbound SMS for the modem simulator: SMS-DELIVER PDUs built independently of the firmware, the SIM's
message store, +CMTI, and AT+CMGR / AT+CMGL / AT+CMGD in PDU mode (3GPP TS 27.005 3.4.1, 3.5).

Independent encoder. No package on PyPI encodes SMS-DELIVER PDUs for Python 3: `smspdu` 1.0 (2011)
is Python 2 only (does not build), `python-messaging` encodes SMS-SUBMIT only, `smsutil` only splits
text. So DELIVER PDUs are built from python-gsmmodem-new's encoder pieces, none of them the firmware's:
its SMS-SUBMIT encoder (`encodeSmsSubmitPdu`: GSM-7 with the extension table, UCS2, concatenation
UDH with 8-bit or 16-bit reference, fill bits) gives TP-DCS, TP-UDL and TP-UD; its address
(`_encodeAddressField`: international, national, alphanumeric) and timestamp (`_encodeTimestamp`)
encoders give TP-OA, the SMSC field and TP-SCTS. Only the first octet and the 8-bit user data (which
gsmmodem cannot encode) are laid out here, by hand.

ModemSim keeps the SIM store and answers AT+CMGR / AT+CMGL / AT+CMGD (its own deliver_sms sends
one-segment texts). InboundMixin adds what the two-way SMS tests need on top: any text (long ones in
parts, 16-bit references, 8-bit data, alphanumeric senders) or any raw PDU, delivered in any order,
duplicated, delayed; InboundModemSim is the A76xx with it. Like a real SC, the network keeps a
message until the module is booted and registered and the store has room, then stores it and
announces it with +CMTI when AT+CNMI <mt>=1.
"""
import datetime

from gsmmodem.pdu import (Concatenation, _encodeAddressField, _encodeTimestamp, encodeGsm7, encodeSmsSubmitPdu,
                          encodeUcs2, packSeptets)

from alertbutton.sim.modem.a76xx import ModemSim

REC_UNREAD, REC_READ, STO_UNSENT, STO_SENT, ALL = 0, 1, 2, 3, 4


class _Tz(datetime.tzinfo):
    def __init__(self, quarters):
        self.q = quarters

    def utcoffset(self, dt):
        return datetime.timedelta(minutes=15 * self.q)

    def dst(self, dt):
        return datetime.timedelta(0)


def scts_for(utc, tz_quarters=4):
    """An aware datetime for _encodeTimestamp: utc (naive, UTC) shown in the SC's local time."""
    return (utc + datetime.timedelta(minutes=15 * tz_quarters)).replace(tzinfo=_Tz(tz_quarters))


def _submit_ud(pdu):
    """(TP-DCS, UDHI, TP-UDL + TP-UD) of an SMS-SUBMIT made by gsmmodem (SMSC "00", no TP-VP)."""
    raw = bytes(pdu.data)
    i = 1 + raw[0]
    fo = raw[i]
    i += 2  # first octet, TP-MR
    i += 2 + (raw[i] + 1) // 2  # TP-DA: digits, type, semi-octets
    if (fo >> 3) & 3:
        raise ValueError("gsmmodem PDU with a validity period: not expected here")
    dcs = raw[i + 1]
    return dcs, bool(fo & 0x40), raw[i + 2:]


def _chunks(text, limit, cost):
    out, cur, n = [], [], 0
    for ch in text:
        c = cost(ch)
        if n + c > limit:
            out.append("".join(cur))
            cur, n = [], 0
        cur.append(ch)
        n += c
    out.append("".join(cur))
    return out


def _concat16_parts(text, reference):
    """(TP-DCS, UDHI, TP-UDL + TP-UD) per part with a 16-bit reference concatenation element.
    gsmmodem's SMS-SUBMIT encoder also writes the reference into TP-MR (one octet), so for
    references > 255 the same gsmmodem pieces are assembled here: Concatenation (it picks IEI 0x08
    above 255), encodeGsm7 + packSeptets with the fill bits, encodeUcs2. Parts hold 152 septets or
    66 UCS2 characters (a 7-octet UDH)."""
    try:
        encodeGsm7(text)
        gsm = True
    except ValueError:
        gsm = False
    if gsm:
        parts = _chunks(text, 152, lambda ch: len(encodeGsm7(ch)))
    else:
        parts = _chunks(text, 66, lambda ch: 1)
    out = []
    for k, part in enumerate(parts):
        ie = Concatenation()
        ie.reference, ie.parts, ie.number = reference, len(parts), k + 1
        udh = bytes(ie.encode())
        if gsm:
            septets = encodeGsm7(part)
            fill = (7 - ((len(udh) + 1) * 8) % 7) % 7
            body = bytes(packSeptets(septets, padBits=fill))
            udl = ((len(udh) + 1) * 8 + fill) // 7 + len(septets)
            out.append((0x00, True, bytes((udl, len(udh))) + udh + body))
        else:
            body = bytes(encodeUcs2(part))
            out.append((0x08, True, bytes((1 + len(udh) + len(body), len(udh))) + udh + body))
    return out


def deliver_pdus(sender, text=None, scts=None, smsc="+33689004000", reference=0, data=None, pid=0,
                 more=False):
    """Hex SMS-DELIVER PDUs (with the SMSC field) carrying text from sender, one per part.

    text: GSM-7 when possible else UCS2 (gsmmodem decides), concatenated when longer than one
    segment, with `reference` (> 255: 16-bit reference). data: bytes sent as one 8-bit message
    instead of text. scts: aware datetime (default now, UTC+1). more: TP-MMS says more are waiting.
    """
    if text is not None and "`" in text:
        # gsmmodem's GSM7_BASIC has '`' at 0x5F where 23.038 puts '§': it would send a wrong letter
        raise ValueError("'`' cannot be encoded correctly by gsmmodem (its table puts it at 0x5F)")
    if scts is None:
        scts = scts_for(datetime.datetime.utcnow().replace(microsecond=0))
    smsc_field = _encodeAddressField(smsc, smscField=True) if smsc else bytearray(b"\x00")
    head = _encodeAddressField(sender)
    ts = _encodeTimestamp(scts)
    if data is not None:
        parts = [(0x04, False, bytes((len(data),)) + bytes(data))]
    elif reference > 255:
        parts = _concat16_parts(text, reference)
    else:
        parts = [_submit_ud(p) for p in encodeSmsSubmitPdu("+33600000000", text, reference=reference,
                                                            requestStatusReport=False)]
    out = []
    for dcs, udhi, ud in parts:
        fo = 0x00 | (0 if more else 0x04) | (0x40 if udhi else 0)  # MTI 00 SMS-DELIVER
        tpdu = bytes((fo,)) + bytes(head) + bytes((pid, dcs)) + bytes(ts) + bytes(ud)
        out.append((bytes(smsc_field) + tpdu).hex().upper())
    return out


def tpdu_len(pdu_hex):
    raw = bytes.fromhex(pdu_hex)
    return len(raw) - 1 - raw[0]


class InboundMixin:
    """Multi-part and arbitrary SMS-DELIVER PDUs into ModemSim's SIM store ([stat, pdu, tpdu length]
    per index 1..store_size), which its AT+CMGR / AT+CMGL / AT+CMGD read."""

    def __init__(self, scenario=None, **kw):
        super().__init__(scenario, **kw)
        self.inbound = []  # every PDU the network put in the store: {"t", "index", "pdu"}

    # --- public (any thread) ------------------------------------------------------------------------
    def deliver(self, sender, text=None, order=None, gap_s=0.0, duplicate=(), **pdu_kw):
        """Send an SMS to the module (text, or data=bytes; see deliver_pdus). order: part numbers
        (0-based) in delivery order (default 0..n-1); duplicate: part numbers delivered a second
        time; gap_s between deliveries. Returns the PDUs in part order."""
        pdus = deliver_pdus(sender, text, **pdu_kw)
        seq = list(order) if order is not None else list(range(len(pdus)))
        seq += list(duplicate)
        for n, k in enumerate(seq):
            self.deliver_pdu(pdus[k], delay_s=n * gap_s)
        return pdus

    def deliver_pdu(self, pdu_hex, delay_s=0.0, announce=True):
        """Hand one raw PDU (any content, even malformed) to the network side, delay_s from now.
        announce=False: stored without +CMTI (an indication lost on the way)."""
        self._post(lambda: self._schedule(self.clock() + max(0.0, delay_s),
                                          lambda: self._offer(pdu_hex, announce), net=True))

    def put_stored(self, pdu_hex, stat=REC_UNREAD):
        """Put a message on the SIM before start() (it arrived while nobody listened); its index."""
        free = [i for i in range(1, self.store_size + 1) if i not in self.store]
        if not free:
            raise ValueError("SIM store full")
        self.store[free[0]] = [stat, pdu_hex.upper(), _tpdu_len_or_0(pdu_hex)]
        return free[0]

    # --- network side (sim thread) -----------------------------------------------------------------
    def _offer(self, pdu_hex, announce=True):
        free = [i for i in range(1, self.store_size + 1) if i not in self.store]
        if not self.booted or not self.registered() or not self.sms_ready or not free:
            self._schedule(self.clock() + 0.5, lambda: self._offer(pdu_hex, announce), net=True)  # SC retries
            return
        i = free[0]
        self.store[i] = [REC_UNREAD, pdu_hex.upper(), _tpdu_len_or_0(pdu_hex)]
        self.inbound.append({"t": round(self.now(), 3), "index": i, "pdu": pdu_hex.upper()})
        self._log("inbound PDU stored at %d" % i)
        if announce and self.cnmi[1] in (1, 3):  # 27.005 +CNMI <mt>=1: indicate with +CMTI
            self._emit_urc('+CMTI: "SM",%d' % i)


def _tpdu_len_or_0(pdu_hex):
    try:
        return tpdu_len(pdu_hex)
    except (ValueError, IndexError):
        return 0  # a malformed PDU still sits in the store, as the network left it


class InboundModemSim(InboundMixin, ModemSim):
    """The A76xx simulator with independent inbound PDUs."""
