# The console's `AB1 keys ...` (issue 21): the device's public key for the association to record, and
# the association's public key to which recordings are sealed. Behind the PIN (the console's table).
#     keys device                      -> {"device_pub": 64 hex}
#     keys association                 -> {"association_pub": 64 hex | null, "recording": bool}
#     keys association set <64 hex>    -> the same, after saving
import binascii

from firmware.evidence import device_key, sealing

USAGE = "keys device | keys association | keys association set <64 hex>"


def _hex(b):
    return binascii.hexlify(b).decode()


def console_command(console, args):
    """Raises ValueError with the message to show (the console answers ERR KEY)."""
    app, cfg = console.app, console.cfg
    w = args.split()
    if w == ["device"]:
        seed = device_key.load_or_create(log=getattr(app, "log", None))
        return {"device_pub": _hex(device_key.public_key(seed))}
    rec = getattr(app, "recorder", None)
    if w == ["association"]:
        return {"association_pub": cfg.get("association_pub"), "recording": rec is not None and rec.can_record()}
    if len(w) == 3 and w[:2] == ["association", "set"]:
        pub = sealing.parse_association_pub(w[2])
        console._change(lambda: cfg.__setitem__("association_pub", _hex(pub)), "association_key")
        if rec is not None and rec.keys is not None:
            rec.keys.set_pub(pub)
            rec.arm()  # the pre-alert ring starts now that it can be sealed
        return {"association_pub": _hex(pub), "recording": rec is not None and rec.can_record()}
    if len(w) > 3 and w[:2] == ["association", "set"]:
        raise ValueError("one key only: keys association set <64 hex characters>")
    raise ValueError("usage: " + USAGE)
