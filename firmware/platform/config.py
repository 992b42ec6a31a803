# The platform link's settings (issues 9, 25), kept apart from the alert configuration: platform.json
# on flash, written atomically, plus the platform's CA certificate (DER) in its own file. A device
# without platform.json has no platform link at all: SMS alone, as before.
# The device console (firmware/console/platform_cmds.py) and `alertbutton provision` on the host run the
# same check(), so a template the tool accepts is one the device accepts. check() reads the whole
# object and refuses, with what to write instead: unknown keys (with the nearest known one), values
# of the wrong type (a quoted "false" or "8883"), a URL or a port where a host name goes, a host name
# that is not one, and plaintext without its explicit opt-in.
from firmware.core.apn import apn_ok
from firmware.core.dns import is_ipv4
from firmware.system import storage

PATH = "platform.json"
CA_PATH = "platform_ca.der"
TRANSPORTS = ("mqtt", "http")
LINKS = ("host", "wlan", "ppp")

# integer settings: (default, min, max)
INTS = {
    "heartbeat_s": (3600, 60, 86400),  # one heartbeat an hour on average (jittered): data and battery
    "timeout_s": (10, 2, 20),  # TOTAL deadline of a connection (lookup, TCP, TLS, CONNACK) and of each exchange
    "backoff_max_s": (300, 1, 3600),  # reconnect backoff ceiling (doubling from 2 s); 20 s while alerts wait
    "linger_s": (30, 0, 600),  # keep an MQTT session open this long after the last event
    "queue_items": (48, 4, 256),
    "queue_bytes": (32768, 2048, 262144),
}
KEYS = {
    "": ("device", "transport", "link", "mqtt", "http", "wlan", "ppp", "heartbeat_fix") + tuple(INTS),
    "mqtt": ("host", "port", "tls", "user", "password", "client_id", "keepalive", "insecure_plaintext"),
    "http": ("url", "secret", "insecure_plaintext"),
    "wlan": ("ssid", "key"),
    "ppp": ("apn", "user", "key"),
}


_ARTICLE = {"mqtt": "an mqtt", "http": "an http", "wlan": "a wlan", "ppp": "a ppp"}


def _distance(a, b):
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
        prev = cur
    return prev[len(b)]


def _nearest(key, known):
    best, score = None, 99
    for k in known:
        if (k.startswith(key) or key.startswith(k)) and min(len(k), len(key)) >= 3:
            d = 1 + abs(len(k) - len(key)) / 16  # "heartbeat" for "heartbeat_s", "hostname" for "host"
        else:
            d = _distance(key, k)
        if d < score:
            best, score = k, d
    return best if score <= max(2, len(key) // 3) else None


def _known(d, where):
    prefix = where + "." if where else ""
    known = KEYS[where]
    for k in d:
        if k not in known:
            near = _nearest(str(k), known)
            raise ValueError("%s%s: not %s setting; %s" % (
                prefix, k, _ARTICLE.get(where, "a platform"),
                ('did you mean "%s"?' % near) if near else "the settings are: " + ", ".join(known)))


def _text(v, what, lo=1, hi=128):
    if not isinstance(v, str):
        raise ValueError("%s: write a text between quotes (%d to %d characters)%s" % (
            what, lo, hi, "" if v is not None else ", it is missing"))
    if not lo <= len(v) <= hi:
        raise ValueError("%s: %d characters; it needs %d to %d" % (what, len(v), lo, hi))
    for ch in v:
        if ord(ch) < 32:
            raise ValueError("%s: control characters are not allowed" % what)
    return v


def _bool(v, what, default):
    if v is None:
        return default
    if v is True or v is False:
        return v
    if isinstance(v, str):
        raise ValueError('%s: write true or false without quotes (the text "%s" is not a yes/no value)' % (what, v))
    raise ValueError("%s: write true or false, not %r" % (what, v))


def _int(v, what, lo, hi):
    if isinstance(v, str) and v.strip().isdigit():
        raise ValueError('%s: write the number without quotes: %s, not "%s"' % (what, v.strip(), v))
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError("%s: write a whole number from %d to %d, not %r" % (what, lo, hi, v))
    if not lo <= v <= hi:
        raise ValueError("%s: %d is out of range; write a number from %d to %d" % (what, v, lo, hi))
    return v


def _topic_safe(v, what):
    _text(v, what, 1, 64)
    for ch in "+#/ ":
        if ch in v:
            raise ValueError("%s: %r is not allowed (MQTT topic level)" % (what, ch))
    return v


def host_name(v, what):
    """A host name (letters, digits, hyphens in dot-separated labels) or an IPv4 address; a URL, a
    port or a path is refused with what to write instead."""
    _text(v, what, 1, 253)
    if "://" in v:
        scheme, rest = v.split("://", 1)
        host = rest.split("/")[0]
        port = None
        if ":" in host:
            host, port = host.rsplit(":", 1)
        raise ValueError('%s: "%s" is a URL; write the host name alone: "%s"%s%s' % (
            what, v, host, (", and the port in the port setting (%s)" % port) if port else "",
            ", and TLS in tls (true)" if scheme in ("mqtts", "ssl", "tls", "https") else ""))
    if ":" in v:
        host, port = v.rsplit(":", 1)
        raise ValueError('%s: "%s" has a port in it; write "%s" here and %s in the port setting' % (what, v, host, port))
    if "/" in v or " " in v:
        raise ValueError('%s: "%s" is not a host name (no spaces, no path): write a name like mqtt.asso.example' % (what, v))
    if is_ipv4(v):
        return v
    labels = v.split(".")
    for lab in labels:
        if not 1 <= len(lab) <= 63 or lab[0] == "-" or lab[-1] == "-":
            raise ValueError('%s: "%s" is not a host name (empty or over-long part, or a part starting or ending '
                             'with "-")' % (what, v))
        for ch in lab:
            if not (ch.isalpha() or ch.isdigit() or ch == "-") or ord(ch) > 127:
                raise ValueError('%s: "%s" is not a host name (%r is not allowed: letters, digits, "-" and "." only)'
                                 % (what, v, ch))
    if labels[-1].isdigit():
        raise ValueError('%s: "%s" is neither a host name nor an IPv4 address' % (what, v))
    return v


def split_url(url, what="http.url"):
    """'http[s]://host[:port][/path]' -> (scheme, host, port, path), checked, or ValueError."""
    _text(url, what, 8, 256)
    if "://" not in url:
        raise ValueError('%s: "%s" has no scheme; write https://%s (or http:// with insecure_plaintext)' % (what, url, url))
    scheme, rest = url.split("://", 1)
    if scheme not in ("http", "https"):
        raise ValueError('%s: the scheme "%s" is not one the button speaks; write https:// (or http://)' % (what, scheme))
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    port = 443 if scheme == "https" else 80
    host = hostport
    if ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        if not p.isdigit() or not 1 <= int(p) <= 65535:
            raise ValueError('%s: the port "%s" is not a number from 1 to 65535' % (what, p))
        port = int(p)
    host_name(host, what + " host")
    if " " in path:
        raise ValueError("%s: spaces are not allowed in the path" % what)
    return scheme, host, port, path


def _obj(d, key, want):
    v = d.get(key)
    if not isinstance(v, dict):
        raise ValueError("%s: write an object {%s}%s" % (key, want, ", it is missing" if v is None else ""))
    _known(v, key)
    return v


def check(d):
    """A complete, checked platform config (defaults filled in); ValueError says what is wrong and
    what to write instead."""
    if not isinstance(d, dict):
        raise ValueError("platform config must be a JSON object")
    _known(d, "")
    out = {"transport": d.get("transport", "mqtt"), "link": d.get("link", "host")}
    if out["transport"] not in TRANSPORTS:
        raise ValueError('transport: write "mqtt" or "http", not %r' % (out["transport"],))
    if out["link"] not in LINKS:
        raise ValueError('link: write "host", "wlan" or "ppp", not %r' % (out["link"],))
    out["device"] = _topic_safe(d.get("device"), "device")
    for k in INTS:
        dflt, lo, hi = INTS[k]
        out[k] = _int(d.get(k, dflt), k, lo, hi)
    out["heartbeat_fix"] = _bool(d.get("heartbeat_fix"), "heartbeat_fix", False)
    for other, needs in (("mqtt", ("transport", "mqtt")), ("http", ("transport", "http")),
                         ("wlan", ("link", "wlan")), ("ppp", ("link", "ppp"))):
        if other in d and out[needs[0]] != needs[1]:
            raise ValueError('%s: given, but %s is "%s"; remove it, or write "%s": "%s"' % (
                other, needs[0], out[needs[0]], needs[0], needs[1]))
    if out["transport"] == "mqtt":
        m = _obj(d, "mqtt", "host, port, user, password, tls")
        tls = _bool(m.get("tls"), "mqtt.tls", True)
        plain = _bool(m.get("insecure_plaintext"), "mqtt.insecure_plaintext", False)
        mq = {"host": host_name(m.get("host"), "mqtt.host"), "tls": tls,
              "user": _text(m.get("user"), "mqtt.user", 1, 64),
              "password": _text(m.get("password"), "mqtt.password", 8, 128),
              "client_id": _topic_safe(m.get("client_id", out["device"]), "mqtt.client_id"),
              "keepalive": _int(m.get("keepalive", 60), "mqtt.keepalive", 10, 3600),
              "port": _int(m.get("port", 8883 if tls else 1883), "mqtt.port", 1, 65535),
              "insecure_plaintext": plain}
        if not tls and not plain:
            raise ValueError("mqtt.tls: false sends alerts and positions in clear; "
                             "set insecure_plaintext: true only for a lab broker")
        if tls and plain:
            raise ValueError("mqtt.insecure_plaintext: only goes with tls: false; remove it")
        out["mqtt"] = mq
    else:
        h = _obj(d, "http", "url, secret")
        url = h.get("url")
        scheme = split_url(url)[0]
        plain = _bool(h.get("insecure_plaintext"), "http.insecure_plaintext", False)
        if scheme == "http" and not plain:
            raise ValueError("http.url: http:// sends alerts and positions in clear; write https:// "
                             "(or set insecure_plaintext: true only for a lab webhook)")
        if scheme == "https" and plain:
            raise ValueError("http.insecure_plaintext: only goes with an http:// URL; remove it")
        # https:// is always verified against the platform's CA (firmware/platform/link.py)
        out["http"] = {"url": url, "secret": _text(h.get("secret"), "http.secret", 16, 128),
                       "insecure_plaintext": plain}
    if out["link"] == "wlan":
        w = _obj(d, "wlan", "ssid, key")
        out["wlan"] = {"ssid": _text(w.get("ssid"), "wlan.ssid", 1, 32),
                       "key": _text(w.get("key"), "wlan.key", 8, 63) if w.get("key") is not None else None}
    if out["link"] == "ppp" and d.get("ppp") is not None:
        p = _obj(d, "ppp", "apn, user, key")
        apn = p.get("apn")
        if apn is not None and not apn_ok(apn):
            raise ValueError("ppp.apn: 1..62 printable ASCII characters, no quote or space")
        out["ppp"] = {"apn": apn,
                      "user": _text(p["user"], "ppp.user", 1, 64) if p.get("user") is not None else None,
                      "key": _text(p["key"], "ppp.key", 1, 64) if p.get("key") is not None else None}
    return out


def needs_ca(cfg):
    """True when the transport verifies a server certificate: MQTT over TLS, https:// webhooks."""
    if cfg["transport"] == "mqtt":
        return cfg["mqtt"]["tls"]
    return cfg["http"]["url"].startswith("https://")


def load(path=PATH):
    """The checked config, None if there is none; a config that fails check() raises ValueError
    so the caller logs it and runs without the platform link."""
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
