"""Alert SMS text composer: one message that always fits ONE SMS segment (160 GSM-7 septets / 70 UCS2).

compose(kind, wearer, fix, battery, lang, cell, duress) -> str, kind in "alert", "fall", "checkin" (a
missed check-in: its own words, never the button alert's), "test", "update".
French by default, English with lang="en". All fixed wording is GSM-7 (no c-cedilla, no circumflex), so
only the wearer's name can force UCS2.

Wording levels (the same facts, shorter each time):
  L0 full sentences   "ALERTE: Marie a déclenché son bouton d'alerte. Position: <link> (précision 15 m,
                      il y a 40 s). Batterie 80%."
  L1 compact wording  "ALERTE: Marie <link> préc. 15 m, il y a 40 s. Bat 80%"
  L2 L1 without the battery
  L3 compact units    "ALERTE: Marie <link> ~15m 40s" (no battery)
The duress words ("sous contrainte" / "under duress"), the kind marker ("ALERTE", "Chute détectée",
"TEST -", "SUIVI"), when there is a fix, the maps link, the accuracy and the age, and in a follow-up the
evidence head reference ("Preuve audio 3:K7Q2M9ABCDEFG." / "Preuve 3:...") are in every level.

Shortening order, first that fits wins; the name is changed only when wording alone cannot make it fit:
  1. the name as given: L0, L1, L2, L3;
  2. except that a name which is not GSM-7 but whose every character has a GSM-7 base letter (François,
     Łukasz, N’Diaye) is folded (Francois, Lukasz, N'Diaye) right after L0 instead of going to L1..L3:
     that keeps it readable, back in the 160-septet budget, with the full wording;
  3. the name as given cut one character at a time (with a "." mark), each cut tried at L0..L3, down to
     two characters: the longest cut that fits wins, with the fullest wording it fits in;
  4. the name folded with unfoldable characters removed (mixed scripts: "Иван Smith" -> "Smith"), L0..L3;
  5. no name at all, L0..L3 (always fits: the fixed wording alone is far below 160 septets).
Control characters in the name become spaces, outer spaces are stripped.
A name longer than LIMIT_NAME characters is cut to LIMIT_NAME - 1 characters (then right-stripped) plus "."
before step 1.

Input handling (the composer must never refuse an alert because of odd sensor data):
  fix = (lat, lon, acc_m, age_s); a lat/lon that is not a finite number within -90..90 / -180..180 is
  treated as no fix. acc_m or age_s None, NaN or not a number -> said to be unknown; negative accuracy -> unknown,
  negative age -> 0 s.
  Coordinates are written with 5 decimals; accuracy in m below 10 km, else km, capped at ">999 km"; age in
  s / min / h / days rounded to the nearest unit, capped at ">999" days. Battery is clamped to 0..100.
  cell = (mcc, mnc, lac_or_tac, cell_id), used only without a fix: ints in decimal (mnc at least 2 digits),
  strings keep ASCII letters and digits; each field is cut to 11 characters.
ValueError only for programming errors: unknown kind or lang, fix/cell not a 4-tuple.
"""
from firmware.core.sms_pdu import fits_one_segment
from firmware.core import gsm7

LIMIT_NAME = 20
KINDS = ("alert", "fall", "checkin", "test", "update")

_LINK = "https://maps.google.com/?q=%s,%s"
_MIN_CUT = 2  # a cut name keeps at least this many characters: one letter is worth less than the wording
_FIELD_MAX = 11  # cell id fields: NR cell ids are 36 bits = 11 decimal digits

# Per language. head/short: kind -> (plain, duress) marker for L0 / L1-L3. body: kind -> (with name, without).
_FR = {
    "head": {
        "alert": ("ALERTE:", "ALERTE sous contrainte:"),
        "fall": ("ALERTE:", "ALERTE sous contrainte:"),
        "checkin": ("ALERTE:", "ALERTE sous contrainte:"),
        "test": ("TEST -", "TEST - sous contrainte -"),
        "update": ("SUIVI:", "SUIVI sous contrainte:"),
    },
    "short": {
        "alert": ("ALERTE:", "ALERTE sous contrainte:"),
        "fall": ("Chute détectée:", "Chute détectée, sous contrainte:"),
        "checkin": ("Check-in manqué:", "Check-in manqué, sous contrainte:"),
        "test": ("TEST -", "TEST - sous contrainte -"),
        "update": ("SUIVI:", "SUIVI sous contrainte:"),
    },
    "body": {
        "alert": ("%s a déclenché son bouton d'alerte.", "Bouton d'alerte déclenché."),
        "fall": ("Chute détectée pour %s.", "Chute détectée."),
        "checkin": ("Check-in manqué: %s n'a pas confirmé qu'elle va bien.",
                    "Check-in manqué: pas de confirmation qu'elle va bien."),
        "test": ("Essai par %s, aucune action requise.", "Essai, aucune action requise."),
        "update": ("Mise à jour pour %s.", "Mise à jour."),
    },
    # fix: L0, L1, L3 patterns (link, accuracy, age)
    "pos": ("Position: %s (précision %s, %s).", "%s préc. %s, %s.", "%s %s %s"),
    "acc_unknown": ("inconnue", "préc.?"),
    "age_unknown": ("heure inconnue", "heure?"),
    "ago": "il y a %s",
    "units": ("s", "min", "h", "j"),
    "cell": ("Pas de position GPS. Antenne relais MCC %s MNC %s LAC %s CID %s.",
             "Pas de GPS, antenne MCC %s MNC %s LAC %s CID %s", "Pas de GPS, antenne %s-%s-%s-%s"),
    "nopos": ("Pas de GPS, position inconnue.", "position inconnue"),
    "bat": ("Batterie %d%%.", "Bat %d%%"),
    "ref": ("Preuve audio %s.", "Preuve %s"),
}
_EN = {
    "head": {
        "alert": ("ALERT:", "ALERT under duress:"),
        "fall": ("ALERT:", "ALERT under duress:"),
        "checkin": ("ALERT:", "ALERT under duress:"),
        "test": ("TEST -", "TEST - under duress -"),
        "update": ("UPDATE:", "UPDATE under duress:"),
    },
    "short": {
        "alert": ("ALERT:", "ALERT under duress:"),
        "fall": ("Fall detected:", "Fall detected, under duress:"),
        "checkin": ("Missed check-in:", "Missed check-in, under duress:"),
        "test": ("TEST -", "TEST - under duress -"),
        "update": ("UPDATE:", "UPDATE under duress:"),
    },
    "body": {
        "alert": ("%s pressed the alert button.", "Alert button pressed."),
        "fall": ("Fall detected for %s.", "Fall detected."),
        "checkin": ("Missed check-in: %s did not confirm she is safe.",
                    "Missed check-in: no confirmation she is safe."),
        "test": ("Test by %s, no action needed.", "Test, no action needed."),
        "update": ("Follow-up for %s.", "Follow-up."),
    },
    "pos": ("Position: %s (accuracy %s, %s).", "%s acc. %s, %s.", "%s %s %s"),
    "acc_unknown": ("unknown", "acc.?"),
    "age_unknown": ("time unknown", "time?"),
    "ago": "%s ago",
    "units": ("s", "min", "h", "d"),
    "cell": ("No GPS position. Cell tower MCC %s MNC %s LAC %s CID %s.",
             "No GPS, cell MCC %s MNC %s LAC %s CID %s", "No GPS, cell %s-%s-%s-%s"),
    "nopos": ("No GPS, position unknown.", "position unknown"),
    "bat": ("Battery %d%%.", "Bat %d%%"),
    "ref": ("Audio proof %s.", "Proof %s"),
}
_LANG = {"fr": _FR, "en": _EN}

# Folding of Latin letters outside GSM-7 to a GSM-7 base letter (same index), plus a few two-letter ones
# and typographic punctuation phones put in names. Letters already in GSM-7 (é, è, à, ü, ø, Ç...) are kept.
_FOLD_SRC = (
    "ÀÁÂÃÈÊËÌÍÎÏÐÒÓÔÕÙÚÛÝáâãçêëíîïðóôõúûýÿĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİı"
    "ĴĵĶķĸĹĺĻļĽľĿŀŁłŃńŅņŇňŊŋŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſȘșȚț"
    "\u2018\u2019\u02bc\u2010\u2011\u2012\u2013\u2014\u00a0"
)
_FOLD_DST = (
    "AAAAEEEIIIIDOOOOUUUYaaaceeiiidooouuyyAaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi"
    "JjKkkLlLlLlLlLlNnNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzsSsTt"
    "'''----- "
)
_FOLD_TWO = {"Œ": "OE", "œ": "oe", "Ĳ": "IJ", "ĳ": "ij", "Þ": "TH", "þ": "th", "ŉ": "'n"}


def fold_name(name):
    """(folded, lossless): name with non-GSM-7 Latin letters folded to GSM-7; characters that cannot be
    folded are removed and make lossless False."""
    if gsm7.is_gsm7(name):
        return name, True
    out = []
    lossless = True
    for ch in name:
        if gsm7.is_gsm7(ch):
            out.append(ch)
            continue
        k = _FOLD_SRC.find(ch)
        if k >= 0:
            out.append(_FOLD_DST[k])
        elif ch in _FOLD_TWO:
            out.append(_FOLD_TWO[ch])
        else:
            lossless = False
    return "".join(out), lossless


def _finite(x):
    return isinstance(x, (int, float)) and x == x and x - x == 0  # x - x is NaN for +-inf


def _deg(x):
    """Degrees with exactly 5 decimals, via integers (float %f varies between ports)."""
    n = int(round(x * 100000))
    sign = "-" if n < 0 else ""
    n = abs(n)
    return "%s%d.%05d" % (sign, n // 100000, n % 100000)


def _num(x):
    return isinstance(x, (int, float)) and x == x


def _acc(acc, t, tiny):
    if not _num(acc) or acc < 0:
        return t["acc_unknown"][1 if tiny else 0]
    m = int(acc + 0.5) if acc < 999500 else 999500  # no int() of inf
    if m >= 999500:
        s = ">999 km"
    else:
        s = "%d m" % m if m < 10000 else "%d km" % ((m + 500) // 1000)
    return "~" + s.replace(" ", "") if tiny else s


def _age(age, t, tiny):
    if not _num(age):
        return t["age_unknown"][1 if tiny else 0]
    unit = t["units"]
    if age < 60:
        s = "%d %s" % (int(age + 0.5) if age > 0 else 0, unit[0])
    elif age < 3600:
        s = "%d %s" % (int(age + 30) // 60, unit[1])
    elif age < 86400:
        s = "%d %s" % (int(age + 1800) // 3600, unit[2])
    elif age < 999.5 * 86400:
        s = "%d %s" % (int(age + 43200) // 86400, unit[3])
    else:
        s = ">999 " + unit[3]
    if tiny:
        return s.replace(" ", "")
    return t["ago"] % s


def _field(v, width2=False):
    if isinstance(v, int) and v >= 0:
        s = ("%02d" if width2 else "%d") % v
    else:
        s = "".join([c for c in str(v) if ("0" <= c <= "9") or ("a" <= c <= "z") or ("A" <= c <= "Z")])
    return s[:_FIELD_MAX] or "?"


def _is_ref(ref):
    i = ref.find(":")
    if i < 1 or i > 10 or not ref[:i].isdigit() or len(ref) - i - 1 != 13:
        return False
    for c in ref[i + 1:]:
        if not ("A" <= c <= "Z" or "2" <= c <= "7"):
            return False
    return True


def _valid_fix(fix):
    if fix is None:
        return None
    if len(fix) != 4:
        raise ValueError("fix must be (lat, lon, acc_m, age_s)")
    lat, lon = fix[0], fix[1]
    if not (_finite(lat) and _finite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return fix


def _position(t, lvl, fix, cell):
    """Position part for wording level lvl (0..3)."""
    if fix is not None:
        link = _LINK % (_deg(fix[0]), _deg(fix[1]))
        tiny = lvl == 3
        pat = t["pos"][2 if tiny else (1 if lvl else 0)]
        return pat % (link, _acc(fix[2], t, tiny), _age(fix[3], t, tiny))
    if cell is not None:
        return t["cell"][2 if lvl == 3 else (1 if lvl else 0)] % cell
    return t["nopos"][1 if lvl else 0]


def _render(t, kind, duress, name, lvl, pos, bat, ref=None):
    d = 1 if duress else 0
    if lvl == 0:
        body = t["body"][kind]
        sentence = body[1]
        if name:
            sentence = body[0] % name
            if name[-1] == ".":  # a cut name's mark doubles as the sentence's full stop
                sentence = sentence.replace(name + ".", name)
        parts = [t["head"][kind][d], sentence, pos]
        if ref:
            parts.append(t["ref"][0] % ref)
        if bat is not None:
            parts.append(t["bat"][0] % bat)
    else:
        parts = [t["short"][kind][d]]
        if name:
            parts.append(name)
        parts.append(pos)
        if ref:
            parts.append(t["ref"][1] % ref)
        if lvl == 1 and bat is not None:
            parts.append(t["bat"][1] % bat)
    return " ".join(parts)


def compose(kind, wearer, fix=None, battery=None, lang="fr", cell=None, duress=False, ref=None):
    """The alert text, guaranteed to fit one SMS segment (see module docstring for the rules). ref: the
    evidence head reference `<index>:<13 base32>` (issue 21) a follow-up carries at every level, like
    the position; only for kind "update" (the alert SMS itself never carries one)."""
    t = _LANG.get(lang)
    if t is None:
        raise ValueError("lang must be 'fr' or 'en'")
    if kind not in KINDS:
        raise ValueError("unknown kind %r" % (kind,))
    if ref is not None and (kind != "update" or not _is_ref(ref)):
        raise ValueError("a head reference only in a follow-up, as <index>:<13 base32>")
    fix = _valid_fix(fix)
    if cell is not None:
        if len(cell) != 4:
            raise ValueError("cell must be (mcc, mnc, lac_or_tac, cell_id)")
        cell = (_field(cell[0]), _field(cell[1], True), _field(cell[2]), _field(cell[3]))
    bat = None
    if _finite(battery):
        bat = min(100, max(0, int(battery)))
    # position wording per level, computed once
    pos = [_position(t, lvl, fix, cell) for lvl in range(4)]

    def ladder(name, levels):
        for lvl in levels:
            text = _render(t, kind, duress, name, lvl, pos[lvl], bat, ref)
            if fits_one_segment(text):
                return text
        return None

    name = "".join([c if c >= " " and c != "\x7f" else " " for c in (wearer or "")]).strip()
    if len(name) > LIMIT_NAME:
        name = name[:LIMIT_NAME - 1].rstrip() + "."
    all_levels = (0, 1, 2, 3)
    folded, lossless = fold_name(name)
    if lossless and folded != name:  # 2 comes right after L0: full wording beats an unfolded letter
        text = ladder(name, (0,)) or ladder(folded, all_levels)
    else:
        text = ladder(name, all_levels)  # 1
    n = len(name) - 1
    while text is None and n >= _MIN_CUT:  # 3
        cut = name[:n].rstrip()
        if cut:
            text = ladder(cut + ".", all_levels)
        n -= 1
    if text is None and not lossless and folded.strip():
        text = ladder(folded.strip(), all_levels)  # 4
    if text is None:
        text = ladder("", all_levels)  # 5
    if text is None:  # unreachable with the tables above; tests prove it over generated inputs
        raise ValueError("alert text does not fit one segment")
    return text
