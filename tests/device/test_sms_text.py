# Alert text composer, run inside the MicroPython VM: French/English content and the one-segment rule.
# Segment sizes are recounted here with the test's own GSM-7 table, not with the firmware's.
import math

from firmware.sms import text as sms_text
from firmware.sms.text import compose, LIMIT_NAME

BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
         "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
EXT = "\x0c^{}\\[~]|€"

PARIS = (48.8583701, 2.2944813, 15, 40)
CELL = (208, 1, 12345, 123456789)


from rng import Rng  # noqa: E402  (tests/device/rng.py)


def units(text):
    """(encoding, units, limit) by the test's own tables."""
    n = 0
    for ch in text:
        if ch in EXT:
            n += 2
        elif ch in BASIC:
            n += 1
        else:
            n = -1
            break
    if n >= 0:
        return "gsm7", n, 160
    n = 0
    for ch in text:
        n += 2 if ord(ch) > 0xFFFF else 1
    return "ucs2", n, 70


def fits(text):
    _e, n, lim = units(text)
    return n <= lim


def is_gsm7(text):
    return units(text)[0] == "gsm7"


def link_of(text):
    i = text.find("https://maps.google.com/?q=")
    if i < 0:
        return None
    rest = text[i + 27:]
    j = 0
    while j < len(rest) and rest[j] in "-0123456789.,":
        j += 1
    lat, lon = rest[:j].split(",")
    return lat, lon, rest[j:]


def check_coord(s, want):
    if len(s.split(".")[1]) != 5:
        raise AssertionError("not 5 decimals: " + s)
    if abs(float(s) - want) > 0.0000051:
        raise AssertionError("coordinate %s for %r" % (s, want))


def acc_token(acc):
    if acc is None or acc != acc or acc < 0:
        return None
    if acc == float("inf") or math.floor(acc + 0.5) >= 999500:
        return ">999km"
    m = math.floor(acc + 0.5)
    return "%dm" % m if m < 10000 else "%dkm" % math.floor(m / 1000 + 0.5)


def age_token(age, lang):
    if age is None or age != age:
        return None
    if age < 0:
        age = 0
    if age < 60:
        return "%ds" % math.floor(age + 0.5)
    if age < 3600:
        return "%dmin" % math.floor(age / 60 + 0.5)
    if age < 86400:
        return "%dh" % math.floor(age / 3600 + 0.5)
    d = "j" if lang == "fr" else "d"
    if age >= 999.5 * 86400:
        return ">999" + d
    return "%d%s" % (math.floor(age / 86400 + 0.5), d)


MARK = {
    ("fr", "alert"): "ALERTE", ("fr", "fall"): "Chute détectée", ("fr", "test"): "TEST -",
    ("fr", "update"): "SUIVI", ("en", "alert"): "ALERT", ("en", "fall"): "Fall detected",
    ("en", "test"): "TEST -", ("en", "update"): "UPDATE",
    ("fr", "checkin"): "Check-in manqué", ("en", "checkin"): "Missed check-in",
}
DURESS = {"fr": "sous contrainte", "en": "under duress"}


def check(text, kind, wearer, fix, battery, lang, cell, duress):
    """Every promise of the composer for one output."""
    where = repr((text, kind, wearer, fix, battery, lang, cell, duress))
    if not fits(text):
        raise AssertionError("does not fit one segment: " + where)
    if MARK[(lang, kind)] not in text:
        raise AssertionError("kind marker missing: " + where)
    if kind == "test" and not text.startswith("TEST -"):
        raise AssertionError("test message not marked: " + where)
    if (DURESS[lang] in text) != bool(duress):
        raise AssertionError("duress wording wrong: " + where)
    valid = fix is not None and fix[0] == fix[0] and fix[1] == fix[1] and abs(fix[0]) <= 90 and abs(fix[1]) <= 180
    got = link_of(text)
    if valid:
        if got is None:
            raise AssertionError("link missing: " + where)
        check_coord(got[0], fix[0])
        check_coord(got[1], fix[1])
        rest = got[2].replace(" ", "")
        at = acc_token(fix[2])
        if at is None:
            unk = ("inconnue", "préc.?") if lang == "fr" else ("unknown", "acc.?")
            if unk[0] not in rest and unk[1] not in rest:
                raise AssertionError("unknown accuracy not said: " + where)
            i = 0
        else:
            i = rest.find(at)
            while i >= 0 and rest[i + len(at):i + len(at) + 1] == "i":  # '12m' inside '12min'
                i = rest.find(at, i + 1)
            if i < 0:
                raise AssertionError("accuracy %s missing: %s" % (at, where))
            i += len(at)
        gt = age_token(fix[3], lang)
        if gt is None:
            unk = ("heureinconnue", "heure?") if lang == "fr" else ("timeunknown", "time?")
            if unk[0] not in rest[i:] and unk[1] not in rest[i:]:
                raise AssertionError("unknown age not said: " + where)
        elif gt not in rest[i:]:
            raise AssertionError("age %s missing: %s" % (gt, where))
    else:
        if got is not None:
            raise AssertionError("link without a valid fix: " + where)
        if cell is None:
            if ("position inconnue" if lang == "fr" else "position unknown") not in text:
                raise AssertionError("unknown position not said: " + where)
        else:
            for f in cell:
                if str(f) not in text:
                    raise AssertionError("cell field %r missing: %s" % (f, where))
    if battery is not None and ("Bat" in text):
        want = "%d%%" % min(100, max(0, int(battery)))
        if want not in text:
            raise AssertionError("battery %s missing: %s" % (want, where))
    # documented cleaning: control characters become spaces, outer spaces go
    name = "".join([c if c >= " " and c != "\x7f" else " " for c in (wearer or "")]).strip()
    if not is_gsm7(text):
        # only the wearer's name may bring non-GSM-7 characters
        for ch in text:
            if not is_gsm7(ch) and ch not in name:
                raise AssertionError("non-GSM-7 %r not from the name: %s" % (ch, where))
    if name and is_gsm7(name) and len(name) <= LIMIT_NAME and name not in text:
        raise AssertionError("GSM-7 name altered: " + where)


def test_limit_name_constant():
    assert LIMIT_NAME == 20


def test_french_alert_full_sentence():
    t = compose("alert", "Marie", PARIS, 80)
    assert t == ("ALERTE: Marie a déclenché son bouton d'alerte. Position: "
                 "https://maps.google.com/?q=48.85837,2.29448 (précision 15 m, il y a 40 s). Batterie 80%."), t
    check(t, "alert", "Marie", PARIS, 80, "fr", None, False)


def test_french_kinds():
    fall = compose("fall", "Marie", PARIS, 80)
    assert "Chute détectée" in fall and "Marie" in fall
    test = compose("test", "Marie", PARIS, 80)
    assert test.startswith("TEST -") and "aucune action" in test
    upd = compose("update", "Marie", PARIS, 80)
    assert upd.startswith("SUIVI") and "Marie" in upd
    for t in (fall, test, upd):
        assert "https://maps.google.com/?q=48.85837,2.29448" in t
        assert is_gsm7(t), t


def test_a_missed_check_in_has_its_own_words_never_the_button_alerts():
    # before: a missed check-in sent exactly the button alert ("a déclenché son bouton d'alerte")
    for lang, own, alert_words in (("fr", "Check-in manqué", "déclenché son bouton"),
                                   ("en", "Missed check-in", "pressed the alert button")):
        for fix in (PARIS, None):
            for name in ("Marie", "", "a" * 20, "😀" * 20):
                for duress in (False, True):
                    t = compose("checkin", name, fix, 80, lang, None, duress)
                    assert own in t and alert_words not in t, t
                    check(t, "checkin", name, fix, 80, lang, None, duress)


def test_notices_have_their_own_words_and_fit_one_segment():
    from firmware.sms import notices
    from firmware.core import gsm7
    for lang in ("fr", "en"):
        for name in ("Marie", "", "a" * 20, "€" * 20, "ç" * 20, "😀" * 20, "Иван Smith", None):
            for t in (notices.battery_text(name, 9, lang), notices.battery_text(name, 100, lang),
                      notices.end_text(name, 60, lang), notices.end_text(name, 1440, lang)):
                assert fits(t), t
                assert "déclenché" not in t and "pressed" not in t and not t.startswith(("SUIVI:", "ALERT")), t
                if name in ("Marie", "a" * 20):
                    assert name in t and gsm7.is_gsm7(t), t
    assert notices.battery_text("Marie", 9) == ("SUIVI SUSPENDU: batterie du bouton de Marie faible (9%). "
                                               "L'alerte reste active; plus de SMS de position.")
    assert notices.end_text("Marie", 60, "en") == ("END OF UPDATES: Marie's alert closed after 60 min (time "
                                                  "limit). No more position SMS.")


def test_french_fix_ages():
    for age, want in ((40, "il y a 40 s"), (12 * 60 + 10, "il y a 12 min"), (3 * 3600 + 100, "il y a 3 h"),
                      (2 * 86400 + 500, "il y a 2 j"), (0, "il y a 0 s"), (-3, "il y a 0 s")):
        t = compose("alert", "Marie", (48.85, 2.29, 15, age), 80)
        assert want in t, (age, t)
    t = compose("alert", "Marie", (48.85, 2.29, 15, None), 80)
    assert "heure inconnue" in t and "il y a" not in t, t
    t = compose("alert", "Marie", (48.85, 2.29, None, 40), 80)
    assert "précision inconnue" in t, t


def test_accuracy_units():
    for acc, want in ((3.4, "précision 3 m"), (9999.4, "précision 9999 m"), (12345, "précision 12 km"),
                      (2e9, "précision >999 km"), (float("inf"), "précision >999 km")):
        t = compose("alert", "Marie", (48.85, 2.29, acc, 40), 80)
        assert want in t, (acc, t)


def test_english_option():
    t = compose("fall", "Mary", PARIS, 55, lang="en")
    assert "Fall detected" in t and "Mary" in t and "40 s ago" in t and "55%" in t, t
    assert "Chute" not in t
    t = compose("alert", "Mary", (1.0, 2.0, 5, None), None, lang="en", duress=True)
    assert "under duress" in t and "time unknown" in t and "%" not in t, t
    t = compose("alert", "Mary", None, 10, lang="en")
    assert "position unknown" in t, t


def test_duress_and_no_fix():
    t = compose("alert", "Marie", PARIS, 80, duress=True)
    assert "sous contrainte" in t, t
    assert "contrainte" not in compose("alert", "Marie", PARIS, 80)
    t = compose("alert", "Marie", None, 80)
    assert "position inconnue" in t and "https" not in t, t
    t = compose("alert", "Marie", None, 80, cell=CELL)
    assert "https" not in t and "208" in t and "01" in t and "12345" in t and "123456789" in t, t
    # a fix wins over the cell
    t = compose("alert", "Marie", PARIS, 80, cell=CELL)
    assert "https" in t and "123456789" not in t, t


def test_invalid_coordinates_are_no_fix():
    for lat, lon in ((91, 0), (0, 181), (float("nan"), 2), (2, float("inf")), ("48", 2)):
        t = compose("alert", "Marie", (lat, lon, 5, 5), 80)
        assert "https" not in t and "position inconnue" in t, t
    for lat, lon in ((90, 180), (-90, -180), (0, 0)):
        t = compose("alert", "Marie", (lat, lon, 5, 5), 80)
        check(t, "alert", "Marie", (lat, lon, 5, 5), 80, "fr", None, False)
    assert "?q=-90.00000,-180.00000" in compose("alert", "M", (-90, -180, 5, 5))
    assert "?q=0.00000,-0.00010" in compose("alert", "M", (0.000001, -0.0001, 5, 5))


def test_programming_errors():
    for bad in (("panic", "M"), ("alert", "M", None, None, "de")):
        try:
            compose(*bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (bad,))
    for kw in ({"fix": (1, 2, 3)}, {"cell": (1, 2)}):
        try:
            compose("alert", "M", **kw)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (kw,))


def test_wording_is_gsm7_so_only_the_name_forces_ucs2():
    for kind in sms_text.KINDS:
        for lang in ("fr", "en"):
            for duress in (False, True):
                for fix, cell in ((PARIS, None), (None, CELL), (None, None), ((-1, -2, None, None), None)):
                    t = compose(kind, "Marie", fix, 80, lang, cell, duress)
                    assert is_gsm7(t), t
                    check(t, kind, "Marie", fix, 80, lang, cell, duress)


def test_long_and_foldable_names():
    t = compose("alert", "Jean-Christophe de La Tour", PARIS, 80)
    assert "Jean-Christophe de " + "." not in t and "Jean-Christophe de." in t, t
    t = compose("alert", "François", PARIS, 80)
    # folded to GSM-7 rather than losing wording: full sentence and battery kept
    assert t.startswith("ALERTE: Francois a déclenché") and "Batterie 80%" in t and is_gsm7(t), t
    t = compose("alert", "N’Diaye Łukasz", PARIS, 80)
    assert "N'Diaye Lukasz" in t and is_gsm7(t), t


def test_non_latin_names_fit_and_keep_a_prefix():
    t = compose("alert", "Иван", PARIS, 80)
    assert "Иван" in t and units(t)[0] == "ucs2", t
    t = compose("alert", "😀" * 20, (-89.99999, -179.99999, 9999, 86399), 100)
    check(t, "alert", "😀" * 20, (-89.99999, -179.99999, 9999, 86399), 100, "fr", None, False)
    t = compose("fall", "محمد عبد الله", (-89.123456, -179.123456, 1234, 4000), 80, duress=True)
    assert "Chute détectée" in t and "sous contrainte" in t, t
    check(t, "fall", "محمد عبد الله", (-89.123456, -179.123456, 1234, 4000), 80, "fr", None, True)


def _level(t):
    if "Position:" in t:
        return 0
    if "Bat" in t:
        return 1
    if "préc." in t:
        return 2
    return 3


def test_shortening_order_is_monotonic():
    # growing GSM-7 names only ever move the wording towards the compact levels, never back
    for kind in sms_text.KINDS:
        for duress in (False, True):
            prev = 0
            for n in range(LIMIT_NAME + 1):
                name = ("€" * n)
                fix = (-89.123456, -179.123456, 9999, 3599)
                t = compose(kind, name, fix, 100, "fr", None, duress)
                lvl = _level(t)
                assert lvl >= prev, (n, t)
                prev = lvl
                check(t, kind, name, fix, 100, "fr", None, duress)
            assert prev >= 1  # the longest names really needed shortening


POOLS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -'",
    BASIC,
    EXT,
    "çêâîôûëïœÇÊÂŒŁłŠšŽžȘș’",
    "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЩЭЮЯабвгдежзиклмнопрстуфхцчшщэюя",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "王李张刘陈杨黄赵吴周",
    "😀🚑❤👍🏽🆘𝒜𠀀",
)
ACCS = (0, 3.4, 15, 999.6, 9999.4, 10000, 123456, 999499, 999499.7, 1e6, 1e12, None, -1, float("nan"), float("inf"))
AGES = (0, 0.4, 59.4, 59.6, 60, 3599, 3600, 86399, 86400, 10 ** 8, -5, None, float("nan"), float("inf"))


def gen_name(rng):
    n = rng.below(26)
    mode = rng.below(4)
    if mode == 0:
        pool = rng.pick(POOLS)
        return "".join([rng.pick(pool) for _ in range(n)])
    return "".join([rng.pick(rng.pick(POOLS)) for _ in range(n)])


def gen_fix(rng):
    r = rng.below(10)
    if r == 0:
        return None
    if r == 1:
        return (rng.pick((90, -90, 0, 90.0000001, float("nan"))), rng.pick((180, -180, 0, -180.5)),
                rng.pick(ACCS), rng.pick(AGES))
    lat = rng.unit() * 180 - 90
    lon = rng.unit() * 360 - 180
    acc = rng.pick(ACCS) if rng.below(2) else rng.unit() * 5000
    age = rng.pick(AGES) if rng.below(2) else rng.unit() * rng.pick((60, 3600, 86400, 10 ** 7))
    return (lat, lon, acc, age)


def gen_cell(rng):
    if rng.below(2):
        return None
    return (rng.pick((208, 310, 999)), rng.pick((1, 10, 260, 999)), rng.below(1 << 24), rng.below(1 << 36))


def test_one_segment_over_generated_inputs():
    rng = Rng(2024)
    seen = {"gsm7": 0, "ucs2": 0}
    for i in range(4000):
        kind = rng.pick(sms_text.KINDS)
        lang = rng.pick(("fr", "en"))
        wearer = gen_name(rng)
        fix = gen_fix(rng)
        cell = gen_cell(rng)
        battery = rng.pick((None, 0, 5, 80, 100, 150, -4))
        duress = rng.below(3) == 0
        t = compose(kind, wearer, fix, battery, lang, cell, duress)
        check(t, kind, wearer, fix, battery, lang, cell, duress)
        seen[units(t)[0]] += 1
    assert seen["gsm7"] > 500 and seen["ucs2"] > 100, seen  # both encodings really exercised


def test_worst_case_names_every_combination():
    worst = ("€" * 20, "ç" * 20, "😀" * 20, "ж" * 20, "م" * 20, "ê€😀 ж" * 4, "a" * 20, "")
    fixes = ((-89.99999, -179.99999, 999499, 86399), (0.5, 0.5, 1, 1), (45, 5, None, None), None)
    for kind in sms_text.KINDS:
        for lang in ("fr", "en"):
            for duress in (False, True):
                for name in worst:
                    for fix in fixes:
                        for cell in (None, (999, 999, 16777215, 68719476735)):
                            t = compose(kind, name, fix, 100, lang, cell, duress)
                            check(t, kind, name, fix, 100, lang, cell, duress)


REF_LONGEST = "4294967295:ABCDEFGHIJKLM"  # the largest u32 chunk index


def test_followups_carry_the_head_reference_in_one_segment():
    """Issue 21: a follow-up carries `<index>:<13 base32>` at every wording level, still one segment
    (GSM-7 unless the name itself forces UCS2), French and English, the worst names and positions."""
    worst = ("€" * 20, "ç" * 20, "😀" * 20, "ж" * 20, "ê€😀 ж" * 4, "a" * 20, "W" * 20, "")
    fixes = ((-89.99999, -179.99999, 999499, 86399), (0.5, 0.5, 1, 1), (45, 5, None, None), None)
    for ref in (REF_LONGEST, "0:AAAAAAAAAAAAA"):
        for lang in ("fr", "en"):
            for duress in (False, True):
                for name in worst:
                    for fix in fixes:
                        for cell in (None, (999, 999, 16777215, 68719476735)):
                            t = compose("update", name, fix, 100, lang, cell, duress, ref=ref)
                            check(t, "update", name, fix, 100, lang, cell, duress)
                            if ref not in t:
                                raise AssertionError("reference missing: %r" % t)
                            if is_gsm7(name) and not is_gsm7(t):
                                raise AssertionError("a GSM-7 name gave a UCS2 follow-up: %r" % t)
    t = compose("update", "Camille", PARIS, 80, "fr", ref="3:K7Q2M6ABCDEFG")
    assert "Preuve 3:K7Q2M6ABCDEFG" in t and "Camille" in t, t  # L1 here: L0's sentences no longer fit
    t = compose("update", "Camille", None, None, "fr", ref="3:K7Q2M6ABCDEFG")
    assert "Preuve audio 3:K7Q2M6ABCDEFG." in t, t
    t = compose("update", "Camille", None, None, "en", ref="3:K7Q2M6ABCDEFG")
    assert "Audio proof 3:K7Q2M6ABCDEFG." in t, t


def test_the_alert_sms_never_carries_a_reference_and_bad_ones_are_refused():
    for kind in ("alert", "fall", "checkin", "test"):
        try:
            compose(kind, "Camille", PARIS, 80, "fr", ref="3:K7Q2M6ABCDEFG")
        except ValueError:
            continue
        raise AssertionError("a %s SMS took a head reference" % kind)
    for bad in ("3:K7Q2M6ABCDEF", "K7Q2M6ABCDEFGH", "3:k7q2m6abcdefg", "3:K7Q2M6ABCDEF1", "-1:K7Q2M6ABCDEFG"):
        try:
            compose("update", "Camille", PARIS, 80, "fr", ref=bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)
    assert compose("alert", "Camille", PARIS, 80, "fr") == compose("alert", "Camille", PARIS, 80, "fr", ref=None)
