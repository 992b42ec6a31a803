# Phone numbers typed by technicians -> E.164 ("+33612345678"), the only form the SMS encoder takes.
# Shared by the device console and the host CLI; the rules are those of the numbering plans in
# firmware/core/numplan.py, generated from Google's libphonenumber metadata (phonenumbers) by
# tools/alertbutton/numplan/generate.py. The host checks the same input with phonenumbers itself
# (tools/alertbutton/numplan/host.py) and tests/host/test_numplan.py compares both on generated numbers.
#
# Accepted: "+<country><number>", "00<country><number>", and national numbers of the French numbering
# zone (0 + 9 digits: France, Reunion, Mayotte, Guadeloupe, Saint Barthelemy, Saint Martin, French
# Guiana, Martinique, Saint Pierre and Miquelon: 0692... is Reunion, +262 692..., never +33 692...).
# A number must be a mobile of a served region (in the French zone also a landline or VoIP, with a
# warning: an SMS may never be read there). Spaces, dots, dashes, slashes and parentheses are ignored;
# "+33 (0)6..." too. Everything else is refused with a message that says why and what to do:
# service/premium numbers, short numbers, wrong lengths for that country, countries not served.
from firmware.core import numplan

_IGNORED = " .-/()\t"
_KINDS = {"m": "mobile", "f": "landline", "v": "VoIP"}


def _digits_only(s):
    for ch in s:
        if ch < "0" or ch > "9":
            return False
    return bool(s)


def _in_set(d, rules, j, k):
    """Digit d in the set rules[j:k] ('0-24-8': digits and ranges)."""
    while j < k:
        lo = rules[j]
        if j + 2 < k and rules[j + 1] == "-":
            if lo <= d <= rules[j + 2]:
                return True
            j += 3
        else:
            if d == lo:
                return True
            j += 1
    return False


def _match_at(nsn, rules, j):
    """Does nsn match the pattern starting at rules[j] (ended by '/')? Walks the region's rule string
    in place: no substring is made (lookups run during an alert, in a tight heap)."""
    i = 0
    n = len(nsn)
    while True:
        c = rules[j]
        if c == "/":
            return i == n
        if i >= n:
            return False
        if c == "~":
            i += ord(rules[j + 1]) - 48
            if i > n:
                return False
            j += 2
        elif c == "[":
            k = rules.find("]", j)
            if not _in_set(nsn[i], rules, j + 1, k):
                return False
            i += 1
            j = k + 1
        else:
            if c != nsn[i]:
                return False
            i += 1
            j += 1


def _find(region, nsn):
    """(kind letter, written-form template) of a national significant number in a region, or None."""
    r = numplan.REGIONS[region]
    rules = r[3]
    j = 0
    end = len(rules)
    while j < end:
        sl = rules.find("/", j)
        if _match_at(nsn, rules, j + 1):
            sp = rules.find(" ", sl)
            idx = int(rules[sl + 1:sp if sp > 0 else end])
            return rules[j], r[2].split("|")[idx] if "|" in r[2] else r[2]
        sp = rules.find(" ", sl)
        if sp < 0:
            return None
        j = sp + 1
    return None


def _split_cc(digits):
    for n in (1, 2, 3):
        if digits[:n] in numplan.CC:
            return digits[:n]
    return None


def lookup(e164):
    """(region, country name, kind "mobile"/"landline"/"VoIP", written form) of a served number, or
    None. The written form is the international one of phonenumbers: '+262 692 12 34 04'."""
    if not isinstance(e164, str) or e164[:1] != "+":
        return None
    cc = _split_cc(e164[1:])
    if cc is None:
        return None
    nsn = e164[1 + len(cc):]
    for region in numplan.CC[cc]:
        got = _find(region, nsn)
        if got is not None:
            out = "+" + cc + " "
            i = 0
            for c in got[1]:  # the template: '#' one digit, anything else as written
                if c == "#" and i < len(nsn):
                    out += nsn[i]
                    i += 1
                elif c != "#":
                    out += c
            return region, numplan.REGIONS[region][1], _KINDS[got[0]], out + nsn[i:]
    return None


def _lengths(cc):
    """The national-number lengths of a country code's rules."""
    out = []
    for region in numplan.CC[cc]:
        rules = numplan.REGIONS[region][3]
        j = 0
        while j < len(rules):
            n = 0
            k = j + 1
            while rules[k] != "/":
                if rules[k] == "~":
                    n += ord(rules[k + 1]) - 48
                    k += 2
                    continue
                if rules[k] == "[":
                    k = rules.find("]", k)
                n += 1
                k += 1
            if n not in out:
                out.append(n)
            sp = rules.find(" ", k)
            if sp < 0:
                break
            j = sp + 1
    out.sort()
    return out


def _served():
    return " ".join(["+" + cc for cc in numplan.CC])


def _name(cc):
    return " / ".join([numplan.REGIONS[r][1] for r in numplan.CC[cc]])


def _international(digits):
    if digits[0] == "0":
        raise ValueError("a country code never starts with 0 (write +33 6..., not +0...)")
    cc = _split_cc(digits)
    if cc is None:
        raise ValueError("+%s... is not a country this button serves (served: %s): give a number of one of them"
                         % (digits[:3], _served()))
    nsn = digits[len(cc):]
    if lookup("+" + digits):
        return "+" + digits
    if nsn[:1] == "0":
        fixed = "+" + cc + nsn[1:]
        if lookup(fixed):
            raise ValueError("drop the 0 after +%s: %s, not +%s %s" % (cc, lookup(fixed)[3], cc, nsn))
    if cc == "33" and len(nsn) == 9:
        for region in numplan.ZONE[1:]:
            if _find(region, nsn):
                r = numplan.REGIONS[region]
                raise ValueError("+33 %s... is an overseas number of %s: write +%s %s..." % (
                    nsn[:3], r[1], r[0], nsn[:3]))
    lens = _lengths(cc)
    if len(nsn) not in lens:
        raise ValueError("a +%s number (%s) has %s digits after +%s, this one has %d" % (
            cc, _name(cc), " or ".join([str(n) for n in lens]), cc, len(nsn)))
    if cc in ("33", "262", "590", "594", "596", "508"):
        raise ValueError("+%s %s is not a mobile, landline or VoIP number of %s (service and premium "
                         "numbers, 08 included, cannot receive SMS): check it" % (cc, nsn, _name(cc)))
    raise ValueError("+%s %s is not a mobile number of %s: only mobiles are accepted outside France "
                     "and its overseas departments; check it" % (cc, nsn, _name(cc)))


def _national(s):
    if s[0] != "0":
        raise ValueError("short or local numbers cannot be used: give 10 digits (06...) or +country...")
    if len(s) != 10:
        raise ValueError("a French number has 10 digits (06 12 34 56 78), this one has %d" % len(s))
    if s[1] == "0":
        raise ValueError("French numbers never start with 00 after the 0: check the number")
    for region in numplan.ZONE:
        if _find(region, s[1:]):
            return "+" + numplan.REGIONS[region][0] + s[1:]
    if s[1] == "8":
        raise ValueError("08 numbers are service numbers and cannot receive SMS")
    raise ValueError("%s is not a mobile, landline or VoIP number of France or its overseas "
                     "departments (service and premium numbers cannot receive SMS): check it" % s)


def normalize(raw):
    """The E.164 form of raw, or ValueError with a message a technician can act on."""
    if not isinstance(raw, str):
        raise ValueError("number must be text")
    s = "".join([ch for ch in raw if ch != " " and ch != "\t"])
    for pre in ("+33(0)", "0033(0)"):  # "+33 (0)6 12..." is a common way to write French numbers
        if s.startswith(pre):
            s = "+33" + s[len(pre):]
    s = "".join([ch for ch in s if _IGNORED.find(ch) < 0])
    if not s:
        raise ValueError("empty number")
    if s.startswith("00"):
        s = "+" + s[2:]
    if s[0] == "+":
        if not _digits_only(s[1:]):
            raise ValueError("a number has only digits after the +")
        return _international(s[1:])
    if not _digits_only(s):
        raise ValueError("a number has only digits (and an optional leading +)")
    return _national(s)


_NUM_CHARS = "+0123456789.-()/"


def numberlike(tok):
    for c in tok:
        if _NUM_CHARS.find(c) < 0:
            return False
    return True


def split_number(toks):
    """(number, name) from the words after the slot in `contacts set`. A number in double quotes is
    taken as written ("+262 692 12 34 04" 2 Julie). Unquoted, a number typed in groups ("06 12 34 56 78
    Marie") is the run of number-like words that makes a valid number; if words made of digits follow
    it, they could belong to the number or to the name: refused, never guessed (ValueError saying how
    to quote). If no run is valid, the whole run goes to the number check, which says why. The console
    reads its lines this way and the CLI checks what it sends against it."""
    if toks and toks[0][:1] == '"':
        line = " ".join(toks)
        end = line.find('"', 1)
        if end < 0:
            raise ValueError('the quote before the number is not closed: "+262 692 12 34 04" Julie')
        return line[1:end], _unquote(line[end + 1:].strip())
    j = 0
    while j < len(toks) - 1 and numberlike(toks[j]):
        j += 1
    for k in range(j, 0, -1):
        try:
            e164 = normalize("".join(toks[:k]))
        except ValueError:
            continue
        if k < len(toks) and numberlike(toks[k]):
            raise ValueError('"%s" after the number %s could be part of it: put the number in double '
                             'quotes, e.g. contacts set SLOT "%s" %s' % (
                                 toks[k], " ".join(toks[:k]), " ".join(toks[:k]), " ".join(toks[k:])))
        return "".join(toks[:k]), " ".join(toks[k:])
    k = max(j, 1)
    return "".join(toks[:k]), " ".join(toks[k:])


def _unquote(name):
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        return name[1:-1]
    return name


def warnings(e164):
    """Advice for a valid number: the SMS may never be read on a landline or an internet box."""
    info = lookup(e164)
    if info is None:
        return []
    if info[2] == "landline":
        return ["%s landline: the SMS may be read aloud by a voice server or not delivered; prefer a "
                "mobile" % info[1]]
    if info[2] == "VoIP":
        return ["%s VoIP number (internet box): SMS delivery is not guaranteed; prefer a mobile" % info[1]]
    return []


def pretty(e164):
    """The international written form ('+262 692 12 34 04'); unchanged if not a served number."""
    info = lookup(e164)
    return info[3] if info else e164


def describe(e164):
    """'+262 692 12 34 04 (Reunion, mobile)': what the technician reads back."""
    info = lookup(e164)
    return "%s (%s, %s)" % (info[3], info[1], info[2]) if info else e164


def mask(e164):
    """A number as logs and events may show it: country code, first digit, last two, the others as
    dots, in the written form when served ('+33 6 •• •• •• 78'), else '+33•••••••78'."""
    info = lookup(e164)
    if info is None:
        s = e164 or ""
        if len(s) <= 4:
            return "•" * len(s)
        head = 3 if s[0] == "+" else 1
        return s[:head] + "•" * (len(s) - head - 2) + s[-2:]
    written = info[3]
    sp = written.find(" ")
    out = written[:sp + 1]
    n = sum([1 for c in written[sp + 1:] if "0" <= c <= "9"])
    k = 0
    for c in written[sp + 1:]:
        if "0" <= c <= "9":
            out += c if k == 0 or k >= n - 2 else "•"
            k += 1
        else:
            out += c
    return out


def mask_in(text):
    """text with every phone-number-like run masked: '+' and 8 or more digits, 8 to 13 digits starting
    with 0 (national, or 00 international), or 11 to 13 digits (international without '+'). Longer
    runs (IMEI, ICCID) and shorter ones (times, counters) are kept. Text without such a run is
    returned as it is (no copy: every event goes through here)."""
    out = None
    last = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        plus = c == "+" and i + 1 < n and "0" <= text[i + 1] <= "9"
        if not (plus or "0" <= c <= "9"):
            i += 1
            continue
        j = i + 1
        while j < n and "0" <= text[j] <= "9":
            j += 1
        digits = j - i - (1 if plus else 0)
        prev = text[i - 1] if i else " "
        glued = ("0" <= prev <= "9") or ("a" <= prev <= "z") or ("A" <= prev <= "Z")  # in a word, a hex value
        national = text[i] == "0" and 8 <= digits <= 13
        if not glued and ((plus and digits >= 8) or (not plus and (national or 11 <= digits <= 13))):
            run = text[i:j]
            e = run if plus else ("+" + run[2:] if run[:2] == "00" else "+" + run)
            if not plus and run[0] == "0" and run[:2] != "00":
                try:
                    e = normalize(run)
                except ValueError:
                    e = run
            out = (out or []) + [text[last:i], mask(e)]
            last = j
        i = j
    if out is None:
        return text
    out.append(text[last:])
    return "".join(out)
