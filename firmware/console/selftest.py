# Technician self-test of a board (issue 17): each part is checked and reported as
# {"part", "ok", "value", "note"}: pass or fail, the value seen, and what to do about it.
# Run by the console (`AB1 selftest [vibrate]`, docs/technician.md); it receives the App and reaches
# the hardware only through the App's driver objects. This module: the board's local parts; the
# modem and GNSS parts are firmware/console/selftest_radio.py.
#
# Safe beside the alert path:
#  - refused while an alert runs (refusal() says why; the console answers ERR BUSY);
#  - every wait is bounded; AT commands go one at a time through the shared channel with short
#    timeouts, and once an alert starts no further one is sent (those parts are "not checked"): the
#    alert's SMS never queue behind the self-test;
#  - it reads, it does not reconfigure: the accelerometer's sample comes from the fall monitor's last
#    FIFO batch, the GNSS is switched on through its power policy (which the GNSS task applies);
#  - nothing personal in the answer (the console serves it without the PIN): no numbers, no
#    IMEI/IMSI, no coordinates ("fix: yes, 12 m").
# The vibration motor only runs when asked (`vibrate`): the button must stay discreet.
import asyncio
import gc
import math
import os
import time
from time import ticks_ms, ticks_diff

from firmware.core import clock
from firmware.wearer import haptics
from firmware.alert.manager import IDLE

LIS3DH_ID = 0x33
G_MIN_MG = 800  # |a| at rest must be about 1 g
G_MAX_MG = 1200
BATTERY_MIN_MV = 3300  # a single LiPo cell: below is empty or a wrong reading, above is no LiPo
BATTERY_MAX_MV = 4300
FLASH_MIN = 64 * 1024  # the outbox, the log and the config records need room (evidence.Store's reserve)
HEAP_MIN = 64 * 1024
MIC_BLOCKS = 6  # ~0.38 s of sound at 8 kHz
MIC_FLAT = 4  # lowest to highest sample below this: flat (a working mic's noise floor spans more)
ACCEL_WAIT_MS = 1500  # the fall monitor reads the FIFO every 0.4 s
MIC_WAIT_MS = 2000  # start-up time (0.51 s) + the probed blocks + margin
POLL_MS = 100

ALERT_STARTED = "not checked: an alert started during the self-test (its SMS go first); run it again after it"


def refusal(app):
    """Why the self-test may not start now, or None."""
    a = getattr(app, "alert", None)
    state = getattr(a, "state", IDLE)
    if state != IDLE:
        return "an alert is in progress (state %s): run the self-test once it has ended" % state
    return None


def part(name, ok, value, note=""):
    return {"part": name, "ok": bool(ok), "value": value, "note": note}


def _discard(pcm):
    pass  # the microphone's sink while only the self-test listens


async def until(cond, ms):
    """Poll cond() every POLL_MS until it is true (True) or ms have passed (False)."""
    t0 = ticks_ms()
    while not cond():
        if ticks_diff(ticks_ms(), t0) >= ms:
            return False
        await asyncio.sleep_ms(POLL_MS)
    return True


async def _checked(name, fn):
    try:
        return await fn()
    except Exception as e:  # one broken check must not hide the others' results
        return part(name, False, "error", "the check itself failed: %r" % (e,))


class SelfTest:
    def __init__(self, app):
        self.app = app

    def alert_started(self):
        return refusal(self.app) is not None

    async def run(self, vibrate=False):
        """{"ok", "parts": [...]}; ok is True only if every part passed."""
        checks = [("button", self.button), ("battery", self.battery), ("flash", self.flash),
                  ("heap", self.heap), ("clock", self.clock), ("accelerometer", self.accelerometer),
                  ("microphone", self.microphone), ("evidence_keys", self.evidence_keys)]
        log = getattr(self.app, "log", None)
        if log is not None:
            log("selftest_start", vibrate=vibrate)
        parts = []
        for name, fn in checks:
            parts.append(await _checked(name, fn))
        from firmware.console.selftest_radio import RadioTest  # here: it imports this module's helpers
        radio = RadioTest(self.app, self.alert_started)
        parts.extend(await radio.modem())
        parts.append(await _checked("gnss", radio.gnss))
        if vibrate:
            parts.append(await _checked("vibration", self.vibration))
        ok = all(p["ok"] for p in parts)
        if log is not None:
            log("selftest", ok=ok, failed=[p["part"] for p in parts if not p["ok"]])
        return {"ok": ok, "parts": parts}

    # --- local parts -------------------------------------------------------------------------------
    async def button(self):
        edges = getattr(self.app, "edges", None)
        if edges is None:
            return part("button", False, "none", "this board gave no button")
        if edges.is_pressed():
            return part("button", False, "pressed (level %d)" % edges.pin.value(),
                        "held, stuck or shorted to ground: release it and run again; if it stays "
                        "pressed, check the switch and its wiring")
        return part("button", True, "released (level %d)" % edges.pin.value())

    async def battery(self):
        board = getattr(self.app, "board", None)
        if not hasattr(board, "battery_mv"):
            return part("battery", False, "not measured", "this board gives no battery voltage")
        mv = board.battery_mv()
        value = "%d.%02d V" % (mv // 1000, mv % 1000 // 10)
        if mv < BATTERY_MIN_MV:
            return part("battery", False, value, "below 3.3 V: charge it; if it stays low, check the cell "
                        "and the divider on the ADC pin")
        if mv > BATTERY_MAX_MV:
            return part("battery", False, value, "above 4.3 V: no single LiPo reads this; check the "
                        "divider on the ADC pin and the charger")
        return part("battery", True, value)

    async def flash(self):
        rec = getattr(self.app, "recorder", None)
        store = getattr(rec, "store", None)
        if store is not None:
            st = store.status()  # its free() knows the simulated board's flash size too
            free, low = st["free"], st["low"]
        else:
            st = os.statvfs(".")
            free, low = st[0] * st[3], False
        value = "%d KB free" % (free // 1024)
        if free < FLASH_MIN:
            return part("flash", False, value, "less than %d KB free: the outbox and the log need room; "
                        "export and delete recordings" % (FLASH_MIN // 1024))
        if low:
            return part("flash", False, value, "less than one sound recording of room left: export and "
                        "delete recordings (alertbutton evidence)")
        return part("flash", True, value)

    async def heap(self):
        gc.collect()
        free = gc.mem_free()
        value = "%d KB free" % (free // 1024)
        if free < HEAP_MIN:
            return part("heap", False, value, "less than %d KB of RAM left: a leak or a board without "
                        "PSRAM; report it with `alertbutton logs`" % (HEAP_MIN // 1024))
        return part("heap", True, value)

    async def clock(self):
        t0 = ticks_ms()
        await asyncio.sleep_ms(50)
        dt = ticks_diff(ticks_ms(), t0)
        if dt < 45:
            return part("clock", False, "ticks stopped (%d ms in 50 ms)" % dt, "the system timer does not "
                        "run: firmware or chip fault")
        utc = clock.utc_now()
        src, age = clock.status()
        if utc is None:
            why = "not set" if src is None else "drifting: set from %s %d h ago" % (src, age // 3600)
            return part("clock", True, "ticks running, time %s" % why, "until a GNSS fix or the network's "
                        "time sets it, a remembered position goes with 'age unknown' and recordings "
                        "carry no time")
        t = time.gmtime(utc)
        return part("clock", True, "ticks running, %04d-%02d-%02d %02d:%02d UTC (from %s, %d min ago)"
                    % (t[:5] + (src, age // 60)))

    async def accelerometer(self):
        app = self.app
        accel = getattr(app, "accel", None)
        if accel is None:
            err = getattr(app, "accel_error", None)
            if err:
                return part("accelerometer", False, "no LIS3DH", "not found at boot (%s): check its I2C "
                            "wiring (SDA, SCL), its supply and its address pin; then restart" % err)
            if not app.cfg.get("fall_detection", True):
                return part("accelerometer", True, "not in use", "fall detection is off in the settings: "
                            "not checked")
            return part("accelerometer", False, "none", "this board gave no accelerometer")
        try:
            who = accel.who_am_i()
        except OSError as e:
            return part("accelerometer", False, "no answer on I2C", "%r: check its wiring and supply" % (e,))
        if who != LIS3DH_ID:
            return part("accelerometer", False, "WHO_AM_I 0x%02x" % who, "expected 0x%02x: not a LIS3DH, or "
                        "a bus fault" % LIS3DH_ID)
        fm = getattr(app, "fall", None)
        if fm is not None:
            n0 = fm.samples
            if not await until(lambda: fm.samples != n0, ACCEL_WAIT_MS):
                return part("accelerometer", False, "WHO_AM_I 0x33, no samples",
                            "its FIFO gave nothing in %d s: check INT1/ODR settings or the chip" %
                            (ACCEL_WAIT_MS // 1000))
            x, y, z = fm.latest()
        else:
            x, y, z = accel.read_mg()
        mg = int(math.sqrt(x * x + y * y + z * z))
        value = "WHO_AM_I 0x33, %d.%02d g" % (mg // 1000, mg % 1000 // 10)
        if not G_MIN_MG <= mg <= G_MAX_MG:
            return part("accelerometer", False, value, "expected about 1 g with the button still: keep it "
                        "still on the table and run again; if it persists, the chip is faulty")
        return part("accelerometer", True, value)

    async def microphone(self):
        app = self.app
        mic = getattr(app, "mic", None)
        if mic is None:
            return part("microphone", False, "none", "the I2S microphone could not be set up (or this board "
                        "has none): check the INMP441's SCK, WS, SD and supply")
        rec = getattr(app, "recorder", None)
        started = not mic.running  # the recorder keeps it streaming; else it is ours for a moment
        if started:
            mic.start(_discard)
        got = False
        try:
            mic.probe(MIC_BLOCKS)
            got = await until(lambda: not mic.probing(), MIC_WAIT_MS)
            lo, hi = mic.probed()
        finally:
            if not got:
                mic.probe(0)
            if started and not getattr(rec, "armed", False):  # the recorder may have taken it meanwhile
                mic.stop()
        if not got:
            return part("microphone", False, "no sound data", "no samples from the I2S in %d s: check SCK, "
                        "WS and SD wiring" % (MIC_WAIT_MS // 1000))
        if hi - lo < MIC_FLAT:
            if lo == 0 and hi == 0:
                return part("microphone", False, "flat at 0", "all zero: no data on SD (CHIPEN, L/R or SD "
                            "wiring, or a dead microphone)")
            return part("microphone", False, "flat at %d" % lo, "a constant signal: SD stuck, or a dead "
                        "microphone")
        return part("microphone", True, "level %d..%d" % (lo, hi))

    async def evidence_keys(self):
        """Recordings need the association's public key (issue 21): without it nothing is recorded."""
        rec = getattr(self.app, "recorder", None)
        if rec is None:
            return part("evidence_keys", False, "no recorder", "no recording without a working microphone "
                        "(see the microphone part)")
        if not rec.can_record():
            return part("evidence_keys", False, "no association key", "nothing is recorded on an alert (the "
                        "SMS still go): set the association's public key with `alertbutton keys "
                        "set-association HEX|FILE`")
        if rec.signer is None:
            return part("evidence_keys", False, "no device key", "recordings are sealed but their heads are not "
                        "signed: restart the button (it makes its device key at boot), then record its public "
                        "key with `alertbutton keys device`")
        return part("evidence_keys", True, "sealed and signed")

    async def vibration(self):
        vib = getattr(self.app, "vibrator", None)
        if vib is None:
            return part("vibration", False, "none", "this board gave no vibration motor")
        vib.play(haptics.SELFTEST)
        return part("vibration", True, "one %d.%d s pulse" % (haptics.SELFTEST[0] // 1000,
                                                            haptics.SELFTEST[0] % 1000 // 100),
                    "felt it? If not: the motor, its transistor or its GPIO")


async def run(app, vibrate=False):
    return await SelfTest(app).run(vibrate)
