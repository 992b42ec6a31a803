# Device settings: defaults overridden by the configuration file written by the technician's tools.
from firmware import storage
from firmware.gestures import DEFAULT_GESTURES, validate

PATH = "config.json"

DEFAULTS = {
    "wearer": "",
    "lang": "fr",  # SMS language: fr (default) or en
    "contacts": [],  # up to 5 of {"name": str, "number": "+33..."}
    "gestures": [dict(g) for g in DEFAULT_GESTURES],
    "alert_active_s": 3600,  # an alert stays active (no second alert) this long unless stopped
    "sms_validity_min": 4320,  # SMS validity period at the SMSC: 3 days
    "sms_rounds": 6,  # delivery attempts per contact within one alert (backoff between rounds)
    "modem_ready_wait_s": 60,  # how long an alert waits for a booting modem before trying anyway
}

MAX_CONTACTS = 5


def load(path=PATH):
    cfg = dict(DEFAULTS)
    d = storage.read_json(path)
    if isinstance(d, dict):
        for k in d:
            cfg[k] = d[k]
    try:
        validate(cfg["gestures"])
    except (ValueError, TypeError, KeyError, AttributeError):
        cfg["gestures"] = DEFAULTS["gestures"]  # a broken gesture map must not disable the button
    cfg["contacts"] = [c for c in cfg["contacts"][:MAX_CONTACTS]
                       if isinstance(c, dict) and isinstance(c.get("number"), str)]
    return cfg
