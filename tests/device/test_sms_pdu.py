# GSM-7 codec and SMS-SUBMIT encoder, run inside the MicroPython VM.
# Expected bytes come from the 03.38/03.40 rules worked by hand (see each comment), not from the code.
import binascii

from firmware.core import gsm7, sms_pdu

# Every character of the basic table in code order (0x1B = ESC left out) and the extension table.
BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
         "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
EXT = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E,
       "|": 0x40, "€": 0x65}


from rng import Rng  # noqa: E402  (tests/device/rng.py)


def hx(b):
    return binascii.hexlify(b).decode().upper()


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc:
        return True
    raise AssertionError("%s not raised by %r%r" % (exc.__name__, fn, args))


def test_basic_table_codes():
    if len(BASIC) != 127:
        raise AssertionError("test table has %d chars" % len(BASIC))
    for i in range(127):
        code = i if i < 0x1B else i + 1
        ch = BASIC[i]
        assert gsm7.is_gsm7(ch), ch
        assert gsm7.septet_count(ch) == 1
        assert gsm7.encode_septets(ch) == bytes((code,)), (ch, code)


def test_pack_spec_vectors():
    # 'hellohello' is the 03.38 worked example; 'How are you?' the classic 12-septet one.
    assert hx(gsm7.pack_septets("hellohello")) == "E8329BFD4697D9EC37"
    assert hx(gsm7.pack_septets("How are you?")) == "C8F71D14969741F977FD07"
    assert hx(gsm7.pack_septets("hello")) == "E8329BFD06"
    # 8 septets fill exactly 7 octets; 7 septets leave 7 zero fill bits
    assert hx(gsm7.pack_septets("12345678")) == "31D98C56B3DD70"
    assert hx(gsm7.pack_septets("1234567")) == "31D98C56B3DD00"
    assert gsm7.pack_septets("") == b""
    assert hx(gsm7.pack_septets("@")) == "00"
    assert hx(gsm7.pack_septets("@@@@@@@@")) == "00000000000000"


def test_extension_table():
    for ch in EXT:
        assert gsm7.is_gsm7(ch)
        assert gsm7.septet_count(ch) == 2, ch
        assert gsm7.encode_septets(ch) == bytes((0x1B, EXT[ch])), ch
        assert gsm7.unpack_septets(gsm7.pack_septets(ch), 2) == ch
    # '€' = ESC 0x65: septets 0011011, 1100101 -> 0x9B, 0x32
    assert hx(gsm7.pack_septets("€")) == "9B32"
    assert gsm7.septet_count("a{b}€") == 8


def test_not_gsm7():
    for ch in ("ç", "ê", "â", "î", "ô", "û", "`", "\t", "\x00", "\x1b", "é\u0301", "😀", "Ж", "م", "œ"):
        bad = ch if len(ch) == 1 else ch[1]
        assert not gsm7.is_gsm7("abc" + ch), repr(ch)
        raises(ValueError, gsm7.septet_count, bad)
        raises(ValueError, gsm7.pack_septets, "x" + bad)
    assert gsm7.is_gsm7("")
    assert gsm7.is_gsm7("é è à ù Ç")


def test_roundtrip_every_alignment():
    alphabet = BASIC + "".join(EXT)
    rng = Rng(12345)
    for n in range(0, 170):
        text = "".join([alphabet[rng.below(len(alphabet))] for _ in range(n)])
        n7 = gsm7.septet_count(text)
        packed = gsm7.pack_septets(text)
        assert len(packed) == (n7 * 7 + 7) // 8
        assert gsm7.unpack_septets(packed, n7) == text, repr(text)
    # the whole alphabet in one go, and shifted by one to move every bit position
    for pre in ("", "x", "xx", "xxx"):
        t = pre + alphabet
        assert gsm7.unpack_septets(gsm7.pack_septets(t), gsm7.septet_count(t)) == t


def test_unpack_escape_rules():
    # ESC + code without extension char shows the basic char; ESC at the very end shows a space
    assert gsm7.unpack_septets(bytes(gsm7_pack_codes((0x1B, 0x41))), 2) == "A"
    assert gsm7.unpack_septets(bytes(gsm7_pack_codes((0x41, 0x1B))), 2) == "A "
    raises(ValueError, gsm7.unpack_septets, b"\x00", 2)


def gsm7_pack_codes(codes):
    out, acc, bits = [], 0, 0
    for c in codes:
        acc |= c << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc)
    return out


def test_ucs2_surrogate_pair():
    assert hx(sms_pdu.encode_ucs2("Aé")) == "004100E9"
    # U+1F600: 0x1F600 - 0x10000 = 0xF600 -> D800|0x3D, DC00|0x200
    assert hx(sms_pdu.encode_ucs2("A😀")) == "0041D83DDE00"
    assert hx(sms_pdu.encode_ucs2("\U00010000\U0010FFFF")) == "D800DC00DBFFDFFF"
    assert sms_pdu.utf16_units("A😀ç") == 4


def test_address_odd_and_even_digits():
    # 11 digits: 33 61 23 45 67 8 -> swapped nibbles, F filler in the last octet
    assert hx(sms_pdu.encode_address("+33612345678")) == "0B913316325476F8"
    # 12 digits: 44 79 11 12 34 56 -> no filler
    assert hx(sms_pdu.encode_address("+447911123456")) == "0C91449711214365"
    # shortest (8) and longest (15) E.164 lengths
    assert hx(sms_pdu.encode_address("+12345678")) == "0891" "21436587"
    assert hx(sms_pdu.encode_address("+123456789012345")) == "0F91" "21436587092143F5"


def test_address_rejects_non_e164():
    for bad in ("0612345678", "33612345678", "+3361234567a", "+1234567", "+1234567890123456", "+0123456789",
                "", "+", " +33612345678", "+33 612345678", "+33-612345678", "++33612345678", "+３３612345678"):
        raises(ValueError, sms_pdu.encode_address, bad)
        raises(ValueError, sms_pdu.encode_submit, bad, "x")
    raises(ValueError, sms_pdu.encode_address, None)


def test_validity_table():
    cases = {5: 0, 9: 0, 10: 1, 720: 143, 749: 143, 750: 144, 1439: 166, 1440: 167, 2879: 167, 2880: 168,
             4320: 169, 43200: 196, 50399: 196, 50400: 197, 635040: 255, 10 ** 7: 255}
    for m, vp in cases.items():
        assert sms_pdu.validity_octet(m) == vp, (m, sms_pdu.validity_octet(m), vp)
    assert sms_pdu.validity_minutes(0) == 5
    assert sms_pdu.validity_minutes(143) == 720
    assert sms_pdu.validity_minutes(144) == 750
    assert sms_pdu.validity_minutes(167) == 1440
    assert sms_pdu.validity_minutes(168) == 2880
    assert sms_pdu.validity_minutes(196) == 43200
    assert sms_pdu.validity_minutes(197) == 5 * 10080
    assert sms_pdu.validity_minutes(255) == 63 * 10080
    for bad in (0, 4, -1, 4.5, "60", None):
        raises(ValueError, sms_pdu.validity_octet, bad)


def test_validity_rounds_down_to_longest_representable():
    # the table is monotonic, so "never above the request, and the next step would be" is the full rule
    for vp in range(255):
        assert sms_pdu.validity_minutes(vp) < sms_pdu.validity_minutes(vp + 1)
    rng = Rng(99)
    ms = list(range(5, 3000)) + [rng.below(700000) + 5 for _ in range(3000)]
    for m in ms:
        vp = sms_pdu.validity_octet(m)
        got = sms_pdu.validity_minutes(vp)
        if m <= 63 * 10080:
            assert got <= m, (m, vp, got)
        if vp < 255:
            assert sms_pdu.validity_minutes(vp + 1) > m, (m, vp)


def test_submit_full_pdu_gsm7():
    pdu, n = sms_pdu.encode_submit("+33612345678", "hellohello")
    # SMSC 00 | 11 SUBMIT+VPF relative | MR 00 | DA | PID 00 | DCS 00 | VP A9 (3 days) | UDL 0A | UD
    assert pdu == "00" "11" "00" "0B913316325476F8" "00" "00" "A9" "0A" "E8329BFD4697D9EC37", pdu
    assert n == len(pdu) // 2 - 1 == 23


def test_submit_status_report_and_validity():
    pdu, n = sms_pdu.encode_submit("+447911123456", "@", validity_minutes=60, status_report=True)
    # 31 = SUBMIT | VPF relative | SRR; VP 60 min -> 11; one septet '@' -> 00
    assert pdu == "00" "31" "00" "0C91449711214365" "00" "00" "0B" "01" "00", pdu
    assert n == 15


def test_submit_ucs2():
    pdu, n = sms_pdu.encode_submit("+33612345678", "Ça va 😀")
    # Ç is GSM-7 but the emoji is not: whole text in UCS2, UDL counts octets (8 units -> 16)
    ud = "00C7" "0061" "0020" "0076" "0061" "0020" "D83D" "DE00"
    assert pdu == "00" "11" "00" "0B913316325476F8" "00" "08" "A9" "10" + ud, pdu
    assert n == len(pdu) // 2 - 1
    assert pdu == pdu.upper()


def test_segment_limits():
    assert sms_pdu.segment_info("a" * 160) == ("gsm7", 160, 160)
    assert sms_pdu.fits_one_segment("a" * 160)
    assert not sms_pdu.fits_one_segment("a" * 161)
    assert sms_pdu.fits_one_segment("€" * 80)
    assert not sms_pdu.fits_one_segment("€" * 80 + "a")
    assert sms_pdu.segment_info("ç" * 70) == ("ucs2", 70, 70)
    assert not sms_pdu.fits_one_segment("ç" * 71)
    assert sms_pdu.segment_info("😀" * 35) == ("ucs2", 70, 70)
    assert not sms_pdu.fits_one_segment("😀" * 35 + "a")
    assert sms_pdu.fits_one_segment("")
    # limits reach the encoder: the longest texts encode, one more unit is refused
    for ok in ("a" * 160, "€" * 80, "ç" * 70, "😀" * 35):
        pdu, n = sms_pdu.encode_submit("+33612345678", ok)
        assert n == len(pdu) // 2 - 1 and n <= 140 + 14
    for bad in ("a" * 161, "€" * 80 + "a", "ç" * 71, "😀" * 35 + "a"):
        raises(ValueError, sms_pdu.encode_submit, "+33612345678", bad)


def test_udl_and_length_over_random_texts():
    alphabet = BASIC + "".join(EXT)
    rng = Rng(777)
    for _ in range(400):
        n = rng.below(161)
        text = "".join([alphabet[rng.below(len(alphabet))] for _ in range(n)])
        while gsm7.septet_count(text) > 160:
            text = text[:-1]
        pdu, tl = sms_pdu.encode_submit("+33612345678", text)
        n7 = gsm7.septet_count(text)
        head = 1 + 1 + 8 + 1 + 1 + 1  # first, MR, DA, PID, DCS, VP
        assert int(pdu[2 + 2 * head:2 + 2 * head + 2], 16) == n7
        assert tl == head + 1 + (n7 * 7 + 7) // 8
        ud = binascii.unhexlify(pdu[2 + 2 * head + 2:])
        assert gsm7.unpack_septets(ud, n7) == text
