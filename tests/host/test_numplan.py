"""Issue 19 item 1: the device's numbering-plan rules (firmware/core/numplan.py, generated) against
phonenumbers itself, on numbers nobody picked by hand: for every served region and every number type
phonenumbers knows (mobile, landline, VoIP, toll free, premium, shared cost, ...), its example number
with the digits after a random 1-4 digit prefix drawn at random, at the right length and one digit
shorter or longer, plus purely random numbers. The device code runs in the MicroPython VM."""
import json
import random
import subprocess
import sys

import phonenumbers
import pytest

from alertbutton import vm
from alertbutton.numplan import generate, host
from firmware.core import numplan, phone

VM_LOOKUP = r"""
import sys, json
from firmware.core import phone
for line in open(sys.argv[1]):
    raw = line.strip()
    try:
        e = phone.normalize(raw)
        info = phone.lookup(e)
        print(json.dumps([e, list(info) if info else None]))
    except ValueError as x:
        print(json.dumps([None, str(x)]))
"""


def generated(seed=19, per_type=30, random_per_region=150):
    rng = random.Random(seed)
    out = set()
    for region in numplan.REGIONS:
        md = phonenumbers.PhoneMetadata.metadata_for_region(region)
        cc = str(md.country_code)
        lengths = set(md.general_desc.possible_length or ())
        for t in phonenumbers.PhoneNumberType.values():
            ex = phonenumbers.example_number_for_type(region, t)
            if ex is None:
                continue
            nsn = phonenumbers.national_significant_number(ex)
            for _ in range(per_type * (4 if t == phonenumbers.PhoneNumberType.MOBILE else 1)):
                k = rng.randint(1, min(4, len(nsn)))
                n = len(nsn) + rng.choice((0, 0, 0, -1, 1))
                num = nsn[:k] + "".join(rng.choice("0123456789") for _ in range(max(0, n - k)))
                out.add("+" + cc + num)
        for _ in range(random_per_region):
            n = rng.choice(sorted(lengths)) + rng.choice((0, 0, -1, 1))
            out.add("+" + cc + "".join(rng.choice("0123456789") for _ in range(n)))
    # national forms of the French zone: 0 + the 9 digits of a +33/+262/+590/+594/+596/+508 number
    zone_cc = {numplan.REGIONS[r][0] for r in numplan.ZONE}
    for e in sorted(out):
        cc = next((c for c in zone_cc if e[1:].startswith(c)), None)
        if cc and len(e) - 1 - len(cc) == 9:
            out.add("0" + e[1 + len(cc):])
    return sorted(out)


def expected(raw):
    """What phonenumbers says the button must do with raw: (e164, [region, name, kind, written]) or None."""
    if raw.startswith("+"):
        try:
            e = phonenumbers.format_number(phonenumbers.parse(raw), phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return None
        if e != raw:  # phonenumbers drops a 0 after the country code: the button never guesses
            return None
        info = host.classify(raw)
        return (raw, list(info)) if info else None
    e = host.national(raw)
    return (e, list(host.classify(e))) if e else None


@pytest.fixture(scope="module")
def sample():
    return generated()


def test_the_module_is_generated_from_the_installed_phonenumbers():
    assert generate.main(["--check"]) == 0


def test_device_rules_agree_with_phonenumbers(sample, tmp_path, report):
    assert len(sample) >= 10000, len(sample)
    src = tmp_path / "numbers.txt"
    src.write_text("\n".join(sample) + "\n")
    proc = vm.run(code=VM_LOOKUP, args=(str(src),), timeout=600)
    assert proc.returncode == 0, proc.stderr
    got = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(got) == len(sample)
    accepted = differ = 0
    kinds = {}
    wrong = []
    for raw, (e164, info) in zip(sample, got):
        want = expected(raw)
        if want is None:
            if e164 is not None:
                wrong.append((raw, "device accepts as %s %s, phonenumbers refuses" % (e164, info)))
            continue
        accepted += 1
        kinds[want[1][2]] = kinds.get(want[1][2], 0) + 1
        if e164 is None:
            wrong.append((raw, "device refuses (%s), phonenumbers: %s" % (info, want)))
        elif [e164, info] != [want[0], want[1]]:
            differ += 1
            wrong.append((raw, "device %s %s, phonenumbers %s" % (e164, info, want)))
    report("numbering plans: device rules vs phonenumbers",
           "%d generated numbers, %d accepted by phonenumbers (%s), %d differences"
           % (len(sample), accepted, ", ".join("%s %d" % kv for kv in sorted(kinds.items())), len(wrong)))
    assert wrong == [], wrong[:20]
    assert accepted >= 2500 and kinds.get("mobile", 0) >= 2000 and kinds.get("landline", 0) >= 300


def test_every_refusal_says_why(sample):
    """Every number the device refuses gets a message that names the country or what is wrong."""
    for raw in sample[::7]:
        try:
            phone.normalize(raw)
        except ValueError as e:
            assert len(str(e)) > 20 and ("digits" in str(e) or "not a" in str(e) or "number" in str(e) or "drop the 0" in str(e)), (raw, e)


def test_contacts_set_shows_the_written_form_and_country(capsys, tmp_path):
    from alertbutton.device.technician import typed_contact
    assert typed_contact("0692 12 34 04", ["Julie"]) == ("+262692123404", "Julie")
    assert phone.describe("+262692123404") == "+262 692 12 34 04 (Reunion, mobile)"
    assert phone.describe("+590690123456") == "+590 690 12 34 56 (Guadeloupe, mobile)"
    assert phone.describe("+33145678901") == "+33 1 45 67 89 01 (France, landline)"


def test_cli_help_of_the_generator():
    proc = subprocess.run([sys.executable, "-m", "alertbutton.numplan.generate", "--help"],
                          capture_output=True, text=True, cwd=vm.REPO + "/tools")
    assert "phonenumbers" in proc.stdout


def test_country_names_for_the_page_in_french_and_in_the_cli_english():
    """The web page names a number's country in its language: phonenumbers' French names (even for
    codes shared by several regions, where country_name_for_number says nothing), the CLI's English."""
    nh, npl = host, numplan
    assert nh.country_names("+262692123404") == {"fr": "La Réunion", "en": "Reunion"}
    assert nh.country_names("+447400900105") == {"fr": "Royaume-Uni", "en": "United Kingdom"}
    assert nh.country_names("+590690001234")["fr"] == "Guadeloupe"  # +590: three regions share it
    assert nh.country_names("+33812345678") is None  # not a number the button takes
    for region in npl.REGIONS:
        n = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        names = nh.country_names(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164))
        assert names and names["fr"] and names["en"], (region, names)
