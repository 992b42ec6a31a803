# Console line parser fuzzer, run inside the MicroPython VM against firmware/console/commands.py with its real
# settings, PIN lockout and record storage (on a LittleFS in RAM, so nothing touches the disk).
#
# Lines are random bytes (invalid UTF-8, control characters, NUL, very long), valid requests mutated
# (byte flips, cut, duplicated or dropped words, odd numbers and names, JSON fragments for config put),
# and plain valid requests - including the right and wrong PINs, so the locked, unlocked and locked
# out states are all visited. A fake clock moves 5 s per line, so sessions and lockouts expire.
#
# Every answer is checked: one line, "OK <JSON object>" or "ERR <known code> <message>", nothing for
# a blank line. "ERR INTERNAL" (the console's last-resort catch) and any exception escaping handle()
# are counted as failures; so is a broken invariant (contacts out of sync with slots, an unvalidated
# number stored, an invalid gesture map, a test alert aimed at a contact that does not exist).
#
# Run: alertbutton console-fuzz --lines 100000 [--seed S]
import json
import os
import random

from firmware.core import phone
from firmware.settings import config as settings
from firmware.console.commands import Console
from firmware.system.eventlog import EventLog

CODES = ("PROTO", "VERSION", "ENCODING", "TOOLONG", "UNKNOWN", "ARGS", "NUMBER", "NAME", "SLOT", "LOCKED",
         "NOPIN", "PIN", "LOCKOUT", "BUSY", "STORAGE", "CONFIG", "GESTURE", "NOTCONF", "UNAVAILABLE", "EVIDENCE")
PIN = "2468"

VALID = (
    "AB1 hello", "AB1 help", "AB1 contacts list", "AB1 contacts set 1 0612345678 Sophie",
    "AB1 contacts set 2 +33 7 52 34 56 78 Karim Ben", "AB1 contacts set 3 0692123456 Réunion",
    "AB1 contacts set 4 +447400900123 Jo", "AB1 contacts set 5 06 12 34 56 05 Nadia", "AB1 contacts clear 3",
    "AB1 wearer", "AB1 wearer set Camille", "AB1 wearer set François-Xavier Éloïse", "AB1 wearer clear",
    "AB1 gesture", "AB1 gesture set alert presses 3 within 2500 hold 2000", "AB1 gesture set alert hold 3000",
    "AB1 lang", "AB1 lang en", "AB1 lang fr", "AB1 message preview", "AB1 message preview test",
    "AB1 test-alert 1", "AB1 test-alert all", "AB1 test-alert 1,2,5", "AB1 log tail 5", "AB1 pin set 2468",
    "AB1 unlock 2468", "AB1 unlock 2468", "AB1 unlock 2468", "AB1 unlock 1111", "AB1 lock", "AB1 config get",
    'AB1 config put {"wearer": "Imported", "lang": "en"}',
    'AB1 config put {"contacts": [{"slot": 2, "name": "A", "number": "0612345678"}]}',
    "AB1 factory-reset", "AB1 evidence list", "AB1 evidence read 1 0 0 64",
)
WORDS = ("AB1", "AB2", "ab1", "contacts", "set", "clear", "list", "wearer", "gesture", "presses", "within",
         "hold", "alert", "lang", "fr", "en", "message", "preview", "test-alert", "log", "tail", "pin",
         "unlock", "lock", "config", "get", "put", "factory-reset", "hello", "help", "all", "0", "1", "5", "6",
         "-1", "99999999999999999999", "0612345678", "+33612345678", "+", "00", "0812345678", "114",
         "+33 (0)6", "1e9", "NaN", "Łucja", "فاطمة", "😀", "\x00", "\t", "{", "}", "[]", "null", '"x"', "\\",
         '{"contacts": 5}', '{"gestures": []}', '{"format": "other"}', "2468", "1234")


class _Modem:
    imei = "861234567890123"
    csq = 17
    registered = True

    class ready:
        @staticmethod
        def is_set():
            return True


class _Alert:
    def __init__(self, cfg):
        self.cfg = cfg
        self.state = "idle"
        self.alert_id = 0
        self.kind = "alert"
        self.results = {}
        self.calls = 0

    def trigger(self, source, kind="alert", only=None):
        n = len(self.cfg["contacts"])
        if kind != "test" or not only or [i for i in only if not 0 <= i < n]:
            raise AssertionError("test alert aimed at %r with %d contacts" % (only, n))
        self.calls += 1
        if self.calls % 7 == 0:
            self.state = "dispatching"  # now and then busy: the console must say BUSY
            return False
        self.state = "idle"
        self.alert_id += 1
        self.results = dict([(i, "sent") for i in only])
        return True


class _Board:
    name = "fuzz"

    def battery_percent(self):
        return 55


class _Fix:
    lat, lon, acc_m = 48.85661, 2.35222, 12.0

    def age_s(self):
        return 30

    def as_tuple(self):
        return (self.lat, self.lon, self.acc_m, 30)


class _LastFix:
    def best(self):
        return _Fix()


class _App:
    pass


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def _mount_ram():
    from powercut_harness import RamFlash
    f = RamFlash()
    os.VfsLfs2.mkfs(f)
    try:
        os.umount("/fz")
    except OSError:
        pass
    os.mount(os.VfsLfs2(f), "/fz")
    os.chdir("/fz")  # settings and the PIN lockout write relative paths: they land in RAM


def make_console():
    settings._store = None
    app = _App()
    app.cfg = settings.load()
    app.log = EventLog(keep=16)
    app.modem = _Modem()
    app.alert = _Alert(app.cfg)
    app.board = _Board()
    app.lastfix = _LastFix()
    clock = Clock()
    return Console(app, None, now=clock), clock


def _mutate(rng, line):
    b = bytearray(line.encode())
    for _ in range(rng.randint(1, 4)):
        op = rng.randint(0, 5)
        if op == 0 and b:
            b[rng.randint(0, len(b) - 1)] = rng.randint(0, 255)
        elif op == 1:
            b = b[:rng.randint(0, len(b))]
        elif op == 2:
            w = WORDS[rng.randint(0, len(WORDS) - 1)].encode()
            k = rng.randint(0, len(b))
            b = b[:k] + b" " + w + b" " + b[k:]
        elif op == 3 and b:
            k = rng.randint(0, len(b) - 1)
            b = b[:k] + b[k + rng.randint(1, 8):]
        elif op == 4:
            b = b + b" " + b
        else:
            b = b.replace(b" ", b"  " if rng.randint(0, 1) else b"\t")
    return bytes(b)


def _random_json(rng):
    keys = list(settings.EXPORTED) + ["format", "pin", "slots", "x"]
    d = {}
    for _ in range(rng.randint(0, 4)):
        k = keys[rng.randint(0, len(keys) - 1)]
        v = (rng.randint(-5, 100000), "Nom " + WORDS[rng.randint(0, len(WORDS) - 1)], None, [], {},
             [{"slot": rng.randint(0, 6), "name": "C", "number": WORDS[rng.randint(0, len(WORDS) - 1)]}],
             [{"action": "alert", "presses": rng.randint(0, 9), "within_ms": rng.randint(0, 20000)}],
             "en", "fr", True)[rng.randint(0, 9)]
        d[k] = v
    s = json.dumps(d)
    if rng.randint(0, 4) == 0:
        s = s[:rng.randint(0, len(s))]
    return ("AB1 config put " + s).encode()


_queue = []


def gen_line(rng):
    if _queue:
        return _queue.pop()
    if rng.randint(0, 499) == 0:  # a burst of wrong PINs: the lockout, then requests while locked out
        _queue.extend([b"AB1 contacts list", b"AB1 hello"] + [b"AB1 unlock 0000"] * 6)
        return _queue.pop()
    r = rng.randint(0, 99)
    if r < 15:
        return bytes([rng.randint(0, 255) for _ in range(rng.randint(0, 40))])
    if r < 20:
        return bytes([rng.randint(32, 126) for _ in range(rng.randint(0, 300))])
    if r < 45:
        return VALID[rng.randint(0, len(VALID) - 1)].encode()
    if r < 80:
        return _mutate(rng, VALID[rng.randint(0, len(VALID) - 1)])
    if r < 90:
        return " ".join([WORDS[rng.randint(0, len(WORDS) - 1)] for _ in range(rng.randint(1, 8))]).encode()
    if r < 95:
        return _random_json(rng)
    return ("AB1 unlock " + PIN).encode()


def check_answer(line, ans, counts):
    if ans is None:
        try:
            blank = not bytes(line).decode().strip()
        except UnicodeError:
            blank = False
        return None if blank else "no answer to a non-blank line"
    if "\n" in ans or "\r" in ans:
        return "answer spans lines"
    if ans.startswith("OK "):
        obj = json.loads(ans[3:])
        if not isinstance(obj, dict):
            return "OK payload is not an object"
        counts["ok"] += 1
        return None
    if ans.startswith("ERR "):
        code = ans.split(" ", 2)[1]
        if code == "INTERNAL":
            return "internal error: " + ans
        if code not in CODES:
            return "unknown code " + code
        counts["err"] += 1
        counts[code] = counts.get(code, 0) + 1
        return None
    return "malformed answer"


def check_state(cfg):
    slots = cfg["slots"]
    if len(slots) != 5:
        return "slots length"
    if cfg["contacts"] != [c for c in slots if c is not None]:
        return "contacts out of sync with slots"
    for c in cfg["contacts"]:
        if phone.normalize(c["number"]) != c["number"]:
            return "unnormalized number stored"
        settings.check_contact_name(c["name"])
    settings.check_gestures(cfg["gestures"])
    settings.check_lang(cfg["lang"])
    settings.check_wearer(cfg["wearer"])
    return None


def run(lines=1000, seed=1):
    _mount_ram()
    rng = random.Random(seed) if hasattr(random, "Random") else None
    if rng is None:
        random.seed(seed)
        rng = random
    del _queue[:]
    con, clock = make_console()
    counts = {"lines": 0, "ok": 0, "err": 0, "uncaught": 0, "bad": 0, "reloads": 0}
    failures = []
    for i in range(lines):
        line = gen_line(rng)
        clock.t += 5000  # 5 s per line: sessions (10 min) and lockouts (15 min) expire
        counts["lines"] += 1
        try:
            ans = con.handle(line)
        except Exception as e:  # noqa: the point of the fuzzer
            counts["uncaught"] += 1
            failures.append("uncaught %r on %r" % (e, line))
            continue
        why = check_answer(line, ans, counts)
        if why is None:
            try:
                why = check_state(con.cfg)
            except ValueError as e:
                why = "invalid state: %s" % e
        if why is not None:
            counts["bad"] += 1
            failures.append("%s <- %r" % (why, line))
        if i % 5000 == 4999:
            # a reboot now and then: what was stored must load back to the same settings
            before = json.loads(json.dumps(settings.to_payload(con.cfg)))
            con, clock2 = make_console()
            clock2.t = clock.t
            clock = clock2
            if settings.to_payload(con.cfg) != before:
                counts["bad"] += 1
                failures.append("settings changed across a reboot")
            counts["reloads"] += 1
    os.chdir("/")
    os.umount("/fz")
    return counts, failures


if __name__ == "__main__":
    import sys
    import time
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    t = time.ticks_ms()
    c, f = run(n, seed)
    dt = time.ticks_diff(time.ticks_ms(), t)
    print(json.dumps({"lines": c["lines"], "ok": c["ok"], "err": c["err"], "uncaught": c["uncaught"],
                      "bad": c["bad"], "reloads": c["reloads"], "seed": seed, "ms": dt,
                      "codes": dict([(k, c[k]) for k in c if k.isupper()])}))
    for x in f[:20]:
        print("FAIL", x)
