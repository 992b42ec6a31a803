# The technician self-test (firmware/console/selftest.py, selftest_radio.py) inside the MicroPython VM: its verdict and message per
# part, with the real modem driver's queries (drivers/modem/base.py) over a scripted AT channel, the real
# INMP441 driver's level probe over a fake I2S, and fakes for the rest of the App. The whole firmware
# on the simulated board is tests/host/test_selftest_e2e.py.
import asyncio
import json

from firmware.core.errors import AtError, AtTimeout
from drivers.modem.at_channel import Response
from drivers.inmp441 import Inmp441
from drivers.modem.base import Modem
from firmware.wearer import haptics
from firmware.console import selftest, selftest_radio
from firmware.console.commands import Console, Deferred
from firmware.core.fix import Fix

selftest_radio.GNSS_DATA_MS = 300  # the waits, shortened (read at call time)
selftest_radio.GNSS_ON_MS = 500
selftest.MIC_WAIT_MS = 500
selftest.ACCEL_WAIT_MS = 300

HEALTHY_AT = {
    "AT": ([], b"OK"),
    "AT+CPIN?": ([b"+CPIN: READY"], b"OK"),
    "AT+CSQ": ([b"+CSQ: 20,99"], b"OK"),
    "AT+CEREG?": ([b"+CEREG: 0,1"], b"OK"),
    "AT+COPS?": ([b'+COPS: 0,0,"Orange F",7'], b"OK"),
}
PARIS = Fix(48.85661, 2.35222, 12.0, sats=9)


class FakeAt:
    """AT channel answering from a table: cmd -> (info lines, final) or "timeout"."""

    def __init__(self, answers, on_cmd=None):
        self.answers = dict(answers)
        self.cmds = []
        self.on_cmd = on_cmd

    async def command(self, cmd, timeout_ms=5000, expect=None, **kw):
        self.cmds.append(cmd)
        if self.on_cmd is not None:
            self.on_cmd(cmd)
        await asyncio.sleep_ms(1)
        a = self.answers.get(cmd, "timeout")
        if a == "timeout":
            raise AtTimeout(cmd)
        lines, final = a
        if final != b"OK":
            raise AtError(final)
        return Response(final, lines)


class NoUart:
    pass


def modem(answers=HEALTHY_AT, on_cmd=None):
    m = Modem(NoUart())
    m.at = FakeAt(answers, on_cmd)
    return m


class Pin:
    def __init__(self, v):
        self.v = v

    def value(self, v=None):
        if v is not None:
            self.v = v
        return self.v


class Edges:
    def __init__(self, level=1):
        self.pin = Pin(level)

    def is_pressed(self):
        return self.pin.value() == 0


class Board:
    name = "test"

    def __init__(self, mv=3900):
        self.mv = mv

    def battery_mv(self):
        return self.mv


class Accel:
    def __init__(self, who=0x33, mg=(0, 0, 1000), dead=False):
        self.who, self.mg, self.dead = who, mg, dead

    def who_am_i(self):
        if self.dead:
            raise OSError(19)
        return self.who

    def read_mg(self):
        return self.mg


class Fall:
    """The fall monitor's view: a sample counter that moves while the FIFO flows, and the last mean."""

    def __init__(self, mg=(20, -30, 990), flowing=True):
        self.mg, self.flowing, self._n = mg, flowing, 1

    @property
    def samples(self):
        if self.flowing:
            self._n += 25
        return self._n

    def latest(self):
        return self.mg


class I2S:
    """machine.I2S in non-blocking mode: irq(cb), readinto(buf); feed() plays the DMA."""

    def __init__(self):
        self.cb = None
        self.buf = None

    def irq(self, cb):
        self.cb = cb

    def readinto(self, buf):
        self.buf = buf


async def feed(mic, i2s, sample_at):
    """Deliver a block every 5 ms while the mic runs (until cancelled): sample_at(i) is the 16-bit
    value of sample i."""
    k = 0
    while True:
        if not mic.running or i2s.cb is None or i2s.buf is None:
            await asyncio.sleep_ms(5)
            continue
        b = i2s.buf
        for i in range(len(b) // 4):
            v = (sample_at(k) << 16) & 0xFFFFFFFF  # left-justified in the 32-bit slot
            b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3] = v & 255, (v >> 8) & 255, (v >> 16) & 255, v >> 24
            k += 1
        i2s.cb(i2s)
        await asyncio.sleep_ms(5)


class Gnss:
    name = "modem"

    def __init__(self, on=True, answered=True, fix=PARIS):
        self.gnss_on, self.answered, self.fix = on, answered, fix
        self.reads = 0

    async def gnss_read(self):
        self.reads += 1
        return self.answered, self.fix


class Alert:
    state = "idle"


class Vib:
    def __init__(self):
        self.played = []

    def play(self, p):
        self.played.append(p)


class LastFix:
    def __init__(self, fix=None):
        self.fix = fix

    def best(self):
        return self.fix


class Recorder:
    """What the self-test asks of the evidence recorder (issue 21)."""

    def __init__(self, assoc=True, signer=True):
        self.armed = False
        self.assoc = assoc
        self.signer = (lambda m: bytes(64)) if signer else None

    def can_record(self):
        return self.assoc


class App:
    def __init__(self, at=HEALTHY_AT, on_cmd=None):
        self.cfg = {"fall_detection": True, "pin": None}
        self.events = []
        self.alert = Alert()
        self.edges = Edges()
        self.board = Board()
        self.accel, self.accel_error, self.fall = Accel(), None, Fall()
        self.i2s = I2S()
        self.mic = Inmp441(self.i2s, shift=16, block=64)
        self.recorder = Recorder()
        self.modem = modem(at, on_cmd)
        self.gnss = Gnss()
        self.gnss_power_failures = 0
        self.gnss_refuses = False  # the receiver refuses to switch on
        self.holds = []
        self.vibrator = Vib()
        self.lastfix = LastFix()

    def log(self, event, **kw):
        self.events.append((event, kw))

    def gnss_hold(self, ms):
        # what the GNSS task does with the policy's answer
        self.holds.append(ms)
        if ms and not self.gnss.gnss_on:
            if self.gnss_refuses:
                self.gnss_power_failures += 1
            else:
                self.gnss.gnss_on = True


def noisy(k):
    return ((k * 37) % 200) - 100


async def run(app, vibrate=False, sample_at=noisy):
    t = asyncio.create_task(feed(app.mic, app.i2s, sample_at))
    try:
        return await selftest.run(app, vibrate)
    finally:
        t.cancel()


def parts(r):
    return dict((p["part"], p) for p in r["parts"])


async def test_healthy_board_passes_every_part_and_reveals_nothing_personal():
    app = App()
    r = await run(app)
    p = parts(r)
    assert r["ok"], [x for x in r["parts"] if not x["ok"]]
    assert [x["part"] for x in r["parts"]] == ["button", "battery", "flash", "heap", "clock", "accelerometer", "microphone",
                       "evidence_keys", "modem", "sim", "signal", "network", "operator", "gnss"]
    for x in r["parts"]:
        assert sorted(x) == ["note", "ok", "part", "value"], x
    assert p["button"]["value"] == "released (level 1)"
    assert p["battery"]["value"] == "3.90 V"
    assert p["accelerometer"]["value"] == "WHO_AM_I 0x33, 0.99 g"
    assert p["microphone"]["value"] == "level -100..99"
    assert p["signal"]["value"] == "CSQ 20 (-73 dBm)"
    assert p["network"]["value"] == "registered (home)" and p["operator"]["value"] == "Orange F"
    assert p["gnss"]["value"] == "fix: yes, 12 m" and p["gnss"]["note"] == "9 satellites"
    text = json.dumps(r)
    assert "48.8" not in text and "2.35" not in text  # no position, only its accuracy
    assert app.vibrator.played == []  # discreet: no vibration unless asked
    assert app.events[-1] == ("selftest", {"ok": True, "failed": []})
    assert not app.mic.running  # the self-test started the microphone and stopped it again
    assert app.holds[-1] == 0  # the GNSS hold is released


async def test_vibration_only_on_request():
    app = App()
    r = await run(app, vibrate=True)
    assert parts(r)["vibration"]["ok"] and app.vibrator.played == [haptics.SELFTEST]


async def test_button_held_is_a_failure():
    app = App()
    app.edges.pin.v = 0
    r = await run(app)
    b = parts(r)["button"]
    assert not r["ok"] and not b["ok"] and b["value"] == "pressed (level 0)" and "stuck" in b["note"]


async def test_battery_out_of_range():
    for mv, ok, word in ((3299, False, "below 3.3 V"), (3300, True, ""), (4300, True, ""), (4301, False, "above 4.3 V")):
        app = App()
        app.board.mv = mv
        b = parts(await run(app))["battery"]
        assert b["ok"] == ok and word in b["note"], (mv, b)


async def test_accelerometer_faults():
    app = App()
    app.accel, app.accel_error, app.fall = None, "no LIS3DH at 0x18 (WHO_AM_I 0x32)", None
    a = parts(await run(app))["accelerometer"]
    assert not a["ok"] and a["value"] == "no LIS3DH" and "WHO_AM_I 0x32" in a["note"] and "I2C" in a["note"]
    app = App()
    app.accel.dead = True
    a = parts(await run(app))["accelerometer"]
    assert not a["ok"] and a["value"] == "no answer on I2C"
    app = App()
    app.accel.who = 0x32
    a = parts(await run(app))["accelerometer"]
    assert not a["ok"] and a["value"] == "WHO_AM_I 0x32" and "expected 0x33" in a["note"]
    app = App()
    app.fall.flowing = False
    a = parts(await run(app))["accelerometer"]
    assert not a["ok"] and "no samples" in a["value"]
    for mg, ok in (((0, 0, 0), False), ((0, 0, 799), False), ((0, 0, 800), True), ((700, 0, 700), True),
                   ((0, -1200, 0), True), ((0, 0, 1201), False), ((2000, 0, 0), False)):
        app = App()
        app.fall.mg = mg
        a = parts(await run(app))["accelerometer"]
        assert a["ok"] == ok, (mg, a)
    app = App()
    app.fall = None  # no fall monitor: the sample is read from the chip
    app.accel.mg = (0, 0, 1500)
    a = parts(await run(app))["accelerometer"]
    assert not a["ok"] and a["value"] == "WHO_AM_I 0x33, 1.50 g"
    app = App()
    app.accel = app.fall = None
    app.cfg["fall_detection"] = False
    a = parts(await run(app))["accelerometer"]
    assert a["ok"] and a["value"] == "not in use"


async def test_microphone_flat_silent_or_missing():
    app = App()
    m = parts(await run(app, sample_at=lambda k: 0))["microphone"]
    assert not m["ok"] and m["value"] == "flat at 0" and "SD" in m["note"]
    app = App()
    m = parts(await run(app, sample_at=lambda k: -1 if k % 2 else -3))["microphone"]  # 2 LSB of noise
    assert not m["ok"] and m["value"] == "flat at -3"
    app = App()
    m = parts(await run(app, sample_at=lambda k: -1 if k % 2 else -5))["microphone"]
    assert m["ok"] and m["value"] == "level -5..-1"
    app = App()
    app.i2s.cb = None
    app.mic.start = lambda sink: setattr(app.mic, "running", True)  # an I2S that never delivers
    m = parts(await selftest.run(app))["microphone"]
    assert not m["ok"] and m["value"] == "no sound data"
    app = App()
    app.mic = None
    m = parts(await selftest.run(app))["microphone"]
    assert not m["ok"] and m["value"] == "none"


async def test_no_association_key_is_a_failure_that_says_what_to_do():
    """Issue 21: without the association's key nothing is recorded: the self-test must say so."""
    app = App()
    app.recorder = Recorder(assoc=False)
    r = await run(app)
    e = parts(r)["evidence_keys"]
    assert not r["ok"] and not e["ok"] and e["value"] == "no association key"
    assert "alertbutton keys set-association" in e["note"] and "SMS still go" in e["note"]
    app = App()
    app.recorder = Recorder(signer=False)
    e = parts(await run(app))["evidence_keys"]
    assert not e["ok"] and e["value"] == "no device key" and "alertbutton keys device" in e["note"]
    app = App()
    app.recorder = None  # no microphone: the microphone part says why
    e = parts(await run(app))["evidence_keys"]
    assert not e["ok"] and "microphone" in e["note"]


async def test_microphone_streaming_for_the_recorder_stays_on():
    app = App()

    app.recorder = Recorder()
    app.recorder.armed = True
    ring = []
    sink = ring.append
    app.mic.start(sink)  # the recorder's pre-alert ring
    r = await run(app)
    assert parts(r)["microphone"]["ok"]
    assert app.mic.running and app.mic.sink is sink and ring  # still streaming to the ring


async def test_no_sim():
    at = dict(HEALTHY_AT)
    at["AT+CPIN?"] = ([], b"+CME ERROR: SIM not inserted")
    at["AT+CEREG?"] = ([b"+CEREG: 0,0"], b"OK")
    at["AT+CREG?"] = ([b"+CREG: 0,0"], b"OK")
    at["AT+COPS?"] = ([b"+COPS: 0"], b"OK")
    r = await run(App(at))
    p = parts(r)
    assert not r["ok"]
    assert p["sim"]["value"] == "SIM not inserted" and "insert" in p["sim"]["note"]
    assert p["network"]["value"] == "not registered, not searching" and "(no usable SIM)" in p["network"]["note"]
    assert not p["operator"]["ok"] and p["signal"]["ok"]  # the radio works without a SIM


async def test_locked_sim_no_signal_roaming_denied():
    at = dict(HEALTHY_AT)
    at["AT+CPIN?"] = ([b"+CPIN: SIM PIN"], b"OK")
    at["AT+CSQ"] = ([b"+CSQ: 99,99"], b"OK")
    p = parts(await run(App(at)))
    assert p["sim"]["value"] == "SIM PIN" and "PIN" in p["sim"]["note"] and not p["sim"]["ok"]
    assert not p["signal"]["ok"] and p["signal"]["value"] == "CSQ 99 (none)" and "antenna" in p["signal"]["note"]
    at = dict(HEALTHY_AT)
    at["AT+CEREG?"] = ([b"+CEREG: 0,5"], b"OK")
    at["AT+CSQ"] = ([b"+CSQ: 6,99"], b"OK")
    p = parts(await run(App(at)))
    assert p["network"]["ok"] and p["network"]["value"] == "registered (roaming)"
    assert p["signal"]["ok"] and "weak" in p["signal"]["note"]
    at["AT+CEREG?"] = ([b"+CEREG: 0,3"], b"OK")
    at["AT+CREG?"] = ([b"+CREG: 0,3"], b"OK")
    p = parts(await run(App(at)))
    assert not p["network"]["ok"] and p["network"]["value"] == "registration denied"


async def test_silent_modem_is_asked_once():
    app = App({})
    r = await run(app)
    p = parts(r)
    assert p["modem"]["value"] == "no answer"
    for n in ("sim", "signal", "network", "operator"):
        assert p[n]["value"] == "not checked" and "did not answer" in p[n]["note"], p[n]
    assert app.modem.at.cmds.count("AT") == 1 and "AT+CPIN?" not in app.modem.at.cmds


class Kick:
    def __init__(self, on_set):
        self.on_set = on_set

    def set(self):
        self.on_set()


class ModemPolicy:
    def __init__(self, state):
        self.state = state
        self.uses = 0

    def used(self, now):
        self.uses += 1


class PowerTask:
    """firmware/power/task.PowerTask as the self-test sees it: its modem policy and driver kick."""

    def __init__(self, state, wakes=True):
        self.low_power = True
        self.modem_policy = ModemPolicy(state)
        mp = self.modem_policy

        class Driver:
            kick = Kick(lambda: wakes and mp.uses and setattr(mp, "state", "idle"))
        self.driver = Driver()


async def test_low_power_modem_is_woken_like_a_press_or_reported_off():
    app = App()
    app.power = PowerTask("sleep")
    r = await run(app)
    assert parts(r)["operator"]["ok"] and app.power.modem_policy.uses == 1 and app.power.modem_policy.state == "idle"
    app = App()
    app.power = PowerTask("off")
    r = await run(app)
    for n in ("modem", "sim", "signal", "network", "operator"):
        assert parts(r)[n]["value"] == "not checked" and "low-power" in parts(r)[n]["note"], parts(r)[n]
    assert app.modem.at.cmds == []  # a modem powered off is not asked
    app = App()
    app.power = PowerTask("sleep")
    app.power.low_power = False  # accounting only: the modem is never put to sleep
    await run(app)
    assert app.power.modem_policy.uses == 0


async def test_modem_in_data_mode_is_busy_not_broken():
    from firmware.core.errors import AtReleased
    app = App()

    async def released(cmd, **kw):
        raise AtReleased(cmd)
    app.modem.at.command = released
    p = parts(await run(app))
    assert p["modem"]["value"] == "busy" and "data mode" in p["modem"]["note"]
    assert p["sim"]["value"] == "not checked" and "data mode" in p["sim"]["note"]


async def test_an_alert_starting_mid_test_gets_the_modem_at_once():
    app = App()

    def on_cmd(cmd):
        if cmd == "AT+CPIN?":
            app.alert.state = "triggered"  # the wearer pressed while the SIM was being asked
    app.modem.at.on_cmd = on_cmd
    r = await run(app)
    p = parts(r)
    assert app.modem.at.cmds == ["AT", "AT+CPIN?"]  # not one AT command after the trigger
    for n in ("signal", "network", "operator", "gnss"):
        assert p[n]["value"] == "not checked" and "alert started" in p[n]["note"], p[n]
    assert app.gnss.reads == 0 and not r["ok"]


async def test_gnss_data_without_fix_passes_with_a_note():
    app = App()
    app.gnss.fix = None

    class Old:
        def age_s(self):
            return 600
    app.lastfix.fix = Old()
    g = parts(await run(app))["gnss"]
    assert g["ok"] and g["value"] == "no fix yet" and "open sky" in g["note"] and "last fix 10 min ago" in g["note"]


async def test_gnss_off_is_switched_on_through_its_policy_then_released():
    app = App()
    app.gnss.gnss_on = False
    g = parts(await run(app))["gnss"]
    assert g["ok"] and app.holds[0] > 0 and app.holds[-1] == 0


async def test_gnss_faults():
    app = App()
    app.gnss.answered, app.gnss.fix = False, None
    g = parts(await run(app))["gnss"]
    assert not g["ok"] and g["value"] == "no data" and "nothing from the GNSS" in g["note"]
    assert app.gnss.reads >= 2  # asked again within the window before giving up
    app = App()
    app.gnss.gnss_on = False
    app.gnss_refuses = True
    g = parts(await run(app))["gnss"]
    assert not g["ok"] and "refused" in g["note"] and app.gnss.reads == 0
    app = App()
    app.gnss.gnss_on = False
    app.gnss_hold = lambda ms: None  # nobody switches it on
    g = parts(await run(app))["gnss"]
    assert not g["ok"] and "did not switch on" in g["note"]


async def test_a_failing_check_does_not_hide_the_others():
    app = App()
    app.board.battery_mv = None  # calling it raises TypeError
    r = await run(app)
    p = parts(r)
    assert not p["battery"]["ok"] and p["battery"]["value"] == "error" and "TypeError" in p["battery"]["note"]
    assert p["gnss"]["ok"] and p["operator"]["ok"]


# --- the console command ---------------------------------------------------------------------------

async def test_console_selftest_is_open_deferred_and_busy_during_an_alert():
    app = App()
    app.cfg.update({"pin": "set", "configured": True, "contacts": []})
    con = Console(app, None, pin_path="pinlock.test")
    d = con.handle(b"AB1 selftest")  # a PIN is set and the console is locked: still allowed
    assert isinstance(d, Deferred)
    d.coro.close()
    t = asyncio.create_task(feed(app.mic, app.i2s, noisy))
    ans = await con.answer(b"AB1 selftest vibrate")
    t.cancel()
    assert ans.startswith("OK "), ans
    r = json.loads(ans[3:])
    assert r["ok"] and parts(r)["vibration"]["ok"] and app.vibrator.played == [haptics.SELFTEST]
    assert (await con.answer(b"AB1 selftest now")).startswith("ERR ARGS usage: selftest [vibrate]")
    app.alert.state = "dispatching"
    n = len(app.modem.at.cmds)
    ans = await con.answer(b"AB1 selftest")
    assert ans.startswith("ERR BUSY an alert is in progress (state dispatching)"), ans
    assert len(app.modem.at.cmds) == n  # nothing was asked of the modem
    assert "selftest [vibrate]" in json.loads(con.handle(b"AB1 help")[3:])["commands"]
