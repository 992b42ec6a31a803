# Device settings: defaults, the persisted configuration (a versioned record, see config_store) and
# the checks every change goes through. The device console and the host CLI call the same functions,
# so a value the CLI accepts is exactly a value the device accepts.
#
# Schema history (the record header carries the schema; MIGRATIONS upgrades step by step):
#   1  firmware 0.1.0: plain config.json {"wearer", "lang", "contacts": [{"name", "number"}], gestures,
#      timings}; the simulator still provisions devices this way, so every simulated boot migrates.
#   2  record config.rec: contacts are 5 numbered slots (a cleared slot keeps the others' numbers),
#      numbers in E.164, the technician PIN hash ("pin").
import os

from firmware.core import phone
from firmware.system import storage
from firmware.settings.config_store import RecordFile
from firmware.wearer.gestures import ARM, ARM_GESTURE, DEFAULT_GESTURES, validate
from firmware.sms.text import LIMIT_NAME

PATH = "config.rec"
LEGACY_PATH = "config.json"  # schema 1, renamed to config.json.v1 once migrated
MAGIC = b"ABcf"
SCHEMA = 2
MAX_CONTACTS = 5
CONTACT_NAME_MAX = 24  # a label for the technician: contact names are not in the SMS
WEARER_MAX = LIMIT_NAME  # longer names would always be cut in the SMS

DEFAULTS = {
    "wearer": "",
    "lang": "fr",  # SMS language: fr (default) or en
    "contacts": [],  # derived from "slots": the configured ones, in slot order
    "slots": [None] * MAX_CONTACTS,  # slot k-1 -> None or {"name": str, "number": "+33..."}
    "gestures": [dict(g) for g in DEFAULT_GESTURES] + [dict(ARM_GESTURE)],
    "alert_active_s": 3600,  # an alert stays active (no second alert) this long unless stopped
    "sms_validity_min": 4320,  # SMS validity period at the SMSC: 3 days
    "sms_rounds": 6,  # delivery attempts per contact within one alert (backoff between rounds)
    "modem_ready_wait_s": 60,  # how long an alert waits for a booting modem before trying anyway
    "pin": None,  # technician PIN: {"salt": hex, "hash": hex} (firmware.settings.pin_lock)
    # the association's X25519 public key (64 hex), to which recordings are sealed (issue 21,
    # docs/evidence-sealing.md); None: nothing is recorded (the self-test fails until it is set)
    "association_pub": None,
    # the arming gesture keeps the pre-alert ring on this long (issue 21 item 5, firmware/evidence/arming.py)
    "evidence_arm_min": 30,
}

# Integer settings: (min, max). Out-of-range stored values fall back to the default.
LIMITS = {
    "alert_active_s": (60, 86400),
    "sms_validity_min": (5, 635040),
    "sms_rounds": (1, 20),
    "modem_ready_wait_s": (5, 600),
    "evidence_arm_min": (5, 240),  # each minute armed costs ~0.4 mAh (docs/evidence.md)
}
# Optional integer settings read on the alert path with a default in the code (not exported, not in
# DEFAULTS): a stored value of the wrong type or out of range is dropped so that default applies, or
# arithmetic on it (a string, a 0 divisor) would end every alert before its first SMS.
OPTIONAL_LIMITS = {
    "cmgs_timeout_s": (5, 600),
    "modem_failures_before_cycle": (1, 100),
    "delivery_resends": (0, 10),
    "status_poll_s": (1, 3600),
    "evidence_headroom_s": (1, 60),  # firmware/evidence/audio_ring.py (a smaller default without PSRAM: ram_profile)
    "log_keep": (1, 256),  # event-log lines kept in RAM (firmware/system/eventlog.py)
}
LANGS = ("fr", "en")
# Keys computed at load time, never stored.
DERIVED = ("contacts", "configured", "config_source", "config_problems")
# Keys a configuration file (config export/import) may carry.
EXPORTED = ("wearer", "lang", "contacts", "gestures") + tuple(LIMITS)
EXPORT_FORMAT = "alertbutton-config"

_store = None


def store():
    """The device's configuration record (one instance, so sequence numbers follow each other)."""
    global _store
    if _store is None:
        _store = RecordFile(PATH, MAGIC)
    return _store


# --- migrations -------------------------------------------------------------------------------------

def _v1_to_v2(d):
    out = {}
    for k in d:
        if k != "contacts":
            out[k] = d[k]
    slots = [None] * MAX_CONTACTS
    i = 0
    contacts = d.get("contacts")
    for c in contacts if isinstance(contacts, list) else []:  # a damaged record: no contact, no crash
        if i >= MAX_CONTACTS:
            break
        if not isinstance(c, dict) or not isinstance(c.get("number"), str):
            continue  # 0.1.0 ignored these too
        try:
            number = phone.normalize(c["number"])
        except ValueError:
            number = c["number"]  # kept as it was: listed as invalid, not silently dropped
        name = c.get("name")
        slots[i] = {"name": name if isinstance(name, str) else "", "number": number}
        i += 1
    out["slots"] = slots
    out["pin"] = None
    return out


MIGRATIONS = {1: _v1_to_v2}


def migrate(schema, payload):
    """payload (stored with `schema`) upgraded to SCHEMA. A newer schema is read as is: changes
    between schema versions only add keys, and unknown keys are kept."""
    if not isinstance(payload, dict):
        raise ValueError("configuration is not an object")
    while schema < SCHEMA:
        step = MIGRATIONS.get(schema)
        if step is None:
            raise ValueError("no migration from schema %d" % schema)
        payload = step(payload)
        schema += 1
    return payload


# --- load / save ------------------------------------------------------------------------------------

def _copy(v):
    if isinstance(v, list):
        return [_copy(x) for x in v]
    if isinstance(v, dict):
        return dict(v)
    return v


def _clean_slots(slots, problems):
    out = [None] * MAX_CONTACTS
    if not isinstance(slots, list):
        if slots is not None:
            problems.append("slots: not a list")
        return out
    for i in range(min(len(slots), MAX_CONTACTS)):
        c = slots[i]
        if c is None:
            continue
        if isinstance(c, dict) and isinstance(c.get("number"), str):
            name = c.get("name")
            out[i] = {"name": name if isinstance(name, str) else "", "number": c["number"]}
        else:
            problems.append("slot %d: unreadable, ignored" % (i + 1))
    return out


def _is_hex64(v):
    if not isinstance(v, str) or len(v) != 64:
        return False
    for ch in v:
        if ch not in "0123456789abcdef":
            return False
    return True


def refresh(cfg):
    """Recompute the derived keys after the slots changed."""
    cfg["contacts"] = [c for c in cfg["slots"] if c is not None]
    cfg["configured"] = bool(cfg["contacts"])


def from_payload(payload, problems=None):
    """A complete settings dict from a stored payload (schema SCHEMA), defaults where missing/bad."""
    if problems is None:
        problems = []
    cfg = {}
    for k in DEFAULTS:
        cfg[k] = _copy(DEFAULTS[k])
    for k in payload:
        if k not in DERIVED:
            cfg[k] = payload[k]
    if cfg["lang"] not in LANGS:
        problems.append("lang: %r replaced by fr" % (cfg["lang"],))
        cfg["lang"] = "fr"
    if not isinstance(cfg["wearer"], str):
        problems.append("wearer: not text")
        cfg["wearer"] = ""
    try:
        check_gestures(cfg["gestures"])
    except ValueError:
        problems.append("gestures: invalid, defaults used")
        cfg["gestures"] = _copy(DEFAULTS["gestures"])  # a broken gesture map must not disable the button
    for k in LIMITS:
        lo, hi = LIMITS[k]
        v = cfg[k]
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
            problems.append("%s: %r replaced by %d" % (k, v, DEFAULTS[k]))
            cfg[k] = DEFAULTS[k]
    for k in OPTIONAL_LIMITS:
        lo, hi = OPTIONAL_LIMITS[k]
        v = cfg.get(k, lo)  # a stored null counts as wrong: cfg.get(k, default) would return it
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
            problems.append("%s: %r ignored" % (k, v))
            del cfg[k]
    if cfg["association_pub"] is not None and not _is_hex64(cfg["association_pub"]):
        problems.append("association_pub: not 64 hex characters, ignored (nothing is recorded until it is set)")
        cfg["association_pub"] = None
    if cfg["pin"] is not None and not (isinstance(cfg["pin"], dict) and "hash" in cfg["pin"]):
        problems.append("pin: unreadable")  # kept: a damaged PIN must not open the console
    cfg["slots"] = _clean_slots(cfg.get("slots"), problems)
    refresh(cfg)
    return cfg


def load(rec=None, legacy=LEGACY_PATH):
    """The settings: the record (or its last good copy), else a schema-1 config.json migrated and
    saved, else defaults. cfg["config_source"] says which ("main", "backup", "legacy", "none") and
    cfg["config_problems"] lists what was damaged or replaced."""
    rec = rec or store()
    schema, payload, source, problems = rec.read()
    if payload is not None:
        try:
            payload = migrate(schema, payload)
            if schema < SCHEMA:
                _save_payload(rec, payload, problems)
        except ValueError as e:
            problems.append("record: %s" % e)
            payload, source = None, None
    if payload is None and legacy:
        old = storage.read_json(legacy)
        if isinstance(old, dict):
            payload, source = migrate(1, old), "legacy"
            if _save_payload(rec, payload, problems):
                try:
                    os.rename(legacy, legacy + ".v1")  # migrated once, kept for the record
                except OSError:
                    pass
    cfg = from_payload(payload or {}, problems)
    cfg["config_source"] = source or "none"
    cfg["config_problems"] = problems
    return cfg


def _save_payload(rec, payload, problems):
    try:
        rec.write(SCHEMA, payload)
        return True
    except (OSError, ValueError) as e:
        problems.append("migrated configuration not saved: %r" % (e,))
        return False


def to_payload(cfg):
    out = {}
    for k in cfg:
        if k not in DERIVED:
            out[k] = cfg[k]
    return out


def save(cfg, rec=None, keep_backup=True):
    """Persist cfg atomically. OSError if the flash refused (the previous record is still valid)."""
    (rec or store()).write(SCHEMA, to_payload(cfg), keep_backup)


def replace(cfg, payload):
    """Make cfg (the dict every module holds) equal to the settings of payload, in place."""
    meta = (cfg.get("config_source"), cfg.get("config_problems"))
    new = from_payload(payload)
    cfg.clear()
    cfg.update(new)
    cfg["config_source"], cfg["config_problems"] = meta


def factory_defaults():
    return from_payload({})


# --- checked changes (console and host CLI) ---------------------------------------------------------

def check_slot(slot):
    try:
        n = int(slot)
    except (ValueError, TypeError):
        raise ValueError("slot must be 1..%d" % MAX_CONTACTS)
    if n < 1 or n > MAX_CONTACTS:
        raise ValueError("slot must be 1..%d" % MAX_CONTACTS)
    return n


def _check_text(s, what, lo, hi):
    if not isinstance(s, str):
        raise ValueError("%s must be text" % what)
    s = s.strip()
    for ch in s:
        if ch < " " or ch == "\x7f":
            raise ValueError("%s has a control character" % what)
    if len(s) < lo:
        raise ValueError("%s is empty" % what)
    if len(s) > hi:
        raise ValueError("%s is %d characters, at most %d" % (what, len(s), hi))
    return s


def check_contact_name(name):
    return _check_text(name, "contact name", 1, CONTACT_NAME_MAX)


def check_wearer(name):
    return _check_text(name, "wearer name", 0, WEARER_MAX)


def check_lang(lang):
    if lang not in LANGS:
        raise ValueError("language must be fr or en")
    return lang


def set_contact(cfg, slot, number, name):
    """Set a slot; returns the stored contact. ValueError (with the reason) on bad input."""
    slot = check_slot(slot)
    c = {"name": check_contact_name(name), "number": phone.normalize(number)}
    cfg["slots"][slot - 1] = c
    refresh(cfg)
    return c


def clear_contact(cfg, slot):
    slot = check_slot(slot)
    cfg["slots"][slot - 1] = None
    refresh(cfg)


def set_wearer(cfg, name):
    cfg["wearer"] = check_wearer(name)
    return cfg["wearer"]


def set_lang(cfg, lang):
    cfg["lang"] = check_lang(lang)


def check_gestures(gestures):
    """The gesture map if well formed, with at least one alert gesture and none that could fire on a
    single press (firmware.wearer.gestures.validate), else ValueError."""
    try:
        validate(gestures)
        ok = [g for g in gestures if g["action"] == "alert"]
    except (TypeError, KeyError, AttributeError):
        raise ValueError("gestures: malformed")
    if not ok:
        raise ValueError("gestures: at least one alert gesture is needed")
    return gestures


def gesture_actions(cfg):
    acts = ["alert", ARM]
    for g in cfg.get("gestures") or []:
        a = g.get("action") if isinstance(g, dict) else None
        if isinstance(a, str) and a not in acts:
            acts.append(a)
    return acts


_GESTURE_USAGE = ("usage: gesture set <action> [presses N within MS | presses N gap MS [min MS] [max MS]] "
                  "[hold MS [taps N gap MS]] | gesture set <action other than alert> off")


def parse_gesture(words):
    """["alert", "presses", "3", "within", "2500", "hold", "2000"] -> ("alert", [gesture dicts]).
    A press count takes "within MS", "gap MS", "min MS" and "max MS" after it (gap or within needed)."""
    if not words:
        raise ValueError(_GESTURE_USAGE)
    action = words[0]
    if words[1:] == ["off"] and action != "alert":
        return action, []  # no gesture for this action (the alert always has one)
    specs = []
    i = 1
    keys = {"within": "within_ms", "gap": "gap_ms", "min": "min_press_ms", "max": "max_press_ms"}
    while i < len(words):
        w = words[i]
        try:
            if w == "presses" and i + 1 < len(words):
                g = {"action": action, "presses": int(words[i + 1])}
                i += 2
                while i + 1 < len(words) and words[i] in keys and keys[words[i]] not in g:
                    g[keys[words[i]]] = int(words[i + 1])
                    i += 2
                if "within_ms" not in g and "gap_ms" not in g:
                    raise ValueError()
                specs.append(g)
            elif w == "hold" and i + 1 < len(words):
                g = {"action": action, "hold_ms": int(words[i + 1])}
                i += 2
                if i + 3 < len(words) and words[i] == "taps" and words[i + 2] == "gap":  # a hold, then taps
                    g["taps"], g["gap_ms"] = int(words[i + 1]), int(words[i + 3])
                    i += 4
                specs.append(g)
            else:
                raise ValueError()
        except ValueError:
            raise ValueError(_GESTURE_USAGE)
    if not specs:
        raise ValueError("give at least one gesture: presses N within MS, or hold MS")
    return action, specs


def set_gestures(cfg, action, specs):
    """Replace the gestures of one action; the whole map is validated (no single-press alert)."""
    if action not in gesture_actions(cfg):
        raise ValueError("unknown action %r (known: %s)" % (action, ", ".join(gesture_actions(cfg))))
    cfg["gestures"] = check_gestures([g for g in cfg["gestures"] if g.get("action") != action] + specs)
    return cfg["gestures"]


def reset(cfg):
    """Factory defaults in place: no contact, no wearer, no PIN."""
    replace(cfg, {})


# --- configuration files (host: config export / import) ---------------------------------------------

def export(cfg):
    """The shareable configuration: everything but the PIN."""
    out = {"format": EXPORT_FORMAT, "schema": SCHEMA}
    for k in EXPORTED:
        if k == "contacts":
            out[k] = [{"slot": i + 1, "name": c["name"], "number": c["number"]}
                      for i, c in enumerate(cfg["slots"]) if c is not None]
        else:
            out[k] = _copy(cfg[k])
    return out


def check_import(d):
    """A configuration file's content checked entirely (nothing applied on any error): a dict of
    the keys it sets, "slots" replacing "contacts". ValueError says which entry is wrong."""
    if not isinstance(d, dict):
        raise ValueError("configuration must be a JSON object")
    if d.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        raise ValueError("not an alertbutton configuration (format %r)" % (d.get("format"),))
    out = {}
    for k in d:
        if k in ("format", "schema"):
            continue
        if k not in EXPORTED:
            raise ValueError("unknown key %r" % (k,))
        v = d[k]
        if k == "wearer":
            out[k] = check_wearer(v)
        elif k == "lang":
            out[k] = check_lang(v)
        elif k == "gestures":
            out[k] = check_gestures(v)
        elif k == "contacts":
            out["slots"] = _import_slots(v)
        else:
            lo, hi = LIMITS[k]
            if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
                raise ValueError("%s must be an integer %d..%d" % (k, lo, hi))
            out[k] = v
    return out


def _import_slots(v):
    if not isinstance(v, list) or len(v) > MAX_CONTACTS:
        raise ValueError("contacts: a list of at most %d" % MAX_CONTACTS)
    slots = [None] * MAX_CONTACTS
    for i, c in enumerate(v):
        if not isinstance(c, dict):
            raise ValueError("contact %d: not an object" % (i + 1))
    # contacts with a "slot" go there; the others fill the free slots in order
    order = [c for c in v if "slot" in c] + [c for c in v if "slot" not in c]
    for c in order:
        if "slot" in c:
            if isinstance(c["slot"], bool) or not isinstance(c["slot"], (int, str)):  # true, 2.7: not a slot
                raise ValueError("slot must be 1..%d, a whole number (not %r)" % (MAX_CONTACTS, c["slot"]))
            slot = check_slot(c["slot"])
            if slots[slot - 1] is not None:
                raise ValueError("slot %d given twice" % slot)
        else:
            slot = slots.index(None) + 1
        try:
            slots[slot - 1] = {"name": check_contact_name(c.get("name")), "number": phone.normalize(c.get("number"))}
        except ValueError as e:
            raise ValueError("contact in slot %d: %s" % (slot, e))
    return slots


def apply_import(cfg, checked):
    """Apply what check_import returned (the file's contacts replace all five slots)."""
    for k in checked:
        cfg[k] = checked[k]
    refresh(cfg)
