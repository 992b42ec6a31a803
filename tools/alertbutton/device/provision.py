"""`alertbutton provision --template FILE --port PORT --device ID ...`: prepare one button of a fleet.

The template holds what every button of an association shares; the per-device credentials come from
the command line or a CSV file (columns: device,user,password for MQTT; device,secret for HTTP):

    {
      "config":   {"lang": "fr", "gestures": [...], "alert_active_s": 3600},   # optional: config import
      "platform": {"transport": "mqtt", "link": "wlan", "heartbeat_s": 3600,
                   "mqtt": {"host": "mqtt.example.org", "port": 8883, "tls": true},
                   "wlan": {"ssid": "...", "key": "..."}},
      "ca": "platform-ca.pem"                                          # path relative to the template
    }

Over the button's console (AB1 protocol, PIN-protected): `config put` for the common settings, then
`platform put` (the platform config with this device's id and credentials), then the platform's CA
certificate as DER in chunks (`platform ca begin/add/end`, checked by SHA-256), then reads everything
back. The same firmware check (firmware.platform.config.check) runs here first, so a template that
passes here is one the button accepts. Changes apply at the button's next boot.
"""
import base64
import csv
import hashlib
import json
import os
import ssl
import sys

from alertbutton import fwimport  # noqa: F401  (the firmware's own modules)
from alertbutton.device.technician import Device, DeviceError, EXIT_USAGE, find_port
from firmware.platform import config as platform_config  # noqa: E402

CHUNK = 768  # CA bytes per console line (base64 ~1 KB, well under the 2 KB line limit)


class ProvisionError(ValueError):
    pass


def load_template(path):
    try:
        with open(path, encoding="utf-8") as f:
            t = json.load(f)
    except OSError as e:
        raise ProvisionError("cannot read %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise ProvisionError("%s is not valid JSON: %s" % (path, e))
    if not isinstance(t, dict) or not isinstance(t.get("platform"), dict):
        raise ProvisionError("%s: a template needs a \"platform\" object" % path)
    t["_dir"] = os.path.dirname(os.path.abspath(path))
    return t


def credentials_from_csv(path, device):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if (row.get("device") or "").strip() == device:
                    return {k: (v or "").strip() for k, v in row.items() if k}
    except OSError as e:
        raise ProvisionError("cannot read %s: %s" % (path, e.strerror))
    raise ProvisionError("%s has no row for device %r" % (path, device))


def device_platform(template, device, creds):
    """The checked platform config for one device: the template's common part, the device id, its
    credentials (MQTT user/password, HTTP secret)."""
    p = json.loads(json.dumps(template["platform"]))
    p["device"] = device
    if p.get("transport", "mqtt") == "mqtt":
        m = p.setdefault("mqtt", {})
        m["user"] = creds.get("user") or device
        m["password"] = creds.get("password")
        m.setdefault("client_id", device)
    else:
        p.setdefault("http", {})["secret"] = creds.get("secret")
    try:
        return platform_config.check(p)
    except ValueError as e:
        raise ProvisionError("platform config for %s: %s" % (device, e))


def ca_der(template):
    """The platform CA as DER bytes (PEM or DER file), or None when the template names none."""
    path = template.get("ca")
    if not path:
        return None
    if not os.path.isabs(path):
        path = os.path.join(template["_dir"], path)
    try:
        data = open(path, "rb").read()
    except OSError as e:
        raise ProvisionError("cannot read CA %s: %s" % (path, e.strerror))
    if b"-----BEGIN CERTIFICATE-----" in data:
        data = ssl.PEM_cert_to_DER_cert(data.decode("ascii"))  # the button's TLS stack loads DER
    if not data or data[0] != 0x30:
        raise ProvisionError("%s is not a certificate (PEM or DER)" % path)
    return data


def needs_ca(pcfg):
    return platform_config.needs_ca(pcfg)


def provision(dev, template, pcfg, ca):
    """Apply everything over an open console; returns the button's read-back."""
    if template.get("config"):
        dev.call("config put " + json.dumps(template["config"], ensure_ascii=False, separators=(",", ":")))
    dev.call("platform put " + json.dumps(pcfg, separators=(",", ":")))
    if ca is not None:
        dev.call("platform ca begin")
        for i in range(0, len(ca), CHUNK):
            dev.call("platform ca add " + base64.b64encode(ca[i:i + CHUNK]).decode())
        dev.call("platform ca end " + hashlib.sha256(ca).hexdigest())
    back = dev.call("platform")
    if not back.get("configured") or back["config"]["device"] != pcfg["device"]:
        raise DeviceError("the button did not keep the platform config: %r" % (back,))
    if ca is not None and back["ca"].get("sha256") != hashlib.sha256(ca).hexdigest():
        raise DeviceError("the button's CA differs from the one sent")
    return back


def prepare_flash(flash_dir, platform, ca_path=None):
    """The simulator's way (scenario "platform"): write the files `provision` would have written on
    a button's flash. (No library to install: the link has its own MQTT and HTTP clients.)"""
    pcfg = platform_config.check(platform)
    with open(os.path.join(flash_dir, platform_config.PATH), "w") as f:
        json.dump(pcfg, f)
    if ca_path:
        ca = ca_der({"ca": ca_path, "_dir": os.getcwd()})
        with open(os.path.join(flash_dir, platform_config.CA_PATH), "wb") as f:
            f.write(ca)
    return pcfg


def add_arguments(p):
    p.add_argument("--template", required=True, help="JSON template shared by the fleet (see --help)")
    p.add_argument("--port", dest="provision_port", help="serial port of the button (or the global --port)")
    p.add_argument("--device", required=True, help="this button's platform id (MQTT client id, topics)")
    p.add_argument("--credentials", help="CSV with this device's row: device,user,password (or device,secret)")
    p.add_argument("--user", help="MQTT user (default: the device id)")
    p.add_argument("--password", help="MQTT password (prefer --credentials or ALERTBUTTON_PLATFORM_PASSWORD)")
    p.add_argument("--secret", help="HTTP webhook secret")
    p.add_argument("--pin", help="technician PIN (or ALERTBUTTON_PIN)")
    p.add_argument("--dry-run", action="store_true", help="check and print what would be sent, touch nothing")


def run(args):
    try:
        t = load_template(args.template)
        if args.credentials:
            creds = credentials_from_csv(args.credentials, args.device)
        else:
            creds = {"user": args.user, "secret": args.secret,
                     "password": args.password or os.environ.get("ALERTBUTTON_PLATFORM_PASSWORD")}
        pcfg = device_platform(t, args.device, creds)
        ca = ca_der(t)
        if needs_ca(pcfg) and ca is None:
            raise ProvisionError("this transport needs the platform's CA (MQTT over TLS, https:// webhook): "
                                 "add \"ca\" to the template")
        if t.get("config"):
            load_config_file_obj(t["config"])
    except (ProvisionError, DeviceError) as e:
        print("error: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        print(json.dumps({"platform": platform_config.public(pcfg), "config": t.get("config"),
                          "ca_sha256": hashlib.sha256(ca).hexdigest() if ca else None}, indent=2))
        return 0
    try:
        dev = Device(find_port(args.provision_port or getattr(args, "port", None)))
        try:
            pin = args.pin or os.environ.get("ALERTBUTTON_PIN")
            if pin:
                dev.call("unlock " + pin)
            back = provision(dev, t, pcfg, ca)
        finally:
            dev.close()
    except DeviceError as e:
        print("error: %s%s" % (("%s: " % e.code) if e.code else "", e), file=sys.stderr)
        return e.status
    print("provisioned %s: %s to %s%s; CA %s. Reboot the button to apply." % (
        pcfg["device"], pcfg["transport"],
        pcfg["mqtt"]["host"] if pcfg["transport"] == "mqtt" else pcfg["http"]["url"],
        " over " + pcfg["link"], "sha256 " + back["ca"]["sha256"][:16] if back["ca"].get("present") else "none"))
    return 0


def load_config_file_obj(obj):
    """The template's "config" part through the device's own import check."""
    from firmware.settings import config as settings
    try:
        settings.check_import(obj)
    except ValueError as e:
        raise ProvisionError("template config: %s" % e)

