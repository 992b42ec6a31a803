# Phone number normalisation (firmware/core/phone.py), run inside the MicroPython VM. Every accepted number
# must also be accepted by the SMS encoder's address field, the code that will really use it.
from firmware.core import phone
from firmware.core.sms_pdu import encode_address

GOOD = (
    ("06 12 34 56 78", "+33612345678"),
    ("0612345678", "+33612345678"),
    ("07.12.34.56.78", "+33712345678"),
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
    ("0639 12 34 56", "+262639123456"),  # Mayotte mobile
    ("0690 12 34 56", "+590690123456"),  # Guadeloupe
    ("0694 12 34 56", "+594694123456"),  # Guyane
    ("0696 12 34 56", "+596696123456"),  # Martinique
    ("+44 7700 900123", "+447700900123"),
    ("+1 (202) 555-0143", "+12025550143"),
    ("+49 30 1234 5678", "+493012345678"),
    ("  +32 470 12 34 56\t", "+32470123456"),
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
    ("+1234567", "+1 number"),
    ("+4912345", "digits after the +"),
    ("+4412345678901234", "digits after the +"),
    ("06 12 34 56 7a", "only digits"),
    ("+33 6 12 34 56 78 ext 2", "only digits"),
    ("0012345", "+1 number"),
    ("0012345678", "+1 number"),
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
        raw = "0%d12345678" % p
        try:
            e = phone.normalize(raw)
        except ValueError:
            assert p in (0, 8), raw
            continue
        assert p not in (0, 8), raw
        assert e == "+33%d12345678" % p, (raw, e)
        encode_address(e)


def test_landline_warning_only_for_landlines():
    assert phone.warnings("+33145678901")
    assert phone.warnings("+33970000000")
    assert phone.warnings("+33612345678") == []
    assert phone.warnings("+447700900123") == []


def test_pretty():
    assert phone.pretty("+33612345678") == "+33 6 12 34 56 78"
    assert phone.pretty("+447700900123") == "+447700900123"
