"""`alertbutton keys ...` on a connected button (issue 21, docs/technician.md, docs/evidence-sealing.md):
    alertbutton keys device                       the button's Ed25519 public key (64 hex), for the
                                                  association to record: it verifies the signed heads
    alertbutton keys set-association HEX|FILE     the association's X25519 public key (64 hex, or a file
                                                  holding them), to which recordings are sealed
    alertbutton keys association new --out FILE   (no button needed) the association's key pair
    alertbutton keys association show FILE        (alertbutton/evidence/keys.py)
Both behind the technician PIN. The key is checked on the laptop with the firmware's own rule before
anything is sent (exit 2 with what to do), and again by the button."""
import os
import stat

from alertbutton import fwimport  # noqa: F401  (firmware modules in CPython)
from firmware.evidence import sealing  # noqa: E402  (the same check as the device)


def add_arguments(p, common):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    common(sub.add_parser("device", help="print the button's public key (Ed25519, 64 hex) for the association"))
    s = common(sub.add_parser("set-association", help="set the association's public key (X25519): 64 hex "
                              "characters, or a file holding them"))
    s.add_argument("key", help="64 hex characters, or a file holding them (never the association's secret key)")
    from alertbutton.evidence import keys as association_keys
    association_keys.add_association_actions(sub.add_parser(
        "association", help="the association's X25519 key pair, made on this computer (no button needed): "
        "new --out FILE | show FILE"))


def association_key(arg, error):
    """The 64 lower-case hex of a key given as hex or as a file; error(message) raises the refusal."""
    if os.path.isdir(arg):
        error("%s is a folder: give the association's public key (64 hex) or its file" % arg)
    if os.path.isfile(arg):
        st = os.stat(arg)
        if not st.st_mode & (stat.S_IRGRP | stat.S_IROTH) and os.name == "posix":
            error("%s is readable by its owner only, as the association's SECRET key file is: give the PUBLIC "
                  "key (the hex `alertbutton keys association new` printed, or its .pub file); if this is the "
                  "public key, make it readable (chmod 644 %s)" % (arg, arg))
        with open(arg, "rb") as f:
            return association_text(f.read(4096), error, arg)
    if len(arg) != 64 and ("/" in arg or "." in arg):
        error("no such file: %s (give the 64 hex characters, or an existing file holding them)" % arg)
    return association_text(arg, error)


def association_text(data, error, name=None):
    """The 64 lower-case hex of a key given as text (typed, or a file's bytes: name is the file's); the
    association's SECRET key file (its `secret` line) is refused whatever its mode. The web page's check
    (it never opens a path it is sent)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError:
            error("%s is not text: the association's public key file holds 64 hex characters" % (name or "the key"))
    if any(line.startswith("secret ") for line in data.split("\n")):
        error("%s is the association's SECRET key file: give the PUBLIC key (the hex `alertbutton keys association "
              "new` printed, or its .pub file); keep the secret file with the association, never on the button"
              % (name or "this"))
    try:
        return sealing.parse_association_pub(data.strip()).hex()
    except ValueError as e:
        error(str(e))


def req_keys_device(dev):
    """{"device_pub": 64 hex}: the key the button reports (the CLI's `keys device`, the web page's keys)."""
    return dev.call("keys device")


def req_keys_association(dev):
    return dev.call("keys association")


def req_keys_set_association(dev, assoc_hex):
    """assoc_hex: a key checked by association_key / association_text."""
    return dev.call("keys association set " + assoc_hex)


def cmd_keys(dev, args, out):
    if args.action == "device":
        r = req_keys_device(dev)
        out.result(r, "device public key (Ed25519): %s\nrecord it with the association: it verifies the heads "
                      "this button signs" % r["device_pub"])
        return 0
    r = req_keys_set_association(dev, args.assoc_hex)
    out.result(r, "association public key set: %s\nrecordings are now sealed to it (only the association's "
                  "secret key opens them)" % r["association_pub"])
    return 0
