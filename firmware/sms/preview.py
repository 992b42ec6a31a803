# What the contacts will receive: the exact SMS per contact (same composer and encoder as the alert)
# and how the wearer's name survives the one-segment rule. Used by the console; the host CLI shows it.
from firmware.core.sms_pdu import encode_submit, segment_info
from firmware.sms.text import compose, fold_name, LIMIT_NAME

# The longest position wordings: extreme coordinates with an accuracy and age at their widest, a
# fix of unknown age, and no fix at all. A name that fits with these fits with any position.
_WORST = (
    (-89.99999, -179.99999, 9999, 3599),
    (-89.99999, -179.99999, 9999, 86400 * 999),
    (-89.99999, -179.99999, 9999, None),
    None,
)
_KINDS = ("alert", "fall")


def segments(text):
    """SMS segments text would need (the composer guarantees 1; counted, not assumed)."""
    enc, units, limit = segment_info(text)
    if units <= limit:
        return 1
    per = 153 if enc == "gsm7" else 67  # concatenated segments lose room to the UDH
    return (units + per - 1) // per


def _shown(name, text):
    """How name appears in text: (form, status), status "full", "folded", "cut" or "dropped"."""
    if not name or name in text:
        return name, "full"
    folded, _lossless = fold_name(name)
    if folded and folded in text:
        return folded, "folded"
    for base in (name, folded):
        for n in range(len(base) - 1, 1, -1):
            cut = base[:n].rstrip() + "."
            if cut in text:
                return cut, "cut"
    return "", "dropped"


def name_report(wearer, lang):
    """(shown, warnings): the wearer's name as it appears in the longest alert SMS."""
    name = "".join([c if c >= " " and c != "\x7f" else " " for c in (wearer or "")]).strip()
    if len(name) > LIMIT_NAME:
        return name[:LIMIT_NAME - 1].rstrip() + ".", ["names longer than %d characters are cut" % LIMIT_NAME]
    rank = {"full": 0, "folded": 1, "cut": 2, "dropped": 3}
    worst, status = name, "full"
    for kind in _KINDS:
        for fix in _WORST:
            form, st = _shown(name, compose(kind, name, fix, 100, lang))
            if rank[st] > rank[status]:
                worst, status = form, st
    w = []
    if status == "folded":
        w.append("accents outside the SMS alphabet are replaced: the SMS says %r" % worst)
    elif status == "cut":
        w.append("too long for one SMS with a full position: shortened to %r" % worst)
    elif status == "dropped":
        w.append("this name cannot fit one SMS with a position: it is left out")
    if status in ("full", "folded") and segment_info(compose("alert", name, None, 100, lang))[0] == "ucs2":
        w.append("characters outside the SMS alphabet: the SMS uses UCS2 (70 characters) and "
                 "the position wording is shortened")
    return worst, w


def messages(cfg, fix, battery, kind="alert", cell=None):
    """One entry per configured slot: the text, its encoding and segment count, and the PDU size,
    exactly as the alert would compose and encode it now (fix = (lat, lon, acc_m, age_s) or None;
    cell = the serving cell the alert names when there is no fix)."""
    text = compose(kind, cfg.get("wearer", ""), fix, battery, cfg.get("lang", "fr"), cell=cell)
    enc, units, limit = segment_info(text)
    out = []
    for i, c in enumerate(cfg["slots"]):
        if c is None:
            continue
        m = {"slot": i + 1, "name": c["name"], "to": c["number"], "text": text, "encoding": enc,
             "units": units, "limit": limit, "segments": segments(text)}
        try:
            m["pdu_octets"] = encode_submit(c["number"], text, cfg.get("sms_validity_min", 4320))[1]
        except ValueError as e:
            m["error"] = str(e)
        out.append(m)
    return out
