# Technician console (firmware/console/commands.py), run inside the MicroPython VM with the real settings,
# storage and PIN lockout in a fresh temporary directory, a fake clock and fakes for the modem/alert.
import asyncio
import io
import json
import os

from firmware.wearer import haptics
from firmware.settings import pin_lock, config as settings
from firmware.console.commands import Console, SESSION_MS
from firmware.system.eventlog import EventLog
from firmware.wearer.gestures import ButtonLogic
from firmware.sms.text import compose
from firmware.core.sms_pdu import segment_info


class Clock:
    def __init__(self):
        self.t = 1000

    def __call__(self):
        return self.t


class Ready:
    def is_set(self):
        return True


class Modem:
    imei = "861234567890123"
    csq = 14
    registered = True
    ready = Ready()


class Alert:
    def __init__(self):
        self.state = "idle"
        self.alert_id = 0
        self.kind = "alert"
        self.results = {}
        self.calls = []

    def trigger(self, source, kind="alert", only=None):
        self.calls.append((source, kind, only))
        if self.state != "idle":
            return False
        self.alert_id += 1
        self.kind = kind
        self.results = dict([(i, "pending") for i in only])
        return True


class Vib:
    def __init__(self):
        self.played = []

    def play(self, p):
        self.played.append(p)


class Fix:
    lat, lon, acc_m = 45.76404, 4.83566, 14.0

    def age_s(self):
        return 75

    def as_tuple(self):
        return (self.lat, self.lon, self.acc_m, 75)


class LastFix:
    fix = None

    def best(self):
        return self.fix


class Board:
    name = "test"

    def battery_percent(self):
        return 64


class App:
    pass


def make(clock=None):
    settings._store = None
    app = App()
    app.cfg = settings.load()
    app.log = EventLog()
    app.modem = Modem()
    app.alert = Alert()
    app.vibrator = Vib()
    app.lastfix = LastFix()
    app.board = Board()
    app.logic = ButtonLogic(app.cfg["gestures"])
    clock = clock or Clock()
    return Console(app, None, now=clock), app, clock


def fresh(clock=None):
    for f in os.listdir():
        os.remove(f)
    return make(clock)


def ask(con, line):
    ans = con.handle(line.encode())
    return ans


def ok(con, line):
    ans = ask(con, line)
    assert ans is not None and ans.startswith("OK "), (line, ans)
    return json.loads(ans[3:])


def err(con, line, code):
    ans = ask(con, line)
    assert ans is not None and ans.startswith("ERR %s " % code), (line, ans, code)
    return ans


def provisioned():
    con, app, clock = fresh()
    ok(con, "AB1 pin set 2468")
    return con, app, clock


def test_an_unlocked_session_left_for_days_stays_locked():
    # on ticks, a session idle 6.2..12.4 days read as 1..6 days in the future: alive, unlocked, for
    # whoever plugs in next; the console runs on firmware.core.uptime ms (and its ticker ends sessions)
    for days in (1, 7, 10, 13, 30):
        con, app, clock = provisioned()
        ok(con, "AB1 contacts list")  # unlocked by the first PIN
        clock.t += days * 24 * 3600 * 1000
        err(con, "AB1 contacts list", "LOCKED")


def test_protocol_lines():
    con, app, _ = fresh()
    assert ask(con, "") is None and ask(con, "   \t ") is None
    err(con, "hello", "PROTO")
    err(con, "import os", "PROTO")  # a developer typing Python learns this is not the REPL
    err(con, "AB2 hello", "VERSION")
    err(con, "AB1", "ARGS")
    err(con, "AB1 frobnicate", "UNKNOWN")
    assert con.handle(b"AB1 hello \xff\xfe") == "ERR ENCODING the line is not UTF-8"
    h = ok(con, "  AB1   hello  ")
    assert h["proto"] == 1 and h["board"] == "test" and h["firmware"]
    assert h["modem"] == {"ready": True, "registered": True, "csq": 14, "imei": "861234567890123"}
    assert h["signal_dbm"] == -113 + 28 and h["battery"] == 64
    assert h["configured"] is False and h["pin_set"] is False and h["last_fix"] is None
    app.lastfix.fix = Fix()
    assert ok(con, "AB1 hello")["last_fix"] == {"lat": 45.76404, "lon": 4.83566, "acc_m": 14.0, "age_s": 75}
    assert "contacts set <slot 1-5> <number> <name>" in ok(con, "AB1 help")["commands"]
    assert not [c for c in ok(con, "AB1 help")["commands"] if c.startswith("platform")]  # not registered
    from firmware.console import platform_cmds as console_platform
    console_platform.register(con)
    assert [c for c in ok(con, "AB1 help")["commands"] if c.startswith("platform | platform put <json>")]


class Store:
    def free(self):
        return 3 * 1024 * 1024 + 5


class Power:
    low_power = True

    class modem_policy:
        mode = "off"


def test_hello_tells_free_flash_and_power_mode_to_an_unlocked_session_only():
    con, app, clock = provisioned()  # unlocked by the first PIN
    h = ok(con, "AB1 hello")
    assert isinstance(h["flash_free_kb"], int) and h["flash_free_kb"] > 0, h  # the filesystem's, no recorder
    assert h["power_mode"] == {"task": False, "low_power": False, "modem_mode": None}
    app.recorder = App()
    app.recorder.store = Store()
    app.power = Power()
    h = ok(con, "AB1 hello")
    assert h["flash_free_kb"] == 3072 and h["power_mode"] == {"task": True, "low_power": True, "modem_mode": "off"}
    assert h["contacts"] == 0 and h["pin_set"] is True and "lockout_s" in h  # the answer's fields are kept
    ok(con, "AB1 lock")
    h = ok(con, "AB1 hello")
    assert h["flash_free_kb"] is None and h["power_mode"] is None  # whether sound was recorded: not told


def test_changes_need_a_pin_first_then_unlock_once_per_session():
    con, app, clock = fresh()
    err(con, "AB1 contacts set 1 0612345678 Sophie", "NOPIN")
    err(con, "AB1 unlock 1234", "NOPIN")
    assert ok(con, "AB1 contacts list")["configured"] is False  # nothing to protect yet: readable
    assert ok(con, "AB1 pin set 2468")["unlocked"]  # the first PIN opens the session
    ok(con, "AB1 contacts set 1 0612345678 Sophie")
    ok(con, "AB1 lock")
    for line in ("AB1 contacts list", "AB1 message preview", "AB1 log tail 3", "AB1 config get", "AB1 wearer",
                 "AB1 contacts set 2 0612345678 B", "AB1 test-alert 1", "AB1 factory-reset",
                 "AB1 lang en", "AB1 gesture set alert hold 3000", "AB1 wearer set X"):
        err(con, line, "LOCKED")
    h = ok(con, "AB1 hello")  # hello stays open, with counts only
    assert h["contacts"] == 1 and "slots" not in h and not h["unlocked"]
    assert ok(con, "AB1 lang")["lang"] == "fr" and ok(con, "AB1 gesture")["gestures"]
    ok(con, "AB1 unlock 2468")
    ok(con, "AB1 contacts list")
    clock.t += SESSION_MS - 1000  # each command keeps the session alive
    ok(con, "AB1 contacts list")
    clock.t += SESSION_MS + 1  # idle too long: locked again
    err(con, "AB1 contacts list", "LOCKED")
    ok(con, "AB1 unlock 2468")
    # issue 19: an unlocked session is not enough to change the PIN: the current one is needed
    e = err(con, "AB1 pin set 13579", "PIN")
    assert "pin set <current PIN> <new PIN>" in e and "factory reset" in e, e
    err(con, "AB1 pin set 1111 13579", "PIN")  # a wrong current PIN: a wrong try, session closed
    err(con, "AB1 contacts list", "LOCKED")
    ok(con, "AB1 lock")
    assert ok(con, "AB1 pin set 2468 13579")["unlocked"]  # even locked, with the current PIN
    ok(con, "AB1 lock")
    err(con, "AB1 unlock 2468", "PIN")
    ok(con, "AB1 unlock 13579")


def test_five_wrong_pins_lock_out_for_15_min_across_reboots():
    con, app, clock = provisioned()
    ok(con, "AB1 lock")
    for left in (4, 3, 2, 1):
        assert ("%d %s left" % (left, "try" if left == 1 else "tries")) in err(con, "AB1 unlock 0000", "PIN")
    err(con, "AB1 unlock 0000", "LOCKOUT")
    # even the right PIN is refused while locked out, and nothing else opens
    assert "locked for 900 s" in err(con, "AB1 unlock 2468", "LOCKOUT")
    err(con, "AB1 contacts list", "LOCKOUT")
    assert ok(con, "AB1 hello")["lockout_s"] == 900
    clock.t += 5 * 60 * 1000
    con.pin.tick()  # the minute ticker writes the remaining time
    # reboot: a new clock starting anywhere (ticks restart), the lockout resumes from flash
    clock2 = Clock()
    clock2.t = 123456
    con2, app2, _ = make(clock2)
    left = ok(con2, "AB1 hello")["lockout_s"]
    assert left == 600, left
    assert "locked for 600 s" in err(con2, "AB1 unlock 2468", "LOCKOUT")
    clock2.t += 599 * 1000
    err(con2, "AB1 unlock 2468", "LOCKOUT")
    clock2.t += 1000
    ok(con2, "AB1 unlock 2468")  # the lockout is over and the count starts again
    ok(con2, "AB1 lock")
    assert "4 tries left" in err(con2, "AB1 unlock 0000", "PIN")
    ok(con2, "AB1 unlock 2468")
    assert con2.pin.fails == 0


def test_reboot_without_tick_never_shortens_the_lockout():
    con, app, clock = provisioned()
    for _ in range(5):
        ask(con, "AB1 unlock 0000")
    clock.t += 14 * 60 * 1000  # no tick persisted: after a reboot, the full lockout again
    con2, _a, _c = make(Clock())
    assert ok(con2, "AB1 hello")["lockout_s"] == 900


def test_damaged_lockout_record_means_locked():
    con, app, clock = provisioned()
    ask(con, "AB1 unlock 0000")
    with open(pin_lock.PATH, "wb") as f:
        f.write(b"ABpl broken")
    try:
        os.remove(pin_lock.PATH + ".bak")
    except OSError:
        pass
    con2, _a, _c = make()
    assert ok(con2, "AB1 hello")["lockout_s"] == 900


def test_contacts_set_list_clear():
    con, app, clock = provisioned()
    r = ok(con, "AB1 contacts set 2 06 12 34 56 02 Karim Ben Ali")  # number typed in groups
    assert r == {"slot": 2, "name": "Karim Ben Ali", "number": "+33612345602", "warnings": [], "configured": True,
                 "display": "+33 6 12 34 56 02 (France, mobile)"}
    r = ok(con, "AB1 contacts set 4 0145678901 Bureau")
    assert r["warnings"] and "landline" in r["warnings"][0]
    # digits right after an unquoted number: never guessed (issue 19); quoted, the rest is the name
    e = err(con, "AB1 contacts set 1 0612345601 112 Association", "NUMBER")
    assert 'contacts set SLOT "0612345601" 112 Association' in e, e
    assert ok(con, 'AB1 contacts set 1 "0612345601" 112 Association')["name"] == "112 Association"
    e = err(con, "AB1 contacts set 4 +262 692 12 34 04 2 Julie", "NUMBER")
    assert 'put the number in double quotes, e.g. contacts set SLOT "+262 692 12 34 04" 2 Julie' in e, e
    err(con, "AB1 contacts set 3 0812345678 Service", "NUMBER")
    err(con, "AB1 contacts set 3 114 Urgence", "NUMBER")
    err(con, "AB1 contacts set 6 0612345678 X", "SLOT")
    err(con, "AB1 contacts set x 0612345678 X", "SLOT")
    err(con, "AB1 contacts set 3 0612345678", "ARGS")
    err(con, "AB1 contacts set 3 0612345678 %s" % ("N" * 25), "NAME")
    lst = ok(con, "AB1 contacts list")["slots"]
    assert [s["number"] for s in lst] == ["+33612345601", "+33612345602", None, "+33145678901", None]
    assert app.cfg["contacts"] == [c for c in app.cfg["slots"] if c]  # the alert's list follows
    # persisted: a reboot reads the same
    con2, app2, _ = make()
    assert app2.cfg["slots"] == app.cfg["slots"]
    ok(con, "AB1 contacts clear 1")
    ok(con, "AB1 contacts clear 2")
    assert not app.vibrator.played
    r = ok(con, "AB1 contacts clear 4")
    assert r["configured"] is False and "NOT CONFIGURED" in r["warnings"][0]
    assert app.vibrator.played == [haptics.NOT_CONFIGURED]  # the distinct vibration
    err(con, "AB1 contacts clear 9", "SLOT")


def test_changes_edit_the_shared_cfg_in_place():
    con, app, clock = provisioned()
    held = app.cfg  # the alert manager holds this very dict
    ok(con, "AB1 contacts set 1 0612345601 A")
    ok(con, "AB1 wearer set Camille")
    ok(con, "AB1 lang en")
    ok(con, 'AB1 config put {"contacts": [{"name": "B", "number": "0752345678"}]}')
    ok(con, "AB1 factory-reset")
    assert app.cfg is held and con.cfg is held


def test_storage_failure_changes_nothing():
    con, app, clock = provisioned()
    ok(con, "AB1 contacts set 1 0612345601 A")
    before = json.dumps(settings.to_payload(app.cfg))
    settings._store = settings.RecordFile("no/such/dir/config.rec", settings.MAGIC)
    try:
        err(con, "AB1 contacts set 2 0612345602 B", "STORAGE")
        err(con, "AB1 factory-reset", "STORAGE")
    finally:
        settings._store = None
    # compared as objects: MicroPython's dict order may change when replace() rebuilds the dict
    assert json.loads(json.dumps(settings.to_payload(app.cfg))) == json.loads(before)
    assert len(app.cfg["contacts"]) == 1


def test_wearer_name_checks_and_warnings():
    con, app, clock = provisioned()
    r = ok(con, "AB1 wearer set Camille")
    assert r["in_sms"] == "Camille" and r["warnings"] == []
    r = ok(con, "AB1 wearer set François Łukasz")
    assert r["in_sms"] == "Francois Lukasz" and "replaced" in r["warnings"][0]
    r = ok(con, "AB1 wearer set فاطمة الزهراء بن علي")  # UCS2: 70 characters, the name is shortened
    assert r["warnings"] and r["in_sms"] != "فاطمة الزهراء بن علي", r
    err(con, "AB1 wearer set " + "A" * 21, "NAME")
    err(con, "AB1 wearer set", "ARGS")
    assert ok(con, "AB1 wearer clear")["wearer"] == ""
    assert ok(con, "AB1 wearer")["wearer"] == ""


def test_message_preview_is_exactly_the_alert_text():
    con, app, clock = provisioned()
    ok(con, "AB1 contacts set 1 0612345601 Sophie")
    ok(con, "AB1 contacts set 3 +447400900123 Jo")
    ok(con, "AB1 wearer set Camille")
    r = ok(con, "AB1 message preview")
    assert r["position"] == "none"
    want = compose("alert", "Camille", None, 64, "fr")
    assert [(m["slot"], m["to"], m["text"]) for m in r["messages"]] == [
        (1, "+33612345601", want), (3, "+447400900123", want)]
    enc, units, limit = segment_info(want)
    for m in r["messages"]:
        assert (m["encoding"], m["units"], m["limit"], m["segments"]) == (enc, units, limit, 1)
        assert m["pdu_octets"] > units * 7 // 8
    app.lastfix.fix = Fix()
    ok(con, "AB1 lang en")
    r = ok(con, "AB1 message preview test")
    assert r["messages"][0]["text"] == compose("test", "Camille", Fix().as_tuple(), 64, "en")
    assert r["messages"][0]["text"].startswith("TEST")
    err(con, "AB1 message preview bogus", "ARGS")
    ok(con, "AB1 factory-reset")
    r = ok(con, "AB1 message preview")
    assert r["messages"] == [] and "NOT CONFIGURED" in r["warnings"][-1]


def test_test_alert_maps_slots_to_the_alert_contacts():
    con, app, clock = provisioned()
    err(con, "AB1 test-alert all", "NOTCONF")
    ok(con, "AB1 contacts set 2 0612345602 B")
    ok(con, "AB1 contacts set 4 0612345604 D")
    ok(con, "AB1 contacts set 5 0612345605 E")
    r = ok(con, "AB1 test-alert 4,5")
    assert r["slots"] == [4, 5] and r["to"] == ["+33612345604", "+33612345605"]
    # the alert manager indexes cfg["contacts"] (empty slots skipped): slot 4 is index 1
    assert app.alert.calls[-1] == ("console", "test", [1, 2])
    assert [app.cfg["contacts"][i]["number"] for i in app.alert.calls[-1][2]] == r["to"]
    err(con, "AB1 test-alert 1", "SLOT")  # empty slot
    err(con, "AB1 test-alert 0", "SLOT")
    err(con, "AB1 test-alert", "ARGS")
    app.alert.state = "dispatching"
    err(con, "AB1 test-alert all", "BUSY")
    app.alert.state = "idle"
    assert ok(con, "AB1 test-alert all")["slots"] == [2, 4, 5]
    assert app.alert.calls[-1][2] == [0, 1, 2]
    h = ok(con, "AB1 hello")
    assert h["last_alert"]["kind"] == "test" and h["last_alert"]["id"] == 2


def test_gesture_set_applies_to_the_live_recogniser():
    con, app, clock = provisioned()
    # an alert hold next to the default arming gesture (a hold, then taps) would send an alert while she
    # holds to arm: refused, saying so; without the arming gesture it is accepted
    err(con, "AB1 gesture set alert presses 4 within 3000 hold 2500", "GESTURE")
    r = ok(con, "AB1 gesture set arm_evidence off")
    assert [g["action"] for g in r["gestures"]] == ["alert"] and app.logic.seqs == []
    r = ok(con, "AB1 gesture set alert presses 4 within 3000 hold 2500")
    assert r["gestures"] == [{"action": "alert", "presses": 4, "within_ms": 3000},
                             {"action": "alert", "hold_ms": 2500}]
    assert app.logic.multi == [r["gestures"][0]] and app.logic.holds == [r["gestures"][1]]
    err(con, "AB1 gesture set alert presses 1 within 3000", "GESTURE")  # one press must never alert
    err(con, "AB1 gesture set alert hold 500", "GESTURE")
    err(con, "AB1 gesture set alert", "ARGS")
    err(con, "AB1 gesture set unknown hold 3000", "GESTURE")
    err(con, "AB1 gesture set alert presses x within 3000", "ARGS")
    assert make()[1].cfg["gestures"] == r["gestures"]  # persisted


def test_log_tail():
    con, app, clock = provisioned()
    for i in range(80):
        app.log("e%d" % i)
    lines = ok(con, "AB1 log tail 3")["lines"]
    assert [x["event"] for x in lines] == ["e77", "e78", "e79"]
    assert len(ok(con, "AB1 log tail 1000")["lines"]) == 64
    err(con, "AB1 log tail x", "ARGS")
    err(con, "AB1 log", "ARGS")


def test_config_get_put_and_factory_reset():
    con, app, clock = provisioned()
    ok(con, "AB1 contacts set 1 0612345601 A")
    ok(con, "AB1 wearer set W")
    exp = ok(con, "AB1 config get")
    assert exp["format"] == "alertbutton-config" and "pin" not in exp
    assert exp["contacts"] == [{"slot": 1, "name": "A", "number": "+33612345601"}]
    r = ok(con, 'AB1 config put {"wearer": "V", "contacts": [{"slot": 5, "name": "Z", "number": "07 50 00 00 05"}]}')
    assert r["contacts"] == 1 and app.cfg["slots"][0] is None and app.cfg["slots"][4]["number"] == "+33750000005"
    err(con, 'AB1 config put {"contacts": [{"name": "Z", "number": "0800000000"}]}', "CONFIG")
    err(con, "AB1 config put {not json", "CONFIG")
    err(con, 'AB1 config put {"pin": null}', "CONFIG")
    assert app.cfg["wearer"] == "V"  # refused imports change nothing
    open("outbox.json", "w").write('[{"to": "+33612345601"}]')  # data files of any name go
    open("notes.bin", "wb").write(b"+33612345601")
    r = ok(con, "AB1 factory-reset")
    assert r["configured"] is False and r["pin_set"] is False and r["files_erased"] >= 2, r
    assert "outbox.json" not in os.listdir() and "notes.bin" not in os.listdir()
    assert app.cfg["contacts"] == [] and app.cfg["pin"] is None and app.cfg["wearer"] == ""
    assert app.vibrator.played[-1] == haptics.NOT_CONFIGURED
    assert "config.rec.bak" not in os.listdir()  # no way back to the erased contacts
    err(con, "AB1 contacts set 1 0612345601 A", "NOPIN")
    con2, app2, _ = make()
    assert not app2.cfg["configured"] and app2.cfg["pin"] is None


class Stream(io.IOBase):
    """A pollable byte stream for the console's run loop (a pty or UART stand-in)."""

    def __init__(self):
        self.inp = bytearray()
        self.out = bytearray()

    def read(self, n=-1):
        d = bytes(self.inp[:n])
        self.inp = self.inp[n:]
        return d

    def write(self, b):
        self.out.extend(b)
        return len(b)

    def ioctl(self, req, arg):
        if req == 3:  # MP_STREAM_POLL
            return (1 if (arg & 1) and self.inp else 0) | (arg & 4)
        return 0


async def _feed(stream, chunks):
    for c in chunks:
        stream.inp.extend(c)
        await asyncio.sleep_ms(5)
    await asyncio.sleep_ms(60)


async def _run_stream(con, stream, chunks):
    task = asyncio.create_task(con.run())
    await _feed(stream, chunks)
    task.cancel()
    return stream.out.decode().split("\r\n")


async def test_stream_loop_line_endings_chunks_and_long_lines():
    con, app, clock = fresh()
    s = Stream()
    con.stream = s
    out = await _run_stream(con, s, [b"AB1 he", b"llo\r", b"\nAB1 lang\rAB1 lang\n", b"x" * 3000 + b"\n",
                                     b"\n\n", b"AB1 help\r\n"])
    assert out[0].startswith("AB1 READY") and out[1] == "NOT CONFIGURED"
    assert out[2].startswith("OK {") and '"proto": 1' in out[2]
    assert out[3] == 'OK {"lang": "fr"}' and out[4] == 'OK {"lang": "fr"}'
    assert out[5].startswith("ERR TOOLONG")
    assert out[6].startswith("OK {") and "commands" in out[6]
    assert out[7:] == [""], out


async def test_ctrl_u_drops_a_request_cut_short():
    # a cable pulled mid-write leaves "AB1 contacts set 1 0612345601 So" on the button; the next
    # request (the CLI starts each with Ctrl-U) must be answered alone, the cut one never run
    con, app, clock = provisioned()
    s = Stream()
    con.stream = s
    out = await _run_stream(con, s, [b"AB1 contacts set 1 0612345601 So", b"\x15AB1 contacts list\n",
                                     b"x" * 3000, b"\x15AB1 lang\n"])
    assert out[1] == "NOT CONFIGURED" and out[2].startswith("OK {") and "+33612345601" not in out[2], out
    assert out[3] == 'OK {"lang": "fr"}' and out[4:] == [""], out
    assert app.cfg["slots"][0] is None


async def test_stream_loop_on_stdio_pair_one_byte_reads():
    # the board's USB REPL: (stdin, stdout), read one byte at a time
    con, app, clock = provisioned()
    ok(con, "AB1 contacts set 1 0612345601 A")
    rx, tx = Stream(), Stream()
    con.stream = (rx, tx)
    task = asyncio.create_task(con.run())
    await _feed(rx, [b"AB1 contacts list\r"])
    task.cancel()
    out = tx.out.decode().split("\r\n")
    assert out[0].startswith("AB1 READY") and out[1].startswith("OK {") and "+33612345601" in out[1], out


class _Power:
    def __init__(self):
        self.seen = 0

    def console_seen(self):
        self.seen += 1


async def test_every_chunk_read_tells_the_power_task_a_technician_is_there():
    # low power as shipped (issue 22): each read holds the board awake (PowerTask.console_seen)
    con, app, clock = fresh()
    app.power = _Power()
    s = Stream()
    con.stream = s
    await _run_stream(con, s, [b"AB1 hello\n", b"AB1 lang\n"])
    assert app.power.seen == 2


class EvStore:
    def list(self):
        return [{"rec": 3, "chunks": 2}]

    def recordings(self):
        return [3]

    def status(self, low):
        return {"recordings": 1}


class Recorder:
    store = EvStore()


def test_evidence_commands_are_behind_the_pin():
    con, app, clock = fresh()
    err(con, "AB1 evidence list", "NOPIN")  # even before a PIN is set: recordings are never open
    ok(con, "AB1 pin set 2468")
    err(con, "AB1 evidence list", "UNAVAILABLE")  # no microphone on this button
    app.recorder = Recorder()
    assert ok(con, "AB1 evidence list") == {"recordings": [{"rec": 3, "chunks": 2}]}
    err(con, "AB1 evidence chunks 9", "EVIDENCE")
    err(con, "AB1 evidence", "EVIDENCE")
    ok(con, "AB1 lock")
    err(con, "AB1 evidence list", "LOCKED")


def test_the_usb_repl_is_locked_and_maintenance_opens_it_for_a_while():
    """Issue 19 item 5: Ctrl-C does not reach a REPL while the firmware runs; `maintenance <PIN>`
    opens it for a limited time (never during an alert), then it is locked again."""
    from firmware.console import gate
    calls = []
    saved = gate._kbd_intr
    gate._kbd_intr = calls.append
    try:
        con, app, clock = provisioned()
        ok(con, "AB1 lock")
        assert gate.repl(False) and calls == [-1]
        err(con, "AB1 maintenance", "PIN")
        err(con, "AB1 maintenance 0000", "PIN")  # a wrong try, counted
        assert calls == [-1]
        err(con, "AB1 maintenance 2468 45", "ARGS")
        app.alert.state = "active"
        err(con, "AB1 maintenance 2468", "BUSY")
        app.alert.state = "idle"
        r = ok(con, "AB1 maintenance 2468 5")
        assert r["repl_open_s"] == 300 and "Ctrl-C" in r["how"] and calls == [-1, 3]
        clock.t += 4 * 60000
        con._maintenance_tick()
        assert calls == [-1, 3]  # still open
        clock.t += 60000
        con._maintenance_tick()
        assert calls == [-1, 3, -1]  # locked again
        assert [json.loads(x)["event"] for x in app.log.ring if "maintenance" in x] == [
            "maintenance_open", "maintenance_end"]
    finally:
        gate._kbd_intr = saved


def test_keys_device_and_association_behind_the_pin():
    """Issue 21: `keys device` gives the button's Ed25519 public key (made once, kept in device.key);
    `keys association set` takes exactly 64 hex characters, saves them, and the recorder follows."""
    from firmware.core.crypto import ed25519
    con, app, _ = fresh()
    err(con, "AB1 keys device", "NOPIN")  # nothing before a PIN, not even the public key
    ok(con, "AB1 pin set 2468")

    class Keys:
        pub = None

        def set_pub(self, p):
            self.pub = p

    class Rec:
        armed = False
        keys = Keys()

        def can_record(self):
            return self.keys.pub is not None

        def arm(self):
            self.armed = True

        def disarm(self):
            self.armed = False
    app.recorder = Rec()
    a = ok(con, "AB1 keys device")["device_pub"]
    with open("device.key", "rb") as f:
        seed = f.read()
    assert len(seed) == 32 and a == ed25519.public_key(seed).hex()
    assert ok(con, "AB1 keys device")["device_pub"] == a  # the same key every time
    assert ok(con, "AB1 keys association") == {"association_pub": None, "recording": False}
    pub = "8F" * 32
    for bad, words in (("ab" * 31, "64 hex characters"), ("zz" * 32, "hexadecimal"), ("+f" * 32, "hexadecimal"),
                       ("00" * 32, "all-zero"), ("ab" * 32 + " cd", "one key only"), ("", "usage")):
        e = err(con, ("AB1 keys association set " + bad).strip(), "KEY")
        assert words in e, (bad, e)
    assert app.cfg["association_pub"] is None and app.recorder.keys.pub is None
    r = ok(con, "AB1 keys association set " + pub)
    assert r == {"association_pub": pub.lower(), "recording": True}
    assert app.recorder.keys.pub == bytes([0x8F] * 32) and app.recorder.armed
    assert settings.load()["association_pub"] == pub.lower()  # saved
    ok(con, "AB1 lock")
    err(con, "AB1 keys device", "LOCKED")
    ok(con, "AB1 unlock 2468")
    # factory reset: the device key's file and the association key go; the recorder forgets both
    app.recorder.signer = object()
    ok(con, "AB1 factory-reset")
    assert "device.key" not in os.listdir() and app.cfg["association_pub"] is None
    assert app.recorder.signer is None and app.recorder.keys.pub is None and not app.recorder.armed
