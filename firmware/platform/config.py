# The platform link's settings (issue 9), kept apart from the alert configuration: platform.json on
# flash, written atomically, plus the platform's CA certificate (DER) in its own file. A device
# without platform.json has no platform link at all: SMS alone, as before.
# The device console (firmware/console/platform_cmds.py) and `alertbutton provision` on the host run the
# same check(), so a template the tool accepts is one the device accepts.
from firmware.core.apn import apn_ok
from firmware.system import storage

PATH = "platform.json"
CA_PATH = "platform_ca.der"
TRANSPORTS = ("mqtt", "http")
LINKS = ("host", "wlan", "ppp")

# integer settings: (default, min, max)
INTS = {
    "heartbeat_s": (3600, 60, 86400),  # one heartbeat an hour: cellular data and battery
    "timeout_s": (5, 1, 30),  # bound of every blocking socket step (connect, TLS, ack)
    "backoff_max_s": (300, 1, 3600),  # reconnect backoff ceiling (doubling from 2 s)
    "linger_s": (30, 0, 600),  # keep an MQTT session open this long after the last event
    "queue_items": (48, 4, 256),
    "queue_bytes": (32768, 2048, 262144),
}


def _text(v, what, lo=1, hi=128):
    if not isinstance(v, str) or not lo <= len(v) <= hi:
        raise ValueError("%s: a text of %d..%d characters" % (what, lo, hi))
    for ch in v:
        if ord(ch) < 32:
            raise ValueError("%s: control characters are not allowed" % what)
    return v


def _topic_safe(v, what):
    _text(v, what, 1, 64)
    for ch in "+#/ ":
        if ch in v:
            raise ValueError("%s: %r is not allowed (MQTT topic level)" % (what, ch))
    return v


def check(d):
    """A complete, checked platform config (defaults filled in); ValueError says what is wrong."""
    if not isinstance(d, dict):
        raise ValueError("platform config must be a JSON object")
    out = {"transport": d.get("transport", "mqtt"), "link": d.get("link", "host")}
    if out["transport"] not in TRANSPORTS:
        raise ValueError("transport: one of %s" % ", ".join(TRANSPORTS))
    if out["link"] not in LINKS:
        raise ValueError("link: one of %s" % ", ".join(LINKS))
    out["device"] = _topic_safe(d.get("device"), "device")
    for k in INTS:
        dflt, lo, hi = INTS[k]
        v = d.get(k, dflt)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError("%s: an integer %d..%d" % (k, lo, hi))
        out[k] = v
    if out["transport"] == "mqtt":
        m = d.get("mqtt")
        if not isinstance(m, dict):
            raise ValueError("mqtt: an object {host, port, user, password, tls}")
        mq = {"host": _text(m.get("host"), "mqtt.host", 1, 253), "tls": m.get("tls", True) is not False,
              "user": _text(m.get("user"), "mqtt.user", 1, 64),
              "password": _text(m.get("password"), "mqtt.password", 8, 128),
              "client_id": _topic_safe(m.get("client_id", out["device"]), "mqtt.client_id"),
              "keepalive": m.get("keepalive", 60)}
        port = m.get("port", 8883 if mq["tls"] else 1883)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ValueError("mqtt.port: 1..65535")
        mq["port"] = port
        if not isinstance(mq["keepalive"], int) or not 10 <= mq["keepalive"] <= 3600:
            raise ValueError("mqtt.keepalive: 10..3600 s")
        if not mq["tls"] and not m.get("insecure_plaintext"):
            raise ValueError("mqtt.tls: false sends alerts and positions in clear; "
                             "set insecure_plaintext: true only for a lab broker")
        mq["insecure_plaintext"] = bool(m.get("insecure_plaintext", False))
        out["mqtt"] = mq
    else:
        h = d.get("http")
        if not isinstance(h, dict):
            raise ValueError("http: an object {url, secret}")
        url = _text(h.get("url"), "http.url", 8, 256)
        if not (url.startswith("http://") or url.startswith("https://")):
            raise ValueError("http.url: http:// or https://")
        # https:// is always verified against the platform's CA (firmware/platform/link.py)
        out["http"] = {"url": url, "secret": _text(h.get("secret"), "http.secret", 16, 128)}
    if out["link"] == "wlan":
        w = d.get("wlan")
        if not isinstance(w, dict):
            raise ValueError("wlan: an object {ssid, key}")
        out["wlan"] = {"ssid": _text(w.get("ssid"), "wlan.ssid", 1, 32),
                       "key": _text(w.get("key"), "wlan.key", 8, 63) if w.get("key") is not None else None}
    if out["link"] == "ppp" and isinstance(d.get("ppp"), dict):
        p = d["ppp"]
        apn = p.get("apn")
        if apn is not None and not apn_ok(apn):
            raise ValueError("ppp.apn: 1..62 printable ASCII characters, no quote or space")
        out["ppp"] = {"apn": apn, "user": p.get("user"), "key": p.get("key")}
    return out


def needs_ca(cfg):
    """True when the transport verifies a server certificate: MQTT over TLS, https:// webhooks."""
    if cfg["transport"] == "mqtt":
        return cfg["mqtt"]["tls"]
    return cfg["http"]["url"].startswith("https://")


def load(path=PATH):
    """The checked config, None if there is none; (None, reason) style errors are raised as
    ValueError so the caller logs them and runs without the platform link."""
    d = storage.read_json(path)
    if d is None:
        return None
    return check(d)


def save(d, path=PATH):
    checked = check(d)
    storage.write_json(path, checked)
    return checked


def public(cfg):
    """The config with its secrets masked, for status displays and logs."""
    out = {}
    for k in cfg:
        v = cfg[k]
        if isinstance(v, dict):
            v = dict(v)
            for s in ("password", "secret", "key"):
                if v.get(s):
                    v[s] = "***"
        out[k] = v
    return out
