"""Generate firmware/core/numplan.py from phonenumbers' metadata (Google libphonenumber's numbering
plans), for the regions the button serves.

    python -m alertbutton.numplan.generate [--check]

Each region's national-number patterns (mobile; for the French numbering zone also fixed line and
VoIP) are regular expressions over digits with counted repeats, which MicroPython's `re` cannot run.
They are expanded here into fixed-length alternatives of digit sets ("6[01245678]......"), merged
back where they differ in one position, and written as strings the device matches digit by digit.
Each alternative carries the template phonenumbers writes its numbers with in international format
(split further where random numbers of one alternative are written differently). --check exits 1 when the committed module differs from what would be written.
"""
import argparse
import os
import random
import re._constants as C
import re._parser as sp
import sys

import phonenumbers

from alertbutton import vm

OUT = os.path.join(vm.REPO, "firmware", "core", "numplan.py")

# The French numbering zone: national numbers written 0 + 9 digits, tried in this order.
ZONE = ("FR", "RE", "YT", "GP", "BL", "MF", "GF", "MQ", "PM")
# Served with their mobiles only: other overseas collectivities and the neighbouring countries where
# a victim's relatives most often live or work.
MOBILE_ONLY = ("WF", "NC", "PF", "KM", "BE", "LU", "DE", "CH", "IT", "ES", "MC", "AD", "GB", "PT", "NL")
NAMES = {"FR": "France", "RE": "Reunion", "YT": "Mayotte", "GP": "Guadeloupe", "BL": "Saint Barthelemy",
         "MF": "Saint Martin", "GF": "French Guiana", "MQ": "Martinique", "PM": "Saint Pierre and Miquelon",
         "WF": "Wallis and Futuna", "NC": "New Caledonia", "PF": "French Polynesia", "KM": "Comoros",
         "BE": "Belgium", "LU": "Luxembourg", "DE": "Germany", "CH": "Switzerland", "IT": "Italy", "ES": "Spain",
         "MC": "Monaco", "AD": "Andorra", "GB": "United Kingdom", "PT": "Portugal", "NL": "Netherlands"}
TYPES = (("m", "mobile", phonenumbers.PhoneNumberType.MOBILE), ("f", "fixed_line", phonenumbers.PhoneNumberType.FIXED_LINE),
         ("v", "voip", phonenumbers.PhoneNumberType.VOIP))
DIG = frozenset("0123456789")


def _set(items):
    s, neg = set(), False
    for op, av in items:
        if op is C.LITERAL:
            s.add(chr(av))
        elif op is C.RANGE:
            s |= {chr(c) for c in range(av[0], av[1] + 1)}
        elif op is C.CATEGORY and av is C.CATEGORY_DIGIT:
            s |= DIG
        elif op is C.NEGATE:
            neg = True
        else:
            raise ValueError("unexpected class item %r" % (op,))
    s = frozenset(s) & DIG
    return DIG - s if neg else s


def expand(parsed):
    """Every fixed-length alternative of a parsed pattern, as tuples of digit sets."""
    alts = [()]
    for op, av in parsed:
        if op is C.LITERAL:
            parts = [(frozenset(chr(av)),)]
        elif op is C.IN:
            parts = [(_set(av),)]
        elif op is C.CATEGORY and av is C.CATEGORY_DIGIT:
            parts = [(DIG,)]
        elif op is C.BRANCH:
            parts = [a for b in av[1] for a in expand(b)]
        elif op is C.SUBPATTERN:
            parts = expand(av[3])
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            inner = expand(sub)
            parts = []
            for n in range(lo, hi + 1):
                cur = [()]
                for _ in range(n):
                    cur = [a + b for a in cur for b in inner]
                parts += cur
        elif op is C.AT:
            continue
        else:
            raise ValueError("unexpected pattern element %r" % (op,))
        alts = [a + b for a in alts for b in parts]
    return alts


def merge(alts):
    """Alternatives that differ in one position only become one (their sets united), until stable."""
    alts = set(alts)
    changed = True
    while changed:
        changed = False
        for i in range(max((len(a) for a in alts), default=0)):
            groups = {}
            for a in alts:
                key = ("short", a) if len(a) <= i else (a[:i], a[i + 1:])
                groups.setdefault(key, []).append(a)
            new = set()
            for key, g in groups.items():
                if key[0] == "short" or len(g) == 1:
                    new.update(g)
                    continue
                new.add(g[0][:i] + (frozenset().union(*[a[i] for a in g]),) + g[0][i + 1:])
                changed = True
            alts = new
    return sorted(alts, key=lambda a: (len(a), [sorted(x) for x in a]))


def _ranges(digits):
    """'01245678' -> '0-24-8' (runs of 3 or more as a range)."""
    ds = sorted(int(d) for d in digits)
    out, i = "", 0
    while i < len(ds):
        j = i
        while j + 1 < len(ds) and ds[j + 1] == ds[j] + 1:
            j += 1
        out += "%d-%d" % (ds[i], ds[j]) if j - i >= 2 else "".join(str(d) for d in ds[i:j + 1])
        i = j + 1
    return out


def token(alt):
    """'6', '[0-24-8]', and '~N' for a run of N any-digits (N 1-9)."""
    out, run = "", 0
    for s in list(alt) + [None]:
        if s == DIG:
            run += 1
            if run < 9:
                continue
        if run:
            out += "~%d" % run
            run = 0
            if s == DIG:
                continue
        if s is None:
            break
        out += next(iter(s)) if len(s) == 1 else "[%s]" % _ranges(s)
    return out


def grouping(region, alt, pick=min):
    """How phonenumbers writes a number of this alternative in international format, after "+cc ":
    a template with '#' for each digit ("# ## ## ## ##", "##.##.##")."""
    nsn = "".join(pick(sorted(s)) for s in alt)
    cc = phonenumbers.PhoneMetadata.metadata_for_region(region).country_code
    n = phonenumbers.parse("+%d%s" % (cc, nsn))
    text = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    body = text.split(" ", 1)[1] if " " in text else ""
    if "".join(c for c in body if c.isdigit()) != nsn:  # a format that adds or hides digits: plain
        return "#" * len(nsn)
    return "".join("#" if c.isdigit() else c for c in body)


def refine(region, alt, rng, tries=40):
    """Split an alternative at its first multi-digit position until random numbers of each part are
    all written with the same grouping (phonenumbers' formats can depend on more leading digits than
    the type patterns do)."""
    g0 = grouping(region, alt)
    if all(grouping(region, alt, rng.choice) == g0 for _ in range(tries)):
        return [(alt, g0)]
    for i, s in enumerate(alt):
        if len(s) > 1:
            out = []
            for d in sorted(s):
                out += refine(region, alt[:i] + (frozenset(d),) + alt[i + 1:], rng, tries)
            return out
    return [(alt, g0)]


def remerge(pairs):
    """Merge again the parts that share a grouping."""
    by = {}
    for alt, g in pairs:
        by.setdefault(g, []).append(alt)
    out = []
    for g, alts in by.items():
        out += [(a, g) for a in merge(alts)]
    return sorted(out, key=lambda ag: (len(ag[0]), [sorted(x) for x in ag[0]], ag[1]))


def rules(region):
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    kinds = TYPES if region in ZONE else TYPES[:1]
    out = []
    for key, attr, _t in kinds:
        desc = getattr(md, attr)
        if desc is None or not desc.national_number_pattern:
            continue
        rng = random.Random(region + key)
        pairs = []
        for a in merge(expand(sp.parse(desc.national_number_pattern))):
            pairs += refine(region, a, rng)
        out.append((key, tuple("%s:%s" % (token(a), g) for a, g in remerge(pairs))))
    return md.country_code, out


def render():
    lines = [
        "# GENERATED by tools/alertbutton/numplan/generate.py from the numbering plans of phonenumbers %s"
        % phonenumbers.__version__,
        "# (Google libphonenumber metadata): DO NOT EDIT; regenerate with",
        "#     cd tools && ../.venv/bin/python -m alertbutton.numplan.generate",
        "# and check with tests/host/test_numplan.py, which compares these rules with phonenumbers on",
        "# generated numbers. Per region: (country code, name, written-form templates separated by '|'",
        "# ('#' one digit), rules). Rules: space-separated, each a kind (m mobile, f fixed line, v VoIP),",
        "# a national-number pattern (a digit, [..] one of these digits or ranges, ~N any N digits) and",
        "# '/' the index of its template. One string per region: few objects in the device's heap.",
        "# Mobiles only outside the French numbering zone (ZONE: national form 0 + 9 digits).",
        "ZONE = %r" % (ZONE,),
        "REGIONS = {",
    ]
    by_cc = {}
    for region in ZONE + MOBILE_ONLY:
        cc, kinds = rules(region)
        by_cc.setdefault(str(cc), []).append(region)
        templates, parts = [], []
        for key, alts in kinds:
            for a in alts:
                pat, tpl = a.split(":", 1)
                if tpl not in templates:
                    templates.append(tpl)
                parts.append("%s%s/%d" % (key, pat, templates.index(tpl)))
        lines.append("    %r: (%r, %r, %r," % (region, str(cc), NAMES[region], "|".join(templates)))
        text = " ".join(parts)
        chunks = []
        while text:
            cut = len(text) if len(text) <= 90 else text.rfind(" ", 0, 90) + 1
            chunks.append(text[:cut])
            text = text[cut:]
        for c in chunks:
            lines.append("        %r" % c)
        lines[-1] += "),"
    lines.append("}")
    lines.append("# country code -> its regions, in the order phonenumbers tries them")
    order = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    lines.append("CC = {")
    for cc, regions in sorted(by_cc.items()):
        regions.sort(key=lambda r: order[int(cc)].index(r))
        lines.append("    %r: %r," % (cc, tuple(regions)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if firmware/core/numplan.py is not up to date")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        same = os.path.exists(OUT) and open(OUT).read() == text
        print("%s is %s" % (OUT, "up to date" if same else "OUT OF DATE: regenerate it"))
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(text)
    print("wrote %s (%d bytes)" % (OUT, len(text)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
