# Technician console on the USB serial (on the board: the REPL's UART, while main.py runs).
#
# Protocol version 1, one line per request and per answer (UTF-8, at most MAX_LINE bytes; CR, LF or
# CRLF end a line):
#     AB1 <command> [arguments]          ->   OK <JSON object>   |   ERR <CODE> <message>
# An empty line is ignored; any other line is answered ERR PROTO (so a developer typing Python at it
# learns at once that this is not the REPL). See docs/technician.md for the command list and codes.
#
# Way out to the REPL (developers): Ctrl-C stops main.py as usual (it is handled by MicroPython
# before this console reads anything) and leaves the ordinary REPL; Ctrl-D (soft reset) or the reset
# button starts the firmware, and this console, again.
#
# Access: while no PIN is set, everything but changes is open and a change answers ERR NOPIN until
# `pin set`. Once a PIN is set, changes, test alerts and anything showing personal data (contacts,
# messages, log, config) need `unlock <PIN>` once per session; a session ends with `lock`, a reboot,
# or SESSION_MS without a command. MAX_FAILS wrong PINs lock the console (firmware.settings.pin_lock).
# Size: the AB1 command table with every command's access level in one file, so that a review of
# what needs the PIN sees all of them at once; the evidence, platform and self-test commands live in
# their own modules.
import asyncio
import json
from firmware.wearer import haptics
from firmware.core import phone, uptime
from firmware.settings import pin_lock, config as settings
from firmware.sms import preview
from firmware.console.gate import PROTO, banner_lines, ends, one_line, write_line  # PROTO: "AB1"
from firmware.version import VERSION

MAX_LINE = 2048
# Ctrl-U (a terminal's "kill line") drops the bytes of an unfinished line: the CLI starts every request
# with it, so a request cut short (cable pulled mid-write) is never glued to, or run as, the next one.
LINE_KILL = 0x15
SESSION_MS = 10 * 60 * 1000
LOG_MAX = 64

OPEN, PRIVATE, CHANGE = 0, 1, 2
EVIDENCE = CHANGE  # sound recordings: always behind the PIN, even before one is set (NOPIN)

USAGE = (
    "hello",
    "power",
    "help",
    "contacts list",
    "contacts set <slot 1-5> <number> <name>",
    "contacts clear <slot 1-5>",
    "wearer | wearer set <name> | wearer clear",
    "gesture | gesture set <action> [presses N within MS] [hold MS [taps N gap MS]] | gesture set <action> off",
    "lang | lang fr | lang en",
    "message preview [alert|fall|test]",
    "test-alert <slots: all | 1,3,5>",
    "log tail <n>",
    "pin set <4-8 digits>",
    "unlock <PIN>",
    "lock",
    "config get | config put <json>",
    "factory-reset",
    "evidence list | status | chunks REC | read REC INDEX OFFSET N | exported REC HEAD | delete REC [force]",
    "keys device | keys association | keys association set <64 hex>",
    "selftest [vibrate]",
)
# commands other modules register (App.start_console): help lists them only where they exist
EXTRA_USAGE = {
    "platform": "platform | platform put <json> | platform ca begin | platform ca add <base64> | "
                "platform ca end <sha256> | platform clear",
}


class Reply(Exception):
    """An ERR answer: raised anywhere in a command, turned into one line."""

    def __init__(self, code, message):
        super().__init__(code)
        self.code = code
        self.message = message


class Deferred:
    """An answer that needs the event loop (the self-test waits on the modem and the sensors): a
    command returns one, run() awaits it while the other tasks go on."""

    def __init__(self, coro):
        self.coro = coro


class Console:
    def __init__(self, app, stream, pin_path=pin_lock.PATH, now=uptime.ms):
        """stream: a pollable stream with non-blocking read(n) and write(bytes) (a UART, the
        simulator's pty), or a (rx, tx) pair of stdio streams whose read(n) blocks for n bytes (the
        board's USB REPL: read one byte at a time)."""
        self.app = app
        self.cfg = app.cfg
        self.stream = stream
        self.now = now
        self.pin = pin_lock.PinLock(pin_path, now=now)
        self.session = None  # uptime ms of the last command of an unlocked session
        self.handlers = {
            "hello": (OPEN, self.c_hello),
            "help": (OPEN, self.c_help),
            "contacts": (None, self.c_contacts),
            "wearer": (None, self.c_wearer),
            "gesture": (None, self.c_gesture),
            "lang": (None, self.c_lang),
            "message": (PRIVATE, self.c_message),
            "test-alert": (CHANGE, self.c_test_alert),
            "log": (PRIVATE, self.c_log),
            "power": (PRIVATE, self.c_power),
            "pin": (None, self.c_pin),
            "unlock": (OPEN, self.c_unlock),
            "lock": (OPEN, self.c_lock),
            "config": (None, self.c_config),
            "factory-reset": (CHANGE, self.c_factory_reset),
            "evidence": (EVIDENCE, self.c_evidence),
            "keys": (EVIDENCE, self.c_keys),
            "selftest": (OPEN, self.c_selftest),
            "maintenance": (OPEN, self.c_maintenance),  # checks the PIN itself  # shows nothing personal (firmware/console/selftest.py)
        }

    # --- line level -------------------------------------------------------------------------------
    def handle(self, raw):
        """One request line (bytes, without its end) -> the answer line (str), None for nothing, or a
        Deferred for answer() to finish."""
        try:
            line = bytes(raw).decode()
        except UnicodeError:
            return "ERR ENCODING the line is not UTF-8"
        line = line.strip()
        if not line:
            return None
        words = line.split(None, 1)
        head = words[0]
        if head != PROTO:
            if len(head) > 2 and head[:2] == "AB" and head[2:].isdigit():
                return "ERR VERSION this device speaks %s" % PROTO
            return "ERR PROTO requests start with %s, e.g. '%s hello'" % (PROTO, PROTO)
        rest = words[1] if len(words) > 1 else ""
        try:
            result = self.dispatch(rest)
            return result if isinstance(result, Deferred) else "OK " + json.dumps(result)
        except Exception as e:
            return self._error(e)

    async def answer(self, raw):
        """handle(), with a Deferred answer awaited: the answer line, or None."""
        ans = self.handle(raw)
        if isinstance(ans, Deferred):
            try:
                ans = "OK " + json.dumps(await ans.coro)
            except Exception as e:
                ans = self._error(e)
        return ans

    def _error(self, e):
        if isinstance(e, Reply):
            return "ERR %s %s" % (e.code, one_line(e.message))
        # never let the console take the firmware down; the fuzz test counts these
        self._log("console_error", err=repr(e))
        return "ERR INTERNAL %s" % one_line(repr(e))

    def dispatch(self, rest):
        parts = rest.split(None, 1)
        if not parts:
            raise Reply("ARGS", "missing command (try: %s help)" % PROTO)
        cmd = parts[0]
        args = parts[1] if len(parts) > 1 else ""
        h = self.handlers.get(cmd)
        if h is None:
            raise Reply("UNKNOWN", "unknown command %r (try: %s help)" % (cmd[:32], PROTO))
        level, fn = h
        if level is not None:
            self.require(level)
        return fn(args)

    # --- access -----------------------------------------------------------------------------------
    def unlocked(self):
        if self.session is None:
            return False
        if self.now() - self.session > SESSION_MS:
            self.session = None
            return False
        return True

    def require(self, level):
        pin_set = self.cfg.get("pin") is not None
        if level == OPEN or (level == PRIVATE and not pin_set):
            return
        if not pin_set:
            raise Reply("NOPIN", "set a technician PIN first: %s pin set <4-8 digits>" % PROTO)
        if not self.unlocked():
            left = self.pin.remaining_ms()
            if left:
                raise Reply("LOCKOUT", "too many wrong PINs: locked for %d s" % ((left + 999) // 1000))
            raise Reply("LOCKED", "unlock first: %s unlock <PIN>" % PROTO)
        self.session = self.now()

    # --- helpers ----------------------------------------------------------------------------------
    def _log(self, event, **kw):
        log = getattr(self.app, "log", None)
        if log is not None:
            log(event, **kw)

    def _save(self, before, keep_backup=True):
        """Persist cfg; on failure put the previous settings back and answer ERR STORAGE."""
        try:
            settings.save(self.cfg, keep_backup=keep_backup)
        except (OSError, ValueError) as e:
            settings.replace(self.cfg, before)
            self._apply_gestures()
            raise Reply("STORAGE", "could not save, nothing changed: %r" % (e,))

    def _change(self, fn, what, keep_backup=True):
        """Run fn() (which edits self.cfg, raising ValueError on bad input) and persist it."""
        before = settings.to_payload(self.cfg)
        before = json.loads(json.dumps(before))  # deep copy: fn edits nested lists in place
        try:
            result = fn()
        except ValueError as e:
            settings.replace(self.cfg, before)
            raise Reply(self._bad_code(what), str(e))
        self._save(before, keep_backup)
        self._log("config_changed", what=what)
        return result

    def _bad_code(self, what):
        return {"contact": "NUMBER", "wearer": "NAME", "gesture": "GESTURE", "lang": "ARGS",
                "import": "CONFIG"}.get(what, "ARGS")

    def _apply_gestures(self):
        logic = getattr(self.app, "logic", None)
        if logic is not None and hasattr(logic, "multi"):  # the live recogniser follows the new map
            logic.multi = [g for g in self.cfg["gestures"] if "presses" in g]
            logic.holds = [g for g in self.cfg["gestures"] if "hold_ms" in g and "taps" not in g]
            logic.seqs = [g for g in self.cfg["gestures"] if "taps" in g]

    def _not_configured(self):
        vib = getattr(self.app, "vibrator", None)
        if vib is not None:
            vib.play(haptics.NOT_CONFIGURED)

    def _slots_view(self):
        out = []
        for i, c in enumerate(self.cfg["slots"]):
            if c is None:
                out.append({"slot": i + 1, "name": None, "number": None})
                continue
            e = {"slot": i + 1, "name": c["name"], "number": c["number"]}
            try:
                phone.normalize(c["number"])
                w = phone.warnings(c["number"])
            except ValueError as err:
                w = ["invalid number: %s" % err]
            if w:
                e["warnings"] = w
            out.append(e)
        return out

    def _fix(self):
        lf = getattr(self.app, "lastfix", None)
        best = lf.best() if lf is not None else None
        return best

    def _battery(self):
        try:
            return self.app.board.battery_percent()
        except Exception:
            return None

    # --- commands ---------------------------------------------------------------------------------
    def c_hello(self, args):
        cfg = self.cfg
        m = getattr(self.app, "modem", None)
        modem = None
        if m is not None:
            ready = getattr(m, "ready", None)
            modem = {"ready": bool(ready.is_set()) if ready is not None else False,
                     "registered": bool(getattr(m, "registered", False)),
                     "csq": getattr(m, "csq", 99), "imei": getattr(m, "imei", "")}
        csq = modem["csq"] if modem else 99
        fix = self._fix()
        last_fix = None
        if fix is not None:
            last_fix = {"lat": fix.lat, "lon": fix.lon, "acc_m": fix.acc_m, "age_s": fix.age_s()}
        a = getattr(self.app, "alert", None)
        last_alert = None
        if a is not None and getattr(a, "alert_id", 0):
            res = getattr(a, "results", {}) or {}
            last_alert = {"id": a.alert_id, "state": getattr(a, "state", "?"), "kind": getattr(a, "kind", "?"),
                          "results": dict([(str(k), res[k]) for k in res])}
        board = getattr(self.app, "board", None)
        platform = None
        link = getattr(self.app, "platform", None)
        if link is not None:
            p = link.summary()
            platform = {"state": p["state"], "pending": p["pending"], "error": p["error"],
                        "error_age_s": p.get("error_age_s"), "ok_age_s": p.get("ok_age_s")}
        elif getattr(self.app, "platform_problem", None):
            platform = {"state": "not started", "pending": None, "error": self.app.platform_problem}
        # the free flash and the power mode, to an unlocked session only: the free room tells whether
        # sound was recorded, which whoever holds the button must not learn (hello is open to anyone)
        flash_free_kb = power_mode = None
        if self.unlocked():
            store = getattr(getattr(self.app, "recorder", None), "store", None)
            if store is not None:  # its free() knows the simulated board's flash size too
                flash_free_kb = store.free() // 1024
            else:
                import os
                st = os.statvfs(".")
                flash_free_kb = st[0] * st[3] // 1024
            p = getattr(self.app, "power", None)  # the power task runs only when the settings ask for it
            power_mode = {"task": p is not None, "low_power": bool(p is not None and p.low_power),
                          "modem_mode": p.modem_policy.mode if p is not None else None}
        return {
            "proto": 1, "firmware": VERSION, "board": getattr(board, "name", "?"),
            "configured": cfg["configured"], "contacts": len(cfg["contacts"]),
            "wearer_set": bool(cfg["wearer"]), "lang": cfg["lang"],
            "config_source": cfg.get("config_source"), "config_problems": cfg.get("config_problems") or [],
            "modem": modem, "battery": self._battery(),
            "signal_dbm": None if not isinstance(csq, int) or csq > 31 or csq < 0 else -113 + 2 * csq,
            "last_fix": last_fix, "last_alert": last_alert,
            "pin_set": cfg.get("pin") is not None, "unlocked": self.unlocked(),
            "lockout_s": (self.pin.remaining_ms() + 999) // 1000,
            "platform": platform, "flash_free_kb": flash_free_kb, "power_mode": power_mode,
        }

    def c_help(self, args):
        return {"proto": 1, "commands": list(USAGE) + [u for k, u in EXTRA_USAGE.items() if k in self.handlers]}

    def c_contacts(self, args):
        words = args.split(None, 3)
        sub = words[0] if words else ""
        if sub == "list" and len(words) == 1:
            self.require(PRIVATE)
            return {"slots": self._slots_view(), "configured": self.cfg["configured"]}
        if sub == "set":
            self.require(CHANGE)
            toks = args.split()
            if len(toks) < 4:
                raise Reply("ARGS", "usage: contacts set <slot 1-5> <number> <name>")
            try:
                slot = settings.check_slot(toks[1])
            except ValueError as e:
                raise Reply("SLOT", str(e))
            try:
                number, name = phone.split_number(toks[2:])
            except ValueError as e:
                raise Reply("NUMBER", str(e))
            try:
                name = settings.check_contact_name(name)
            except ValueError as e:
                raise Reply("NAME", str(e))
            c = self._change(lambda: settings.set_contact(self.cfg, slot, number, name), "contact")
            return {"slot": slot, "name": c["name"], "number": c["number"], "display": phone.describe(c["number"]),
                    "warnings": phone.warnings(c["number"]), "configured": True}
        if sub == "clear":
            self.require(CHANGE)
            if len(words) != 2:
                raise Reply("ARGS", "usage: contacts clear <slot 1-5>")
            try:
                slot = settings.check_slot(words[1])
            except ValueError as e:
                raise Reply("SLOT", str(e))
            self._change(lambda: settings.clear_contact(self.cfg, slot), "contact")
            out = {"slot": slot, "configured": self.cfg["configured"], "warnings": []}
            if not self.cfg["configured"]:
                out["warnings"].append("NOT CONFIGURED: no contact left, an alert reaches nobody")
                self._not_configured()
            return out
        raise Reply("ARGS", "usage: contacts list | contacts set <slot> <number> <name> | contacts clear <slot>")

    def c_wearer(self, args):
        words = args.split(None, 1)
        sub = words[0] if words else ""
        if not sub:
            self.require(PRIVATE)
            shown, w = preview.name_report(self.cfg["wearer"], self.cfg["lang"])
            return {"wearer": self.cfg["wearer"], "in_sms": shown, "warnings": w}
        if sub in ("set", "clear"):
            self.require(CHANGE)
            if sub == "set" and len(words) < 2:
                raise Reply("ARGS", "usage: wearer set <name> (or: wearer clear)")
            if sub == "clear" and len(words) > 1:
                raise Reply("ARGS", "usage: wearer clear")
            name = words[1] if sub == "set" else ""
            self._change(lambda: settings.set_wearer(self.cfg, name), "wearer")
            shown, w = preview.name_report(self.cfg["wearer"], self.cfg["lang"])
            return {"wearer": self.cfg["wearer"], "in_sms": shown, "warnings": w}
        raise Reply("ARGS", "usage: wearer | wearer set <name> | wearer clear")

    def c_gesture(self, args):
        words = args.split()
        if not words:
            return {"gestures": self.cfg["gestures"]}
        if words[0] != "set":
            raise Reply("ARGS", "usage: gesture | gesture set <action> [presses N within MS] [hold MS]")
        self.require(CHANGE)
        try:
            action, specs = settings.parse_gesture(words[1:])
        except ValueError as e:
            raise Reply("ARGS", str(e))
        self._change(lambda: settings.set_gestures(self.cfg, action, specs), "gesture")
        self._apply_gestures()
        return {"gestures": self.cfg["gestures"]}

    def c_lang(self, args):
        words = args.split()
        if not words:
            return {"lang": self.cfg["lang"]}
        if len(words) != 1 or words[0] not in settings.LANGS:
            raise Reply("ARGS", "usage: lang | lang fr | lang en")
        self.require(CHANGE)
        self._change(lambda: settings.set_lang(self.cfg, words[0]), "lang")
        _shown, w = preview.name_report(self.cfg["wearer"], self.cfg["lang"])
        return {"lang": self.cfg["lang"], "warnings": w}

    def c_message(self, args):
        words = args.split()
        if not words or words[0] != "preview" or len(words) > 2:
            raise Reply("ARGS", "usage: message preview [alert|fall|test]")
        kind = words[1] if len(words) > 1 else "alert"
        if kind not in ("alert", "fall", "test"):
            raise Reply("ARGS", "usage: message preview [alert|fall|test]")
        fix = self._fix()
        cell = None if fix is not None else getattr(getattr(self.app, "modem", None), "last_cell", None)
        msgs = preview.messages(self.cfg, fix.as_tuple() if fix is not None else None, self._battery(), kind,
                                cell)
        shown, w = preview.name_report(self.cfg["wearer"], self.cfg["lang"])
        out = {"kind": kind, "messages": msgs, "position": "last known" if fix is not None else "none",
               "wearer_in_sms": shown, "warnings": w}
        if not msgs:
            out["warnings"].append("NOT CONFIGURED: no contact, nobody would be alerted")
        return out

    def c_test_alert(self, args):
        spec = args.replace(",", " ").split()
        if not spec:
            raise Reply("ARGS", "usage: test-alert <all | slot numbers, e.g. 1,3>")
        slots = self.cfg["slots"]
        if spec == ["all"]:
            chosen = [i + 1 for i in range(len(slots)) if slots[i] is not None]
        else:
            chosen = []
            for s in spec:
                try:
                    n = settings.check_slot(s)
                except ValueError as e:
                    raise Reply("SLOT", str(e))
                if slots[n - 1] is None:
                    raise Reply("SLOT", "slot %d is empty" % n)
                if n not in chosen:
                    chosen.append(n)
        if not chosen:
            raise Reply("NOTCONF", "NOT CONFIGURED: no contact to test")
        # the alert manager counts contacts in slot order, empty slots skipped
        index = {}
        k = 0
        for i in range(len(slots)):
            if slots[i] is not None:
                index[i + 1] = k
                k += 1
        a = self.app.alert
        if not a.trigger("console", kind="test", only=[index[n] for n in chosen]):
            raise Reply("BUSY", "an alert is in progress (state %s): try again later" % getattr(a, "state", "?"))
        return {"alert": getattr(a, "alert_id", None), "slots": chosen,
                "to": [slots[n - 1]["number"] for n in chosen]}

    def c_power(self, args):
        """Time spent in each power state per component (the firmware's own accounting)."""
        from firmware.power import policy as power
        return power.report()

    def c_log(self, args):
        words = args.split()
        if len(words) != 2 or words[0] != "tail":
            raise Reply("ARGS", "usage: log tail <n>")
        try:
            n = int(words[1])
        except ValueError:
            raise Reply("ARGS", "usage: log tail <n>")
        n = max(1, min(LOG_MAX, n))
        lines = []
        for ln in self.app.log.tail(n):
            try:
                lines.append(json.loads(ln))
            except ValueError:
                lines.append({"raw": ln})
        return {"lines": lines}

    def c_pin(self, args):
        """`pin set <new>` on a button without PIN; `pin set <current> <new>` once one is set: an
        unlocked session left on a table is not enough to take the button over (issue 19). The
        current PIN is checked like `unlock` (wrong tries count toward the lockout)."""
        words = args.split()
        if len(words) not in (2, 3) or words[0] != "set":
            raise Reply("ARGS", "usage: pin set <4-8 digits> (once a PIN is set: pin set <current PIN> <new PIN>)")
        if self.cfg.get("pin") is not None:
            if len(words) != 3:
                raise Reply("PIN", "a PIN is set: changing it needs the current one: pin set <current PIN> "
                                   "<new PIN> (forgotten: only a factory reset, which erases everything, removes it)")
            self._check_pin(words[1])
        elif len(words) != 2:
            raise Reply("ARGS", "no PIN set yet: pin set <4-8 digits>")
        new = words[-1]
        try:
            pin_lock.check_format(new)
        except ValueError as e:
            raise Reply("ARGS", str(e))

        def put():
            self.cfg["pin"] = pin_lock.make(new)
        self._change(put, "pin")
        self.session = self.now()
        return {"pin_set": True, "unlocked": True, "session_s": SESSION_MS // 1000}

    def _check_pin(self, pin):
        """Reply PIN/LOCKOUT unless pin is the technician PIN (each wrong try counts)."""
        try:
            ok = self.pin.attempt(self.cfg["pin"], pin)
        except pin_lock.LockedOut as e:
            raise Reply("LOCKOUT", "too many wrong PINs: locked for %d s" % ((e.remaining_ms + 999) // 1000))
        if not ok:
            self.session = None
            self._log("pin_wrong", left=self.pin.tries_left())
            left = self.pin.remaining_ms()
            if left:
                self._log("pin_lockout", s=left // 1000)
                raise Reply("LOCKOUT", "wrong PIN, too many tries: locked for %d s" % ((left + 999) // 1000))
            n = self.pin.tries_left()
            raise Reply("PIN", "wrong PIN (%d %s left before a %d min lockout)" % (
                n, "try" if n == 1 else "tries", pin_lock.LOCKOUT_MS // 60000))

    def c_maintenance(self, args):
        """`maintenance <PIN> [minutes]`: open the REPL (Ctrl-C stops the firmware) for a deploy, 10
        minutes by default, 30 at most; then the port is locked again. Refused during an alert."""
        words = args.split()
        if len(words) > 2:
            raise Reply("ARGS", "usage: maintenance <PIN> [minutes 1-30]")
        minutes = 10
        if self.cfg.get("pin") is None and len(words) == 1:  # no PIN set: only minutes may be given
            words = ["", words[0]]
        if len(words) == 2:
            if not words[1].isdigit() or not 1 <= int(words[1]) <= 30:
                raise Reply("ARGS", "minutes: 1 to 30")
            minutes = int(words[1])
        if self.cfg.get("pin") is not None:
            if not words:
                raise Reply("PIN", "the technician PIN is needed: maintenance <PIN>")
            self._check_pin(words[0])
        state = getattr(getattr(self.app, "alert", None), "state", "idle")
        if state != "idle":
            raise Reply("BUSY", "an alert is in progress (state %s): the REPL would stop it; try when it "
                                "has ended" % state)
        from firmware.console import gate
        if not gate.repl(True):
            raise Reply("UNAVAILABLE", "this MicroPython cannot lock or open the REPL (no kbd_intr)")
        self.repl_until = self.now() + minutes * 60000
        self._log("maintenance_open", minutes=minutes)
        return {"repl_open_s": minutes * 60,
                "how": "Ctrl-C now stops the firmware and opens the REPL (mpremote, alertbutton deploy); "
                       "locked again after %d min or at the next boot" % minutes}

    def _maintenance_tick(self):
        until = getattr(self, "repl_until", None)
        if until is not None and self.now() - until >= 0:
            from firmware.console import gate
            gate.repl(False)
            self.repl_until = None
            self._log("maintenance_end")

    def c_unlock(self, args):
        words = args.split()
        if len(words) != 1:
            raise Reply("ARGS", "usage: unlock <PIN>")
        if self.cfg.get("pin") is None:
            raise Reply("NOPIN", "no PIN set yet: %s pin set <4-8 digits>" % PROTO)
        self._check_pin(words[0])
        self.session = self.now()
        self._log("console_unlocked")
        return {"unlocked": True, "session_s": SESSION_MS // 1000}

    def c_lock(self, args):
        self.session = None
        return {"unlocked": False}

    def c_config(self, args):
        words = args.split(None, 1)
        sub = words[0] if words else ""
        if sub == "get" and len(words) == 1:
            self.require(PRIVATE)
            return settings.export(self.cfg)
        if sub == "put" and len(words) == 2:
            self.require(CHANGE)
            try:
                data = json.loads(words[1])
            except ValueError:
                raise Reply("CONFIG", "config put takes one JSON object")
            try:
                checked = settings.check_import(data)
            except ValueError as e:
                raise Reply("CONFIG", str(e))
            self._change(lambda: settings.apply_import(self.cfg, checked), "import")
            self._apply_gestures()
            shown, w = preview.name_report(self.cfg["wearer"], self.cfg["lang"])
            if not self.cfg["configured"]:
                w.append("NOT CONFIGURED: no contact, an alert reaches nobody")
                self._not_configured()
            return {"configured": self.cfg["configured"], "contacts": len(self.cfg["contacts"]),
                    "keys": sorted(checked), "warnings": w}
        raise Reply("ARGS", "usage: config get | config put <json>")

    def c_evidence(self, args):
        # the recordings' own commands (firmware/evidence/store.py); this console only guards them
        store = getattr(getattr(self.app, "recorder", None), "store", None)
        if store is None:
            raise Reply("UNAVAILABLE", "this button records no evidence (no microphone)")
        from firmware.evidence import store as evidence
        try:
            return evidence.console_command(store, args)
        except ValueError as e:
            raise Reply("EVIDENCE", str(e))
        except OSError as e:
            raise Reply("STORAGE", "evidence flash error: %r" % (e,))

    def c_keys(self, args):
        # the device key and the association key (firmware/console/keys_cmds.py)
        from firmware.console import keys_cmds
        try:
            return keys_cmds.console_command(self, args)
        except ValueError as e:
            raise Reply("KEY", str(e))
        except OSError as e:
            raise Reply("STORAGE", "device key flash error: %r" % (e,))

    def c_selftest(self, args):
        """Check each part of the board (firmware/console/selftest.py); `vibrate` adds one pulse."""
        words = args.split()
        if words not in ([], ["vibrate"]):
            raise Reply("ARGS", "usage: selftest [vibrate]")
        from firmware.console import selftest
        why = selftest.refusal(self.app)
        if why:
            raise Reply("BUSY", why)
        return Deferred(selftest.run(self.app, vibrate=bool(words)))

    def c_factory_reset(self, args):
        if args.strip():
            raise Reply("ARGS", "usage: factory-reset")
        alert = getattr(self.app, "alert", None)
        state = getattr(alert, "state", "idle")
        if state == "active":  # every first SMS went out: end the alert, then erase
            return Deferred(self._reset_after_stop(alert))
        if state != "idle":  # its first SMS are still going out: never cut them
            raise Reply("BUSY", "an alert is being sent (state %s): factory-reset once its SMS are out" % state)
        return self._factory_reset()

    async def _reset_after_stop(self, alert):
        alert.stop("factory_reset")
        t0 = uptime.ms()
        while alert.state != "idle":
            if uptime.ms() - t0 > 15000:
                raise Reply("BUSY", "the alert did not end within 15 s: nothing erased, try again")
            await asyncio.sleep_ms(50)
        return self._factory_reset()

    def _factory_reset(self):
        self._change(lambda: settings.reset(self.cfg), "factory_reset", keep_backup=False)
        self._apply_gestures()
        self._forget()
        from firmware.settings import erase
        board = getattr(self.app, "board", None)
        keep = (settings.PATH,) + tuple(getattr(board, "data_keep", lambda: ())())
        try:
            removed, errors = erase.erase_data(".", keep)
        except OSError as e:
            removed, errors = 0, [repr(e)]
        self.pin.clear()
        self.session = None
        self._log("factory_reset", removed=removed, errors=len(errors))
        self._not_configured()
        if errors:
            raise Reply("STORAGE", "settings erased, but %d file(s) could not be: %s" % (len(errors), errors[0]))
        return {"configured": False, "pin_set": False, "files_erased": removed}

    def _forget(self):
        """What the running firmware holds in RAM of the erased data: log lines, the last fix, the
        ended alert's outbox, the platform queue's index and the events not yet written to it (their
        files go next)."""
        app = self.app
        log = getattr(app, "log", None)
        if log is not None:
            del log.ring[:]
            for sink in getattr(log, "sinks", ()):
                if isinstance(getattr(sink, "buf", None), list):
                    del sink.buf[:]
        lf = getattr(app, "lastfix", None)
        if lf is not None:
            lf.fix = lf._saved = None
        ob = getattr(getattr(app, "alert", None), "outbox", None)
        if ob is not None:
            ob.recs = []
        link = getattr(app, "platform", None)
        q = getattr(link, "queue", None)
        if q is not None:
            q.index = []
            q.bytes = 0
        ram = getattr(link, "ram", None)
        if isinstance(ram, list):  # events noted but not yet on flash: the task would write them next
            del ram[:]
        rec = getattr(app, "recorder", None)
        if rec is not None:  # the device key's file goes with the data files; its RAM copy and the
            rec.signer = None  # next recording's prepared key go now (no association key: nothing recorded)
            if rec.keys is not None:
                rec.keys.set_pub(None)
            rec.last_head = None
            rec.disarm()
        arming = getattr(app, "arming", None)
        if arming is not None:
            arming.until = None

    # --- stream loop ------------------------------------------------------------------------------
    def _write(self, text):
        write_line(self._tx, text)

    def banner(self):
        for line in banner_lines(self.cfg):
            self._write(line)

    async def _ticker(self):
        while True:
            await asyncio.sleep_ms(pin_lock.PERSIST_MS)
            self.pin.tick()
            self.unlocked()  # an idle session ends on time, not at the next command
            self._maintenance_tick()

    async def run(self, reader=None, pending=None):
        """Serve the stream. Started by firmware/console/gate.py with its reader and the bytes that
        woke it (it has logged the "console" event and written the banner); alone, it does both."""
        rx, self._tx, chunk = ends(self.stream)
        if reader is None:
            self._log("console", source=self.cfg.get("config_source"), problems=len(self.cfg.get("config_problems") or []))
            reader = asyncio.StreamReader(rx)
            self.banner()
        asyncio.create_task(self._ticker())
        buf = bytearray()
        over = False
        data = pending
        while True:
            if not data:
                data = await reader.read(chunk)
                if not data:
                    await asyncio.sleep_ms(50)
                    continue
            if isinstance(data, str):
                data = data.encode()
            power = getattr(self.app, "power", None)
            if power is not None:
                power.console_seen()  # a technician at work: no deep sleep under her commands
            for b in data:
                if b == LINE_KILL:
                    buf = bytearray()
                    over = False
                elif b == 10 or b == 13:
                    if over:
                        self._write("ERR TOOLONG lines are at most %d bytes" % MAX_LINE)
                        over = False
                    elif buf:
                        ans = await self.answer(buf)
                        if ans is not None:
                            self._write(ans)
                    buf = bytearray()
                elif not over:
                    if len(buf) >= MAX_LINE:
                        over = True
                        buf = bytearray()
                    else:
                        buf.append(b)
            data = None
