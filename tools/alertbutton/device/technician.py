"""Technician commands: talk to the button's console (firmware/console/commands.py) over its USB serial port.

    alertbutton --port PORT status
    alertbutton --port PORT contacts list | set SLOT NUMBER NAME... | clear SLOT
    alertbutton --port PORT wearer [set NAME... | clear]
    alertbutton --port PORT lang [fr|en]       gesture [set ACTION presses N within MS hold MS [taps N gap MS]]
    alertbutton --port PORT preview [alert|fall|test]
    alertbutton --port PORT test-alert all | 1,3
    alertbutton --port PORT logs [-n N]
    alertbutton --port PORT unlock | lock | pin set
    alertbutton --port PORT config export FILE | import FILE
    alertbutton --port PORT factory-reset [--yes]
    alertbutton --port PORT selftest [--vibrate]

Readable output by default, --json for scripts (one JSON object on stdout). Numbers and configuration
files are checked on the host with the firmware's own modules (firmware.core.phone, firmware.settings)
before anything is sent, and checked again by the device.

Exit status: 0 done, 1 the device refused (ERR), 2 usage or file error, 3 no device / no answer,
4 locked (PIN needed or lockout), 5 the self-test found a failing part.
"""
import getpass
import json
import os
import sys
import time

from alertbutton import fwimport  # noqa: F401  (makes the firmware modules importable here)
from firmware.core import phone  # noqa: E402  (the same checks as the device)
from firmware.settings import config as settings
from alertbutton.numplan import host as numplan_host  # noqa: E402  (phonenumbers: the host's own check)

PROTO = "AB1"
LINE_KILL = "\x15"  # firmware.console.LINE_KILL: drops what a request cut short left on the button
EXIT_REFUSED, EXIT_USAGE, EXIT_NODEVICE, EXIT_LOCKED, EXIT_SELFTEST = 1, 2, 3, 4, 5
# the button bounds each of its checks; the slowest (GNSS switch-on, 12 s, then 6 s of data) stay below
SELFTEST_TIMEOUT = 45.0

COMMAND_HELP = {
    "status": "firmware, modem, battery, last fix and last alert of the connected button",
    "contacts": "list, set or clear the five trusted contacts",
    "wearer": "show or set the wearer's name (as the SMS will show it)",
    "lang": "show or set the SMS language (fr, en)",
    "gesture": "show or set the alert gestures",
    "preview": "the exact SMS each contact would receive now, with its segment count",
    "test-alert": "send a clearly marked TEST SMS to some or all contacts",
    "logs": "the device's recent event log",
    "unlock": "enter the technician PIN (once per session)",
    "lock": "end the technician session",
    "pin": "set or change the technician PIN",
    "config": "export or import the configuration as JSON (provision many buttons alike)",
    "factory-reset": "erase contacts, wearer, PIN and every data file (logs, positions, recordings, credentials)",
    "ports": "list the serial ports (the button is usually a CP210x/CH340 USB serial)",
    "selftest": "check each part of the board (before handing it out): pass/fail with the value seen",
}


class DeviceError(Exception):
    """A problem reported to the user; `status` is the exit code."""

    def __init__(self, message, status=EXIT_REFUSED, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


# --- the serial link ---------------------------------------------------------------------------------

class Device:
    def __init__(self, port, timeout=5.0, baudrate=115200):
        import serial
        self.port = port
        self.timeout = timeout
        try:
            self.ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0.1, write_timeout=2,
                                             exclusive=True)  # a terminal or mpremote on it: a clear error
        except serial.SerialException as e:
            raise DeviceError(_open_error(port, e), EXIT_NODEVICE)
        except ValueError as e:
            raise DeviceError("bad port %r: %s" % (port, e), EXIT_USAGE)
        self.noise = []
        self.line_kill = LINE_KILL

    def close(self):
        self.ser.close()

    def call(self, command):
        """Send `AB1 command`, return the OK object; DeviceError for ERR or no answer."""
        try:
            return self._call(command, self.line_kill)
        except DeviceError as e:
            if e.code != "PROTO" or not self.line_kill:
                raise
        # a firmware older than the line kill reads it as part of the request and refuses it
        # (ERR PROTO, nothing done): speak to it the old way
        self.line_kill = ""
        return self._call(command, "")

    def _call(self, command, prefix):
        import serial
        import termios  # tcdrain() on a pty whose other end went away raises termios.error (EIO)
        try:
            self.ser.reset_input_buffer()
            self.ser.write(("%s%s %s\n" % (prefix, PROTO, command)).encode())
            self.ser.flush()
        except (serial.SerialException, OSError, termios.error) as e:  # gone while the request went out: it may
            raise _lost(self.port, e)  # have arrived whole, so the same advice as a lost answer
        deadline = time.monotonic() + self.timeout
        buf = b""
        self.noise = []
        while time.monotonic() < deadline:
            try:
                # first byte within the read timeout, then whatever is already waiting: a reply
                # comes back as soon as its line is complete, not after the timeout
                chunk = self.ser.read(1)
                if chunk and self.ser.in_waiting:
                    chunk += self.ser.read(self.ser.in_waiting)
            except (serial.SerialException, OSError, termios.error) as e:
                raise _lost(self.port, e)
            if not chunk:
                continue
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").strip()
                if line.startswith("OK "):
                    return json.loads(line[3:])
                if line.startswith("ERR "):
                    raise _err(line)
                if line:
                    self.noise.append(line)
        raise DeviceError(_silence(self.port, self.noise + [buf.decode("utf-8", "replace")]), EXIT_NODEVICE)


def _lost(port, e):
    return DeviceError("lost the button on %s (unplugged?): plug it back in, then check with "
                       "`alertbutton status` or `contacts list` whether the last change was "
                       "made (%s)" % (port, e), EXIT_NODEVICE)


def _open_error(port, e):
    text = str(e)
    if "No such file" in text or "could not open port" in text and "FileNotFound" in text:
        return ("no device at %s: nothing is plugged in there (check the USB cable; "
                "`alertbutton ports` lists serial ports)" % port)
    if "Permission denied" in text:
        return "permission denied on %s: add your user to the 'dialout' group, then log in again" % port
    if "busy" in text.lower() or "lock" in text.lower():
        return "%s is in use by another program (a terminal, mpremote?): close it first" % port
    return "cannot open %s: %s" % (port, text)


def _silence(port, noise):
    seen = " ".join(n for n in noise if n).strip()
    if ">>>" in seen or "MicroPython" in seen or "raw REPL" in seen:
        return ("the board on %s is at the MicroPython REPL, the firmware is not running: "
                "press its reset button (or Ctrl-D in a terminal) and retry" % port)
    return ("no alert button answered on %s: it may be asleep (low power, as shipped): reset it (its reset "
            "button, or the battery out and back in), then retry within 2 minutes, each command keeps it "
            "awake 2 minutes more; else wrong port, or the firmware is not running%s"
            % (port, (" [it said: %s]" % seen[:120]) if seen else ""))


_HINTS = {
    "LOCKED": "the button is locked: run `alertbutton --port {port} unlock` first (or pass --pin)",
    "NOPIN": "no technician PIN is set yet: run `alertbutton --port {port} pin set` first",
}


def _err(line):
    parts = line.split(" ", 2)
    code = parts[1] if len(parts) > 1 else "?"
    msg = parts[2] if len(parts) > 2 else ""
    status = EXIT_LOCKED if code in ("LOCKED", "LOCKOUT", "NOPIN", "PIN") else EXIT_REFUSED
    return DeviceError(msg, status, code)


# --- requests: one function per console request, used by the CLI below and by the web page -------------

def req_hello(dev):
    return dev.call("hello")


def req_contacts_list(dev):
    return dev.call("contacts list")


def req_contacts_set(dev, slot, e164, name):
    """A number checked by typed_contact(): always sent quoted (a name may start with digits)."""
    return dev.call('contacts set %s "%s" %s' % (slot, e164, name))


def req_contacts_clear(dev, slot):
    return dev.call("contacts clear %s" % slot)


def req_wearer(dev, action=None, name=""):
    """action None: read; "set": name (checked here with the device's rule first); "clear"."""
    if action == "set":
        try:
            settings.check_wearer(name)
        except ValueError as e:
            raise DeviceError(str(e), EXIT_USAGE, "NAME")
        return dev.call("wearer set " + name)
    return dev.call("wearer clear" if action == "clear" else "wearer")


def req_lang(dev, lang=None):
    return dev.call("lang %s" % lang if lang else "lang")


def req_gesture(dev, words=()):
    return dev.call("gesture " + " ".join(words) if words else "gesture")


def req_preview(dev, kind="alert"):
    return dev.call("message preview " + kind)


def req_test_alert(dev, spec):
    return dev.call("test-alert " + spec)


def req_logs(dev, n):
    if not 1 <= n <= 64:
        raise DeviceError("logs -n takes 1 to 64 (the button keeps its last 64 events), not %d" % n, EXIT_USAGE)
    return dev.call("log tail %d" % n)


def req_unlock(dev, pin):
    return dev.call("unlock " + pin)


def req_lock(dev):
    return dev.call("lock")


def req_pin_set(dev, current, new):
    return dev.call("pin set %s%s" % (current + " " if current else "", new))


def req_config_get(dev):
    return dev.call("config get")


def req_config_put(dev, checked):
    """checked: a configuration that passed settings.check_import (load_config_file / check_config)."""
    return dev.call("config put " + json.dumps(checked, ensure_ascii=False, separators=(",", ":")))


def req_factory_reset(dev):
    return dev.call("factory-reset")


def req_selftest(dev, vibrate=False):
    return dev.call("selftest vibrate" if vibrate else "selftest")


def req_power(dev):
    return dev.call("power")


# --- commands ------------------------------------------------------------------------------------------

def add_arguments(p):
    name = p.prog.split()[-1]
    p.set_defaults(_device_command=name, timeout=5.0)
    _common(p)
    if name == "contacts":
        sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        _common(sub.add_parser("list", help="the five slots"))
        s = _common(sub.add_parser("set", help="set a slot: SLOT NUMBER NAME..."))
        s.add_argument("slot")
        s.add_argument("number", help="06 12 34 56 78 (quoted), 0612345678, +33612345678, 0033..., +44...")
        s.add_argument("name", nargs="+")
        c = _common(sub.add_parser("clear", help="empty a slot"))
        c.add_argument("slot")
    elif name == "wearer":
        p.add_argument("action", nargs="?", choices=("set", "clear"))
        p.add_argument("name", nargs="*")
    elif name == "lang":
        p.add_argument("lang", nargs="?", choices=settings.LANGS)
    elif name == "gesture":
        p.add_argument("words", nargs="*", help="set ACTION [presses N within MS] [hold MS]")
    elif name == "preview":
        p.add_argument("kind", nargs="?", default="alert", choices=("alert", "fall", "test"))
    elif name == "test-alert":
        p.add_argument("slots", nargs="+", help="all, or slot numbers (1 3 or 1,3)")
    elif name == "logs":
        p.add_argument("-n", type=int, default=20, help="how many events (max 64)")
    elif name == "pin":
        p.add_argument("action", choices=("set",))
        p.add_argument("--new-pin", help="the new PIN (else prompted twice; or $ALERTBUTTON_NEW_PIN); once a PIN "
                       "is set, the current one is needed too: --pin, $ALERTBUTTON_PIN or prompted")
    elif name == "config":
        p.add_argument("action", choices=("export", "import"))
        p.add_argument("file", help="JSON file ('-' for stdout/stdin); export writes it mode 0600")
        p.add_argument("--force", action="store_true", help="export: replace an existing file")
    elif name == "factory-reset":
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    elif name == "keys":
        from alertbutton.device import keys
        keys.add_arguments(p, _common)
    elif name == "selftest":
        p.set_defaults(timeout=SELFTEST_TIMEOUT)
        p.add_argument("--vibrate", action="store_true", help="also one 0.3 s vibration pulse (felt by "
                       "whoever holds the button: never while the wearer has it)")


def _common(p):
    """Options accepted after the command too (the global form is `alertbutton --port P --json CMD`).
    SUPPRESS: an option not given here never overrides the global one."""
    import argparse
    no = argparse.SUPPRESS
    p.add_argument("--port", default=no, help="serial port of the button (or $ALERTBUTTON_PORT)")
    p.add_argument("--json", action="store_true", default=no, help="JSON output for scripts")
    p.add_argument("--pin", default=no, help="unlock with this PIN first (or $ALERTBUTTON_PIN)")
    p.add_argument("--timeout", type=float, default=no, help="seconds to wait for an answer (default 5)")
    p.add_argument("--keep-unlocked", action="store_true", default=no,
                   help="leave the session this command unlocked open (default: locked again at exit)")
    return p


def find_port(port):
    if port:
        return port
    env = os.environ.get("ALERTBUTTON_PORT")
    if env:
        return env
    try:
        from serial.tools import list_ports
        ports = [p.device for p in list_ports.comports() if p.vid is not None]
    except Exception:
        ports = []
    if len(ports) == 1:
        return ports[0]
    if not ports:
        raise DeviceError("no device: no USB serial port found. Plug the button in, or pass --port PORT",
                          EXIT_NODEVICE)
    raise DeviceError("several serial ports (%s): choose one with --port" % ", ".join(ports), EXIT_USAGE)


def run(args):
    out = Output(getattr(args, "json", False))
    if args._device_command == "ports":
        return cmd_ports(out)
    if args._device_command == "keys" and args.action == "association":  # the laptop's own key file
        from alertbutton.evidence import keys as association_keys
        return association_keys.run_association(args)
    port = None  # the hints name the port actually used (given, or $ALERTBUTTON_PORT)
    try:
        port = find_port(getattr(args, "port", None))
        fn = COMMANDS[args._device_command]
        pre = PRECHECK.get(args._device_command)
        if pre:
            pre(args)  # invalid input is refused before connecting
        dev = Device(port, timeout=args.timeout)
        opened = False  # this run unlocked a session: locked again at exit unless --keep-unlocked
        try:
            pin = getattr(args, "pin", None) or os.environ.get("ALERTBUTTON_PIN")
            if pin and args._device_command not in ("unlock", "lock", "pin"):
                dev.call("unlock " + pin)
                opened = True
            opened = opened or args._device_command == "pin"
            return fn(dev, args, out) or 0
        finally:
            if opened and not getattr(args, "keep_unlocked", False):
                try:
                    dev.call("lock")
                except DeviceError:
                    pass  # the port went away: the button ends the session on its own timeout
            dev.close()
    except DeviceError as e:
        out.error(error_message(e, port), e.code, e.status)
        return e.status


def error_message(e, port=None, hints=None):
    """A DeviceError in the words the technician reads (the CLI and the web page say the same thing):
    the button's own message after its code's word, or the hint of what to do for LOCKED/NOPIN."""
    msg = str(e)
    hints = _HINTS if hints is None else hints
    if e.code in hints:
        msg = "%s (%s)" % (hints[e.code].format(port=port or "PORT"), msg)
    elif e.code:
        word = _CODE_WORDS.get(e.code, e.code)
        if not msg.startswith(word):  # "wrong PIN: wrong PIN (...)" said it twice
            msg = "%s: %s" % (word, msg)
    return msg


_CODE_WORDS = {"NUMBER": "invalid number", "NAME": "invalid name", "SLOT": "invalid slot", "PIN": "wrong PIN",
               "LOCKOUT": "locked out", "BUSY": "busy", "STORAGE": "flash error", "CONFIG": "invalid configuration",
               "GESTURE": "invalid gesture", "NOTCONF": "not configured", "ARGS": "refused", "KEY": "invalid key"}


class Output:
    def __init__(self, as_json):
        self.as_json = as_json

    def result(self, obj, text):
        if self.as_json:
            print(json.dumps(obj, ensure_ascii=False))
        else:
            print(text)

    def error(self, msg, code, status):
        if self.as_json:
            print(json.dumps({"error": code or "HOST", "message": msg, "exit": status}, ensure_ascii=False))
        print("error: " + msg, file=sys.stderr)


def _pre_contacts(args):
    if args.action == "set":
        try:
            settings.check_slot(args.slot)
        except ValueError as e:
            raise DeviceError(str(e), EXIT_USAGE, "SLOT")
        args.number, name = typed_contact(args.number, args.name)
        args.name = [name]
    elif args.action == "clear":
        try:
            settings.check_slot(args.slot)
        except ValueError as e:
            raise DeviceError(str(e), EXIT_USAGE, "SLOT")


def typed_contact(number, name_words, separate=False):
    """(E.164, name) from `contacts set SLOT NUMBER NAME...`, or DeviceError. A number typed in groups
    without quotes (06 12 34 56 78 Sophie) is read as the button reads it (phone.split_number), which
    refuses digits after the number rather than guessing (+262 692 12 34 04 2 Julie). A number or a
    name given as one quoted shell word is taken as written. The result is checked again with
    phonenumbers (alertbutton.numplan.host): the button's rules are generated from its metadata."""
    name_words = list(name_words)
    # separate: the number and the name come from two fields (the web page): nothing to re-split
    quoted = separate or " " in number.strip() or (name_words and " " in name_words[0].strip())
    try:
        e164 = phone.normalize(number)
        name = " ".join(name_words)
        if not quoted and name_words and phone.numberlike(name_words[0]):
            phone.split_number([number] + name_words)  # raises: say how to quote
    except ValueError as first:
        if separate or " " in number.strip():  # quoted in the shell, or its own field: nothing to re-split
            raise DeviceError(str(first), EXIT_USAGE, "NUMBER")
        words = (number + " " + " ".join(name_words)).split()
        try:
            number, name = phone.split_number(words)
        except ValueError as e:
            raise DeviceError(str(e), EXIT_USAGE, "NUMBER")
        try:
            e164 = phone.normalize(number)
        except ValueError as e:
            if _valid("".join(words)):  # all of it is the number: the name was forgotten
                raise DeviceError("the contact's name is missing after the number", EXIT_USAGE, "NAME")
            raise DeviceError(str(e), EXIT_USAGE, "NUMBER")
    try:
        numplan_host.check(e164)
    except ValueError as e:
        raise DeviceError(str(e), EXIT_USAGE, "NUMBER")
    try:
        name = " ".join(settings.check_contact_name(name).split())
    except ValueError as e:
        raise DeviceError(str(e), EXIT_USAGE, "NAME")
    return e164, name


def _valid(number):
    try:
        return bool(phone.normalize(number))
    except ValueError:
        return False


def _pre_config(args):
    if args.action == "import":
        args.checked = load_config_file(args.file)
    elif args.file != "-":
        check_export_target(args.file, getattr(args, "force", False))


def check_export_target(path, force=False):
    """Refuse, before anything is asked of the button, a target that is a folder, in a folder that does
    not exist, or an existing file without --force (an export holds the contacts: never lost, never
    replaced by mistake)."""
    if os.path.isdir(path):
        raise DeviceError("%s is a folder: give a file name, e.g. %s" % (path, os.path.join(path, "button.json")),
                          EXIT_USAGE)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise DeviceError("the folder %s does not exist: create it first, or give another path" % parent, EXIT_USAGE)
    if os.path.exists(path) and not force:
        raise DeviceError("%s exists: give a new file name, or --force to replace it" % path, EXIT_USAGE)


def write_private(path, text, force=False):
    """Write text to path readable and writable by its owner only (0600): a new file is created
    exclusively; with force, a temporary file is renamed over the old one."""
    tmp = path if not force else "%s.tmp-%d" % (path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DeviceError("%s exists: give a new file name, or --force to replace it" % path, EXIT_USAGE)
    except OSError as e:
        raise DeviceError("cannot write %s: %s" % (path, e.strerror), EXIT_USAGE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)  # whatever the umask
    if force:
        os.replace(tmp, path)


def load_config_file(path):
    try:
        if path == "-":
            text = sys.stdin.read()
        elif os.path.isdir(path):
            raise DeviceError("%s is a folder: give the JSON file exported by `config export`" % path, EXIT_USAGE)
        else:
            with open(path, "rb") as f:
                raw = f.read()
            text = raw.decode("utf-8-sig")  # a BOM (Windows editors) is not part of the JSON
        data = json.loads(text)
    except OSError as e:
        raise DeviceError("cannot read %s: %s" % (path, e.strerror), EXIT_USAGE)
    except UnicodeDecodeError:
        raise DeviceError("%s is not UTF-8 text (saved as Latin-1 or Windows-1252?): save it as UTF-8 and "
                          "try again" % path, EXIT_USAGE)
    except ValueError as e:
        raise DeviceError("%s is not valid JSON: %s" % (path, e), EXIT_USAGE)
    return check_config(data, path)


def check_config(data, source):
    """The whole configuration checked with exactly the device's check before anything is written."""
    try:
        settings.check_import(data)
    except ValueError as e:
        raise DeviceError("%s: %s" % (source, e), EXIT_USAGE, "CONFIG")
    return data


def _pre_logs(args):
    if not 1 <= args.n <= 64:
        raise DeviceError("logs -n takes 1 to 64 (the button keeps its last 64 events), not %d" % args.n, EXIT_USAGE)


def _pre_keys(args):
    if args.action == "set-association":
        from alertbutton.device import keys

        def refuse(msg):
            raise DeviceError(msg, EXIT_USAGE, "KEY")
        args.assoc_hex = keys.association_key(args.key, refuse)


def cmd_keys(dev, args, out):
    from alertbutton.device import keys
    return keys.cmd_keys(dev, args, out)


PRECHECK = {"contacts": _pre_contacts, "config": _pre_config, "logs": _pre_logs, "keys": _pre_keys}


def _warn(obj):
    return "".join("\n  warning: %s" % w for w in obj.get("warnings") or [])


def cmd_ports(out):
    from serial.tools import list_ports
    ports = [{"port": p.device, "description": p.description, "vid": p.vid, "pid": p.pid}
             for p in list_ports.comports()]
    out.result({"ports": ports}, "\n".join("%s  %s" % (p["port"], p["description"]) for p in ports)
               or "no serial port found: is the button plugged in (and the cable a data cable)?")
    return 0


def cmd_status(dev, args, out):
    h = req_hello(dev)
    lines = []
    if not h["configured"]:
        lines.append("NOT CONFIGURED: no contact - this button alerts nobody")
    lines.append("Alert button   firmware %s, board %s" % (h["firmware"], h["board"]))
    lines.append("Contacts       %d of 5, wearer %s, SMS in %s" % (
        h["contacts"], "set" if h["wearer_set"] else "not set", {"fr": "French", "en": "English"}.get(h["lang"], h["lang"])))
    m = h.get("modem") or {}
    lines.append("Modem          %s, %s, signal %s, IMEI %s" % (
        "ready" if m.get("ready") else "not ready", "registered" if m.get("registered") else "not registered",
        "%d dBm" % h["signal_dbm"] if h.get("signal_dbm") is not None else "unknown", m.get("imei") or "?"))
    lines.append("Battery        %s" % ("%d %%" % h["battery"] if h.get("battery") is not None else "unknown"))
    f = h.get("last_fix")
    lines.append("Last position  %s" % ("%.5f, %.5f (±%d m, %s)" % (
        f["lat"], f["lon"], f["acc_m"] or 0, "age unknown" if f["age_s"] is None else "%d s ago" % f["age_s"])
        if f else "none"))
    a = h.get("last_alert")
    if a:
        res = a.get("results") or {}
        counts = {}
        for v in res.values():
            counts[v] = counts.get(v, 0) + 1
        lines.append("Last alert     #%d (%s), %s: %s" % (a["id"], a["kind"], a["state"],
                                                        ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items())) or "-"))
    else:
        lines.append("Last alert     none since boot")
    p = h.get("platform")
    if p:  # the association's platform link (issue 25): its last error in plain words
        if p.get("error"):
            age = p.get("error_age_s")
            lines.append("Platform       NOT REACHED: %s%s%s" % (
                p["error"], " (%d s ago)" % age if age is not None else "",
                "; %d event(s) waiting" % p["pending"] if p.get("pending") else ""))
        else:
            lines.append("Platform       %s%s" % (p["state"], ", %d event(s) waiting" % p["pending"] if p.get("pending") else ""))
    lines.append("Technician     %s" % ("no PIN set" if not h["pin_set"] else (
        "locked out for %d s" % h["lockout_s"] if h["lockout_s"] else ("unlocked" if h["unlocked"] else "locked"))))
    if h.get("config_problems"):
        lines.append("Config         read from %s; problems: %s" % (h["config_source"], "; ".join(h["config_problems"])))
    out.result(h, "\n".join(lines))


def cmd_contacts(dev, args, out):
    if args.action == "list":
        r = req_contacts_list(dev)
        rows = ["Slot  %-24s  Number" % "Name"]
        for s in r["slots"]:
            if s["number"] is None:
                rows.append("%-4d  %-24s" % (s["slot"], "(empty)"))
            else:
                rows.append("%-4d  %-24s  %s%s" % (s["slot"], s["name"], phone.describe(s["number"]),
                                                   "".join("  [%s]" % w for w in s.get("warnings", []))))
        if not r["configured"]:
            rows.append("NOT CONFIGURED: no contact - this button alerts nobody")
        out.result(r, "\n".join(rows))
    elif args.action == "set":
        # the number in quotes: the button takes it as written, and a name may start with digits
        r = req_contacts_set(dev, args.slot, args.number, " ".join(args.name))
        out.result(r, "slot %d: %s %s%s" % (r["slot"], r["name"], phone.describe(r["number"]), _warn(r)))
    else:
        r = req_contacts_clear(dev, args.slot)
        out.result(r, "slot %d cleared%s" % (r["slot"], _warn(r)))


def cmd_wearer(dev, args, out):
    if args.action == "set":
        if not args.name:
            raise DeviceError("usage: wearer set NAME", EXIT_USAGE)
        r = req_wearer(dev, "set", " ".join(args.name))
    else:
        r = req_wearer(dev, args.action)
    out.result(r, "wearer: %s (in the SMS: %s)%s" % (r["wearer"] or "(none)", r["in_sms"] or "(no name)", _warn(r)))


def cmd_lang(dev, args, out):
    r = req_lang(dev, args.lang)
    out.result(r, "SMS language: %s%s" % (r["lang"], _warn(r)))


def cmd_gesture(dev, args, out):
    r = req_gesture(dev, args.words)
    rows = []
    for g in r["gestures"]:
        if "presses" in g:
            parts = ["%s: %d presses" % (g["action"], g["presses"])]
            if "within_ms" in g:
                parts.append("within %d ms" % g["within_ms"])
            if "gap_ms" in g:
                parts.append("at most %d ms apart" % g["gap_ms"])
            if g.get("min_press_ms") or g.get("max_press_ms"):
                parts.append("each held %d..%s ms" % (g.get("min_press_ms", 0), g.get("max_press_ms", "")))
            rows.append(", ".join(parts) if len(parts) > 2 else " ".join(parts))
        elif "taps" in g:
            rows.append("%s: hold at least %d ms, let go, then %d taps at most %d ms apart"
                        % (g["action"], g["hold_ms"], g["taps"], g["gap_ms"]))
        else:
            rows.append("%s: hold %d ms" % (g["action"], g["hold_ms"]))
    out.result(r, "\n".join(rows))


def cmd_preview(dev, args, out):
    r = req_preview(dev, args.kind)
    rows = ["Position used: %s" % r["position"]]
    for m in r["messages"]:
        rows.append("slot %d  %s  %s" % (m["slot"], m["name"], phone.pretty(m["to"])))
        rows.append("  %s" % m["text"])
        rows.append("  %d segment%s, %s %d/%d%s" % (m["segments"], "" if m["segments"] == 1 else "s", m["encoding"],
                                                     m["units"], m["limit"], ("  ERROR: " + m["error"]) if "error" in m else ""))
    out.result(r, "\n".join(rows) + _warn(r))


def cmd_test_alert(dev, args, out):
    spec = ",".join(args.slots)
    r = req_test_alert(dev, spec)
    out.result(r, "test alert #%s sent to slot%s %s: %s" % (
        r["alert"], "" if len(r["slots"]) == 1 else "s", ",".join(str(s) for s in r["slots"]),
        ", ".join(phone.pretty(n) for n in r["to"])))


def cmd_logs(dev, args, out):
    r = req_logs(dev, args.n)
    rows = []
    for ev in r["lines"]:
        rest = " ".join("%s=%s" % (k, v) for k, v in ev.items() if k not in ("ms", "event", "contact"))
        rows.append("%10.3f s  %s %s" % ((ev.get("ms") or 0) / 1000.0, ev.get("event", "?"), rest))
    out.result(r, "\n".join(rows) or "(empty)")


def cmd_unlock(dev, args, out):
    pin = getattr(args, "pin", None) or os.environ.get("ALERTBUTTON_PIN")
    if not pin:
        pin = _ask("Technician PIN: ")
    r = req_unlock(dev, pin)
    out.result(r, "unlocked for %d min of inactivity" % (r["session_s"] // 60))


def cmd_lock(dev, args, out):
    r = req_lock(dev)
    out.result(r, "locked")


def _ask(prompt):
    """A PIN typed at the terminal, or a message saying how to give it without one."""
    if not sys.stdin.isatty():
        raise DeviceError("no terminal to type the PIN in: give it with --pin (or $ALERTBUTTON_PIN)", EXIT_USAGE)
    try:
        return getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        raise DeviceError("no PIN typed: nothing changed", EXIT_USAGE)


def cmd_pin(dev, args, out):
    """A new PIN; once one is set, the current one too (--pin, $ALERTBUTTON_PIN or typed)."""
    has_pin = req_hello(dev).get("pin_set")
    current = None
    if has_pin:
        current = getattr(args, "pin", None) or os.environ.get("ALERTBUTTON_PIN")
        if not current:
            current = _ask("Current technician PIN: ")
    new = args.new_pin or os.environ.get("ALERTBUTTON_NEW_PIN")
    if not new:
        if not sys.stdin.isatty():
            raise DeviceError("no terminal to type the new PIN in: give it with --new-pin (or "
                              "$ALERTBUTTON_NEW_PIN)", EXIT_USAGE)
        new = _ask("New technician PIN (4-8 digits): ")
        if _ask("Again: ") != new:
            raise DeviceError("the two PINs differ", EXIT_USAGE)
    r = req_pin_set(dev, current, new)
    out.result(r, "PIN set%s" % ("" if not getattr(args, "keep_unlocked", False) else
                                  "; this session stays unlocked (--keep-unlocked)"))


def cmd_config(dev, args, out):
    if args.action == "export":
        r = req_config_get(dev)
        text = json.dumps(r, ensure_ascii=False, indent=2) + "\n"
        if args.file == "-":
            sys.stdout.write(text)
            return 0
        write_private(args.file, text, getattr(args, "force", False))
        if getattr(args, "json", False):
            print(json.dumps({"exported": args.file, "contacts": len(r.get("contacts", []))}))
        else:
            print("configuration exported to %s (%d contacts; the PIN is never exported)" % (
                args.file, len(r.get("contacts", []))))
        return 0
    r = req_config_put(dev, args.checked)
    out.result(r, "configuration imported (%s): %d contacts%s" % (", ".join(r["keys"]), r["contacts"], _warn(r)))


def cmd_factory_reset(dev, args, out):
    if not args.yes:
        if not sys.stdin.isatty():
            raise DeviceError("factory-reset erases the contacts: confirm with --yes", EXIT_USAGE)
        if input("Erase contacts, wearer, PIN, logs, positions, recordings and platform credentials of "
                 "this button? Type 'erase': ").strip() != "erase":
            raise DeviceError("cancelled", EXIT_USAGE)
    r = req_factory_reset(dev)
    out.result(r, "factory reset done: NOT CONFIGURED (no contact, no PIN; %d data file(s) overwritten and "
                  "removed: logs, outbox, positions, recordings, credentials)" % r.get("files_erased", 0))


def cmd_selftest(dev, args, out):
    r = req_selftest(dev, args.vibrate)
    rows = ["%-14s %-6s %-30s %s" % ("part", "result", "value", "note")]
    for p in r["parts"]:
        rows.append(("%-14s %-6s %-30s %s" % (p["part"], "pass" if p["ok"] else "FAIL", p["value"],
                                              p.get("note") or "")).rstrip())
    if not args.vibrate:
        rows.append("%-14s %-6s %-30s %s" % ("vibration", "-", "not run", "add --vibrate to feel one pulse"))
    failed = [p["part"] for p in r["parts"] if not p["ok"]]
    if not r["ok"]:
        rows.append("SELF-TEST FAILED: %d of %d parts (%s): see the notes, and docs/technician.md"
                    % (len(failed), len(r["parts"]), ", ".join(failed)))
    else:
        rows.append("self-test passed: all %d parts" % len(r["parts"]))
    out.result(r, "\n".join(rows))
    return 0 if r["ok"] else EXIT_SELFTEST


COMMANDS = {
    "status": cmd_status, "contacts": cmd_contacts, "wearer": cmd_wearer, "lang": cmd_lang,
    "gesture": cmd_gesture, "preview": cmd_preview, "test-alert": cmd_test_alert, "logs": cmd_logs,
    "unlock": cmd_unlock, "lock": cmd_lock, "pin": cmd_pin, "config": cmd_config,
    "factory-reset": cmd_factory_reset, "selftest": cmd_selftest, "keys": cmd_keys,
}
