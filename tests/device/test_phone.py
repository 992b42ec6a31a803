# Phone number normalisation (firmware/core/phone.py), run inside the MicroPython VM. Every accepted number
# must also be accepted by the SMS encoder's address field, the code that will really use it.
from firmware.core import phone
from firmware.core.sms_pdu import encode_address

GOOD = (
    ("06 12 34 56 78", "+33612345678"),
    ("0612345678", "+33612345678"),
    ("07.52.34.56.78", "+33752345678"),
    ("06-12-34-56-78", "+33612345678"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("+33 (0)6 12 34 56 78", "+33612345678"),
    ("0033 6 12 34 56 78", "+33612345678"),
    ("0033(0)612345678", "+33612345678"),
    ("01 45 67 89 01", "+33145678901"),
    ("05 56 00 00 00", "+33556000000"),
    ("09 70 00 00 00", "+33970000000"),
    ("0692 12 34 56", "+262692123456"),  # Reunion mobile: +262, not +33
    ("0262 12 34 56", "+262262123456"),
    ("0639 01 23 45", "+262639012345"),  # Mayotte mobile
    ("0690 12 34 56", "+590690123456"),  # Guadeloupe
    ("0694 12 34 56", "+594694123456"),  # Guyane
    ("0696 12 34 56", "+596696123456"),  # Martinique
    ("+44 7400 900123", "+447400900123"),
    ("+49 151 2345 6789", "+4915123456789"),
    ("  +32 470 12 34 56\t", "+32470123456"),
    ("+590 690 12 34 56", "+590690123456"),
    ("+689 87 12 34 56", "+68987123456"),  # French Polynesia: 8 digits, no trunk 0
    ("+687 75 12 34", "+687751234"),  # New Caledonia: 6 digits
)

BAD = (
    ("", "empty"),
    ("0812345678", "service"),  # 08: no SMS
    ("+33812345678", "service"),
    ("114", "short"),  # emergency SMS number: not an international address
    ("17", "short"),
    ("061234567", "10 digits"),
    ("06123456789", "10 digits"),
    ("+330612345678", "drop the 0"),
    ("+33 6 12 34 56 7", "9 digits"),
    ("+33 6 92 12 34 56", "overseas"),  # a Reunion number written with +33 reaches nobody
    ("+0612345678", "country code"),
    ("+1234567", "not a country this button serves"),
    ("+1 (202) 555-0143", "not a country this button serves"),
    ("+4912345", "digits after +49"),
    ("+4412345678901234", "digits after +44"),
    ("+44 7700 900123 1", "digits after +44"),  # the example: 11 digits after +44
    ("+262 692 12 34 04 2", "digits after +262"),  # and 10 after +262
    ("+44 7700 900123", "not a mobile number of United Kingdom"),  # Ofcom's range for drama
    ("+49 30 1234 5678", "only mobiles"),  # a Berlin landline
    ("0712345678", "not a mobile, landline or VoIP number"),  # 071: not allocated
    ("06 12 34 56 7a", "only digits"),
    ("+33 6 12 34 56 78 ext 2", "only digits"),
    ("0012345", "not a country this button serves"),
    ("0012345678", "not a country this button serves"),
    (None, "text"),
)


def test_accepted_numbers_normalise_to_e164():
    for raw, want in GOOD:
        got = phone.normalize(raw)
        assert got == want, (raw, got, want)
        encode_address(got)  # the SMS encoder takes it


def test_refused_numbers_say_why():
    for raw, why in BAD:
        try:
            got = phone.normalize(raw)
        except ValueError as e:
            assert why in str(e), (raw, str(e), why)
            continue
        raise AssertionError("%r accepted as %r" % (raw, got))


def test_normalised_is_a_fixed_point():
    for _raw, want in GOOD:
        assert phone.normalize(want) == want


def test_every_french_national_prefix():
    # 01-05, 06, 07, 09 become +33 (or an overseas code); 08 and 00 never do
    for p in range(10):
        raw = "0%d52345678" % p
        try:
            e = phone.normalize(raw)
        except ValueError:
            assert p in (0, 8), raw
            continue
        assert p not in (0, 8), raw
        assert e == "+33%d52345678" % p, (raw, e)
        encode_address(e)


def test_landline_warning_only_for_landlines():
    assert phone.warnings("+33145678901")
    assert phone.warnings("+33970000000")
    assert phone.warnings("+33612345678") == []
    assert phone.warnings("+447400900123") == []


def test_pretty():
    assert phone.pretty("+33612345678") == "+33 6 12 34 56 78"
    assert phone.pretty("+447400900123") == "+44 7400 900123"
    assert phone.pretty("+262692123404") == "+262 692 12 34 04"
    assert phone.describe("+262692123404") == "+262 692 12 34 04 (Reunion, mobile)"
    assert phone.pretty("+12025550143") == "+12025550143"  # not served: unchanged


def test_masks_for_logs():
    assert phone.mask("+33612345678") == "+33 6 •• •• •• 78"
    assert phone.mask("+262692123404") == "+262 6•• •• •• 04"
    assert phone.mask("+12025550143") == "+12•••••••43"  # not served: the same idea
    t = 'sent to +262692123404, from 0612345601 and 0033752345602; +CMT: "+447400900105"'
    m = phone.mask_in(t)
    for n in ("692123404", "612345601", "752345602", "7400900105", "12345", "23456"):
        assert n not in m, (n, m)
    assert m.count("••") >= 8 and m.startswith("sent to +262 6••")
    # kept: identifiers that are not numbers of people, and short figures
    for keep in ("imei 356938035643809", "head 81c4aba7363f29e7", "mr=5 ms=123456789", "utc 1700000000",
                 "+CMGS: 12", "battery 3900 mV"):
        assert phone.mask_in(keep) == keep, keep
