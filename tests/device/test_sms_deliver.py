# SMS-DELIVER decoder in the VM. PDUs are laid out here field by field from 23.040 (a published
# example for the plain case); the cross-check against independent encoders is
# tests/host/test_sms_deliver_independent.py.
import binascii
import random

from firmware.core import gsm7
from firmware.core.sms_deliver import BIT8, GSM7, UCS2, NotDeliver, alphabet, decode, ucs2
from firmware.core.sms_pdu import encode_submit, encode_ucs2

SCTS = "62117261753340"  # 26/11/27 16:57:33, +04 quarters (swapped BCD)
OA_INTL = "0B913316325476F8"  # +33612345678
SMSC = "07913386094000F0"  # +33689004000


def h(b):
    return binascii.hexlify(bytes(b)).decode().upper()


def pack_after(header, codes):
    """UD = header octets, fill bits up to the next septet boundary, then septets: LSB-first bit
    writer, independent of the decoder's realignment."""
    out = bytearray(header)
    bits = len(header) * 8
    bits = (bits + 6) // 7 * 7
    for c in codes:
        for k in range(7):
            if c >> k & 1:
                j = (bits + k) >> 3
                while len(out) <= j:
                    out.append(0)
                out[j] |= 1 << ((bits + k) & 7)
        bits += 7
    while len(out) < (bits + 7) // 8:
        out.append(0)
    return bytes(out)


def deliver(ud_hex, udl, dcs=0, fo=0x04, oa=OA_INTL, scts=SCTS, smsc=SMSC, pid=0):
    return smsc + "%02X" % fo + oa + "%02X%02X" % (pid, dcs) + scts + "%02X" % udl + ud_hex


def test_published_example():
    # dreamfabric.com SMS-DELIVER example: +31641600986, "How are you?"
    m = decode("07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07")
    assert m.sender == "+31641600986" and m.text == "How are you?" and m.enc == GSM7
    assert m.smsc == "+31624000000" and m.scts[:6] == (2002, 8, 26, 19, 37, 41)
    assert m.total == 1 and m.seq == 1 and m.ports is None


def test_gsm7_with_extension_table_and_timestamp():
    text = "Recu [ok] {€} ~ |^\\ 1234"
    p = deliver(h(gsm7.pack_septets(text)), gsm7.septet_count(text))
    m = decode(p)
    assert m.text == text and m.sender == "+33612345678"
    assert m.scts == (2026, 11, 27, 16, 57, 33, 4)
    m = decode(p[len(SMSC):], smsc=False)
    assert m.text == text and m.smsc == ""


def test_negative_time_zone_and_bad_timestamp():
    m = decode(deliver(h(gsm7.pack_septets("ok")), 2, scts="62117261753349"))  # tz octet 0x49: sign set, 1 ten, 4 units
    assert m.scts[6] == -(1 * 10 + 4)
    m = decode(deliver(h(gsm7.pack_septets("ok")), 2, scts="6211726175334F"))
    assert m.scts is None and m.text == "ok"  # a bad timestamp never loses the message
    m = decode(deliver(h(gsm7.pack_septets("ok")), 2, scts="62F17261753340"))
    assert m.scts is None


def test_ucs2_with_surrogate_pair_and_lone_surrogate():
    text = "Reçu 👍 ça va"
    ud = encode_ucs2(text)
    m = decode(deliver(h(ud), len(ud), dcs=0x08))
    assert m.text == text and m.enc == UCS2 and m.data == ud
    assert ucs2(b"\xd8\x3d\x00\x41") == "\ufffdA"
    assert ucs2(b"\xdc\x00") == "\ufffd"
    assert ucs2(b"\x00\x41\x00") == "A"  # odd last byte dropped


def test_8bit_data():
    m = decode(deliver("01024F4B", 4, dcs=0x04))
    assert m.enc == BIT8 and m.data == b"\x01\x02OK" and m.text == "\x01\x02OK"


def test_data_coding_groups():
    assert alphabet(0x00) == GSM7 and alphabet(0x04) == BIT8 and alphabet(0x08) == UCS2
    assert alphabet(0x0C) == GSM7  # reserved alphabet: GSM-7
    assert alphabet(0x10) == GSM7 and alphabet(0x18) == UCS2  # with message class
    assert alphabet(0x48) == UCS2  # automatic deletion group
    assert alphabet(0xC0) == GSM7 and alphabet(0xD8) == GSM7 and alphabet(0xE8) == UCS2
    assert alphabet(0xF0) == GSM7 and alphabet(0xF4) == BIT8 and alphabet(0x80) == GSM7
    for dcs in (0x20, 0x28, 0x60):
        try:
            alphabet(dcs)
        except ValueError:
            pass
        else:
            raise AssertionError("compressed DCS 0x%02X accepted" % dcs)


def test_concatenated_gsm7_8bit_ref_fill_bits():
    udh = bytes((5, 0x00, 3, 0x2A, 2, 1))  # 6 octets: 1 fill bit before the first septet
    text = "POSITION 1234 {x}"
    codes = gsm7.encode_septets(text)
    ud = pack_after(udh, codes)
    udl = 7 + len(codes)
    m = decode(deliver(h(ud), udl, fo=0x44))
    assert m.text == text, m.text
    assert (m.ref, m.ref16, m.total, m.seq) == (0x2A, False, 2, 1)


def test_concatenated_gsm7_16bit_ref_no_fill():
    udh = bytes((6, 0x08, 4, 0x12, 0x34, 3, 3))  # 7 octets = 8 septets exactly
    text = "fin du message"
    codes = gsm7.encode_septets(text)
    ud = pack_after(udh, codes)
    m = decode(deliver(h(ud), 8 + len(codes), fo=0x44))
    assert m.text == text and (m.ref, m.ref16, m.total, m.seq) == (0x1234, True, 3, 3)


def test_concatenated_ucs2_and_ports_and_unknown_elements():
    body = encode_ucs2("Où es-tu ?")
    udh = bytes((0x0C, 0x24, 1, 0x01, 0x00, 3, 9, 2, 2, 0x04, 2, 0x10, 0x20)) # shift table, concat, ports
    ud = udh + body
    m = decode(deliver(h(ud), len(ud), dcs=0x08, fo=0x44))
    assert m.text == "Où es-tu ?" and (m.ref, m.total, m.seq) == (9, 2, 2) and m.ports == (0x10, 0x20)


def test_invalid_concatenation_element_is_ignored():
    for total, seq in ((0, 1), (2, 0), (2, 3)):
        udh = bytes((5, 0x00, 3, 7, total, seq))
        codes = gsm7.encode_septets("ok")
        m = decode(deliver(h(pack_after(udh, codes)), 7 + len(codes), fo=0x44))
        assert m.text == "ok" and m.total == 1 and m.seq == 1


def test_addresses_national_alphanumeric_and_special_digits():
    m = decode(deliver(h(gsm7.pack_septets("ok")), 2, oa="0A816021436587"))  # national, unknown plan
    assert m.sender == "0612345678"
    alpha = gsm7.pack_septets("InfoSMS")  # 7 octets = 14 semi-octets (13 used)
    m = decode(deliver(h(gsm7.pack_septets("x")), 1, oa="0DD0" + h(alpha)))
    assert m.sender == "InfoSMS"
    m = decode(deliver(h(gsm7.pack_septets("x")), 1, oa="0ED0" + h(alpha)))  # length rounded up
    assert m.sender == "InfoSMS"
    m = decode(deliver(h(gsm7.pack_septets("x")), 1, oa="03811AF3"))  # *13 (semi-octet A is '*')
    assert m.sender == "*13"


def test_other_pdu_types_are_not_deliver():
    pdu, _n = encode_submit("+33612345678", "hello")
    try:
        decode(pdu)
    except NotDeliver as e:
        assert e.mti == 1
    else:
        raise AssertionError("SUBMIT decoded as DELIVER")
    try:
        decode("0006" + "2A" + OA_INTL + SCTS + SCTS + "00")
    except NotDeliver as e:
        assert e.mti == 2
    else:
        raise AssertionError("status report decoded as DELIVER")


def test_truncated_and_malformed_raise_value_error():
    good = deliver(h(gsm7.pack_septets("hello world")), 11)
    bad = [good[:k] for k in range(0, len(good) - 1, 2)]
    bad += [good + "0", "zz" + good, deliver("00", 200), deliver("00" * 141, 141, dcs=0x08)]
    bad += [deliver("0500", 2, fo=0x44, dcs=0x04)]  # UDH longer than the user data
    bad += [deliver("02000A", 3, fo=0x44, dcs=0x04)]  # element longer than the header
    for p in bad:
        try:
            decode(p)
        except ValueError:
            continue
        raise AssertionError("accepted: %s" % p)


def test_fuzzed_pdus_only_ever_raise_value_error():
    seeds = [deliver(h(gsm7.pack_septets("POSITION 1234")), 13),
             deliver(h(pack_after(bytes((5, 0, 3, 1, 2, 1)), gsm7.encode_septets("abc"))), 10, fo=0x44),
             deliver(h(encode_ucs2("Reçu")), 8, dcs=0x08)]
    rnd = random.Random(7) if hasattr(random, "Random") else None
    r = rnd.getrandbits if rnd else random.getrandbits
    if rnd is None:
        random.seed(7)
    ok = 0
    for n in range(3000):
        raw = bytearray(binascii.unhexlify(seeds[n % len(seeds)]))
        for _ in range(1 + r(2)):
            op = r(2)
            i = r(8) % len(raw)
            if op == 0:
                raw[i] = r(8)
            elif op == 1 and len(raw) > 2:
                raw = raw[:i] + raw[i + 1:]
            else:
                raw.append(r(8))
        try:
            decode(raw)
            ok += 1
        except ValueError:
            pass
    assert ok > 100  # many mutations still decode: the fuzz reaches the decoding paths
