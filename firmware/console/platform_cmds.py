# Console commands for the platform link (issue 9), added to the technician console (firmware/console/commands.py)
# by App.start_console through register(): `alertbutton provision` uses them.
#
#   AB1 platform                       -> OK {"configured", "config" (secrets masked), "ca", "link":
#                                         {"state", "pending", "sent", "failures", "dropped", "error" (the
#                                         last one in plain words, until a success), ...}, "problem"}
#   AB1 platform put <json>            -> OK {"saved": true, "device", "transport", "reboot": true}
#   AB1 platform ca begin              -> start a CA upload (DER, in base64 chunks: a line is <= 2 KB)
#   AB1 platform ca add <base64>       -> OK {"bytes": n so far}
#   AB1 platform ca end <sha256 hex>   -> checked, then written atomically to platform_ca.der
#   AB1 platform clear                 -> remove the platform config and CA (SMS only from next boot)
# Status needs the PIN like the log (PRIVATE); every change needs an unlocked session (CHANGE).
# Changes apply at the next boot: the link never restarts in the middle of an alert.
import binascii
import hashlib
import json
import os

from firmware.platform import config as platform_config
from firmware.system import storage
from firmware.console.commands import PRIVATE, CHANGE, Reply

_CA_MAX = 4096


def register(console):
    state = {"ca": None}
    console.handlers["platform"] = (None, lambda args: command(console, state, args))


def _ca_info(path=platform_config.CA_PATH):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {"present": False}
    return {"present": True, "bytes": len(data), "sha256": binascii.hexlify(hashlib.sha256(data).digest()).decode()}


def command(console, state, args):
    words = args.split(None, 2)
    sub = words[0] if words else ""
    if not sub:
        console.require(PRIVATE)
        try:
            cfg = platform_config.load()
        except ValueError as e:
            return {"configured": False, "problem": str(e), "ca": _ca_info()}
        link = getattr(console.app, "platform", None)
        status = link.summary() if link is not None else None
        out = {"configured": cfg is not None, "config": platform_config.public(cfg) if cfg else None,
               "ca": _ca_info(), "link": status}
        problem = getattr(console.app, "platform_problem", None)
        if problem:  # the link could not start at boot (no CA file, ...): say why
            out["problem"] = problem
        return out
    console.require(CHANGE)
    if sub == "put":
        rest = args.split(None, 1)
        if len(rest) != 2:
            raise Reply("ARGS", "usage: platform put <json>")
        try:
            checked = platform_config.save(json.loads(rest[1]))
        except ValueError as e:
            raise Reply("CONFIG", str(e))
        except OSError as e:
            raise Reply("STORAGE", "could not save: %r" % (e,))
        console._log("config_changed", what="platform")
        return {"saved": True, "device": checked["device"], "transport": checked["transport"], "reboot": True}
    if sub == "ca":
        return _ca(console, state, words[1:])
    if sub == "clear":
        for p in (platform_config.PATH, platform_config.CA_PATH):
            try:
                os.remove(p)
            except OSError:
                pass
        console._log("config_changed", what="platform_clear")
        return {"configured": False, "reboot": True}
    raise Reply("ARGS", "usage: platform | platform put <json> | platform ca begin|add <b64>|end <sha256> | platform clear")


def _ca(console, state, words):
    op = words[0] if words else ""
    if op == "begin":
        state["ca"] = bytearray()
        return {"bytes": 0}
    if state["ca"] is None:
        raise Reply("ARGS", "platform ca begin first")
    if op == "add" and len(words) == 2:
        try:
            chunk = binascii.a2b_base64(words[1])
        except ValueError:
            raise Reply("ARGS", "not base64")
        if len(state["ca"]) + len(chunk) > _CA_MAX:
            state["ca"] = None
            raise Reply("ARGS", "CA certificate too large (max %d bytes)" % _CA_MAX)
        state["ca"].extend(chunk)
        return {"bytes": len(state["ca"])}
    if op == "end" and len(words) == 2:
        data = bytes(state["ca"])
        state["ca"] = None
        got = binascii.hexlify(hashlib.sha256(data).digest()).decode()
        if got != words[1].strip().lower():
            raise Reply("ARGS", "CA upload damaged (sha256 %s): start again" % got)
        if not data or data[0] != 0x30:  # DER: an ASN.1 SEQUENCE
            raise Reply("ARGS", "the CA must be a DER certificate (the host tool converts PEM)")
        try:
            storage.write_atomic(platform_config.CA_PATH, data)
        except OSError as e:
            raise Reply("STORAGE", "could not save: %r" % (e,))
        console._log("config_changed", what="platform_ca")
        return {"saved": True, "bytes": len(data), "sha256": got, "reboot": True}
    raise Reply("ARGS", "usage: platform ca begin | add <base64> | end <sha256>")
