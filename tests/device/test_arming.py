# The pre-alert ring armed by a gesture ("he is coming", issue 21 item 5): the hold-then-taps gesture next
# to the alert gesture (never taking its taps, never sending an alert), the map checks that refuse a
# gesture that would, firmware/evidence/arming.py (arm, extend, expire across the ticks wrap, refusals),
# the setting, the power task keeping the ring on while armed, and an alert while armed.
# Times start at ticks_ms(): on the 32-bit VM's [wrap] run they cross the ticks wrap.
import asyncio
from time import ticks_add, ticks_diff, ticks_ms

from firmware.evidence.arming import Arming, ARM_MIN_BATTERY
from firmware.settings import config as settings
from firmware.wearer import haptics
from firmware.wearer.gestures import ARM, ARM_GESTURE, ButtonLogic, validate
from test_gestures import Rng, presses

MAP = settings.DEFAULTS["gestures"]
ALERT5 = [(2800 + 450 * i, 150) for i in range(5)]  # the alert's 5 taps, after a hold's release
ARM_SPEC = [(0, 2500), (2800, 150), (3250, 150)]  # hold 2.5 s, let go, 2 taps


def drive(spec, end_ms, gestures=MAP, seed=1, step=5):
    """(action, ms after the start) fired by the recogniser for `spec` [(press ms, duration ms)],
    driven at ticks from now on, polled every `step` ms as the button task would be woken."""
    base = ticks_ms()
    edges = sorted(presses(spec, Rng(seed)), key=lambda e: e[0])
    fired = []
    logic = ButtonLogic(gestures, on_gesture=lambda a, t: fired.append((a, ticks_diff(t, base))))
    i = 0
    for t in range(0, end_ms, step):
        while i < len(edges) and edges[i][0] <= t:
            logic.edge(ticks_add(base, edges[i][0]), edges[i][1])
            i += 1
        logic.poll(ticks_add(base, t))
    return fired


def acts(fired):
    return [a for a, _ in fired]


# --- the gesture -----------------------------------------------------------------------------------
def test_the_default_map_has_the_arming_gesture_and_is_valid():
    assert ARM_GESTURE in MAP and validate(MAP) is MAP
    assert settings.check_gestures([dict(g) for g in MAP])


def test_hold_let_go_two_taps_arms_once_decided_when_quiet():
    for seed in range(20):
        f = drive(ARM_SPEC, 6000, seed=seed)
        assert acts(f) == [ARM], (seed, f)
        assert 3250 + 700 <= f[0][1] <= 3250 + 700 + 60, f  # quiet gap_ms after the last tap's start


def test_near_misses_do_not_arm():
    for spec in ([(0, 1200), (1500, 150), (1950, 150)],  # hold too short
                 [(0, 2500), (2800, 150)],  # one tap
                 [(0, 2500), (2800, 150), (3250, 150), (3700, 150)],  # three taps
                 [(0, 2500), (3300, 150), (3750, 150)],  # first tap 800 ms after the release
                 [(0, 2500), (2800, 150), (3250, 700)],  # a long press is no tap
                 [(0, 9000)]):  # held (sitting on it)
        assert drive(spec, 12000) == [], spec


def test_the_alert_gesture_is_untouched_by_the_arming_gesture():
    # alone; after a hold (the hold looks like the start of an arming); hammered (20 taps)
    assert acts(drive([(450 * i, 150) for i in range(5)], 5000)) == ["alert"]
    assert acts(drive([(0, 2500)] + ALERT5, 8000)) == ["alert"]
    assert acts(drive([(0, 2500)] + [(2800 + 450 * i, 150) for i in range(20)], 14000)) == ["alert"] * 4


def test_arming_then_the_alert_within_0_3_s_the_alert_goes_at_once():
    # the alert's first tap 0.3 s after the arming's last one: one run of taps, so no arming is decided
    # and the alert fires as soon as five taps are counted (the arming's two included): never later
    spec = ARM_SPEC + [(3700 + 450 * i, 150) for i in range(5)]
    f = drive(spec, 9000)
    assert acts(f) == ["alert"] and f[0][1] <= 3700 + 450 * 2 + 150 + 60, f
    # armed, then the alert 0.3 s after the arming was decided: both
    f = drive(ARM_SPEC + [(4250 + 450 * i, 150) for i in range(5)], 9000)
    assert acts(f) == [ARM, "alert"], f


def test_the_map_checks_refuse_a_gesture_that_takes_or_sends_the_alert():
    alert = {"action": "alert", "presses": 5, "gap_ms": 700, "min_press_ms": 100, "max_press_ms": 400}
    for other, word in (({"action": ARM, "presses": 3, "gap_ms": 700}, "take them"),  # a prefix of the alert
                        ({"action": ARM, "presses": 7, "gap_ms": 700}, "send an alert"),  # the alert is its prefix
                        ({"action": ARM, "hold_ms": 2000, "taps": 5, "gap_ms": 700}, "")):  # taps 1..4
        try:
            validate([alert, other])
            raise AssertionError(other)
        except ValueError as e:
            assert word in str(e), e
    old = [{"action": "alert", "presses": 3, "within_ms": 2500}, {"action": "alert", "hold_ms": 2000}]
    for alerts in (old, old[:1], old[1:]):  # the hold counts as a press; an alert hold fires while she holds
        try:
            validate(alerts + [dict(ARM_GESTURE)])
            raise AssertionError(alerts)
        except ValueError as e:
            assert "arm_evidence would send an alert" in str(e), e
    try:
        validate([{"action": "alert", "hold_ms": 3000}, {"action": ARM, "hold_ms": 4000}])
        raise AssertionError("hold next to hold")
    except ValueError as e:
        assert "send an alert" in str(e)
    # three taps with a max press shorter than the hold: the hold resets the count, two taps are not three
    validate([dict(old[0], max_press_ms=400), dict(ARM_GESTURE)])


def test_console_words_set_and_clear_the_arming_gesture():
    cfg = settings.factory_defaults()
    assert settings.parse_gesture("arm_evidence hold 2000 taps 2 gap 700".split()) == (
        ARM, [{"action": ARM, "hold_ms": 2000, "taps": 2, "gap_ms": 700}])
    try:  # the old alert map next to the arming gesture: refused, saying why
        settings.set_gestures(cfg, "alert", settings.parse_gesture("alert presses 3 within 2500 hold 2000".split())[1])
        raise AssertionError("accepted")
    except ValueError as e:
        assert "arm_evidence" in str(e)
    action, specs = settings.parse_gesture(["arm_evidence", "off"])
    settings.set_gestures(cfg, action, specs)
    assert [g["action"] for g in cfg["gestures"]] == ["alert"]
    settings.set_gestures(cfg, "alert", settings.parse_gesture("alert presses 3 within 2500 hold 2000".split())[1])
    try:
        settings.parse_gesture(["alert", "off"])  # the alert always has a gesture
        raise AssertionError("accepted")
    except ValueError:
        pass


def test_the_setting_is_checked_exported_and_imported():
    cfg = settings.factory_defaults()
    assert cfg["evidence_arm_min"] == 30 and settings.export(cfg)["evidence_arm_min"] == 30
    assert settings.check_import({"evidence_arm_min": 60}) == {"evidence_arm_min": 60}
    for bad in (4, 241, "30", True, None):
        try:
            settings.check_import({"evidence_arm_min": bad})
            raise AssertionError(bad)
        except ValueError as e:
            assert "evidence_arm_min must be an integer 5..240" in str(e), e
    problems = []
    assert settings.from_payload({"evidence_arm_min": 1000}, problems)["evidence_arm_min"] == 30
    assert problems == ["evidence_arm_min: 1000 replaced by 30"]


# --- arming ----------------------------------------------------------------------------------------
class Vib:
    def __init__(self):
        self.played = []

    def play(self, p):
        self.played.append(p)


class Rec:
    def __init__(self, key=True):
        self.key = key
        self.armed = False
        self.starts = 0
        self.rec = None

    def can_record(self):
        return self.key

    def arm(self, by="boot"):
        if not self.armed and self.key:
            self.armed = True
            self.starts += 1

    def disarm(self, why="power"):
        if self.rec is None:
            self.armed = False


class Alert:
    state = "idle"

    def __init__(self):
        self.listeners = []


class Log:
    def __init__(self):
        self.events = []

    def __call__(self, ev, **kw):
        self.events.append((ev, kw))


def arming(cfg=None, rec=None, battery=None):
    log, vib = Log(), Vib()
    a = Arming(cfg or {}, log, vib, Alert(), rec if rec is not None else Rec(), battery)
    return a, log, vib


def test_arm_extend_and_expire_on_ticks():
    a, log, vib = arming()
    t0 = ticks_ms()
    assert a.request(t0) and a.recorder.armed and vib.played == [haptics.ARMED]
    assert log.events[-1] == ("evidence_arm", {"min": 30, "extended": False})
    m30 = 30 * 60000
    assert a.active(ticks_add(t0, m30 - 1)) and a.left_ms(t0) == m30
    t1 = ticks_add(t0, 20 * 60000)  # the same gesture 20 min later: a full period from then
    assert a.request(t1) and log.events[-1][1]["extended"] and a.recorder.starts == 1
    assert a.active(ticks_add(t0, m30 + 1)) and a.active(ticks_add(t1, m30 - 1))
    assert not a.active(ticks_add(t1, m30)) and log.events[-1] == ("evidence_arm_expired", {})
    assert not a.active(ticks_add(t1, m30 + 5)) and len([e for e in log.events if e[0] == "evidence_arm_expired"]) == 1
    # every event says nothing but what happened: no time, no place, no number
    assert all(set(kw) <= {"min", "extended", "why"} for _, kw in log.events)


def test_hammering_the_arming_gesture_starts_the_mic_once_and_only_extends():
    a, log, vib = arming()
    t0 = ticks_ms()
    for k in range(50):
        assert a.request(ticks_add(t0, 10 * k))
    assert a.recorder.starts == 1 and len(vib.played) == 50
    assert a.left_ms(ticks_add(t0, 490)) == 30 * 60000


def test_the_period_is_the_setting():
    a, _, _ = arming({"evidence_arm_min": 5})
    t0 = ticks_ms()
    a.request(t0)
    assert a.active(ticks_add(t0, 5 * 60000 - 1)) and not a.active(ticks_add(t0, 5 * 60000))
    assert arming({"evidence_arm_min": 1000})[0].ms == 30 * 60000  # out of range: the default


def test_refusals_arm_nothing_and_vibrate_nothing():
    t0 = ticks_ms()
    cases = ((Rec(key=False), None, "idle", "no association key"),
             (Rec(), lambda: ARM_MIN_BATTERY, "idle", "battery"),
             (Rec(), None, "dispatching", "alert"))
    for rec, battery, state, why in cases:
        a, log, vib = arming(rec=rec, battery=battery)
        a.alert.state = state
        assert not a.request(t0) and not rec.armed and vib.played == [] and a.until is None
        assert log.events == [("evidence_arm_refused", {"why": why})]
    a, log, vib = Arming({}, Log(), Vib(), Alert(), None), None, None  # a board without a microphone
    assert not a.request(t0) and a.log.events == [("evidence_arm_refused", {"why": "no microphone"})]
    level = [ARM_MIN_BATTERY + 1]
    a, log, vib = arming(battery=lambda: level[0])
    assert a.request(t0) and vib.played == [haptics.ARMED] and a.active(t0)
    level[0] = ARM_MIN_BATTERY  # the battery falls while armed: the period ends there
    assert not a.active(ticks_add(t0, 1000)) and log.events[-1] == ("evidence_arm_expired", {"why": "battery"})
    a, _, _ = arming(battery=lambda: None)  # no gauge: armed
    assert a.request(t0)


# --- the power task keeps the ring on while armed ----------------------------------------------------
async def test_low_power_keeps_the_armed_ring_and_the_mcu_awake_until_it_expires():
    from firmware.power import task as power_task
    from firmware.power import policy as power
    from firmware.power.policy import Accounting, ACTIVE, DEEP
    from test_power import FakeApp, FakeHw, FakePin, _until_slept
    hw = FakeHw("deepsleep", "timer", Accounting(0, {"modem": "sleep", "mcu": DEEP}).dump(0, {"ms": 1000}))
    chipen = FakePin(0)
    hw.mic_state = lambda: "standby" if chipen.v else "off"
    app = FakeApp(hw, {"low_power": True, "wake_ms": 0})
    app.recorder = Rec()
    app.arming = Arming({}, app.log, Vib(), app.alert, app.recorder)
    pt = power_task.start(app)
    pt.task.cancel()
    assert app.arming.request(ticks_ms())
    end = app.arming.until = ticks_add(ticks_ms(), 2500)  # a short period for the test (the setting's minimum is 5 min)
    for _ in range(3):  # each awake step waits up to 500 ms for news
        await pt._step()
        assert app.recorder.armed and pt.acc.cur["mic"] == "on" and pt.last[0] == ACTIVE and pt.last[3] == "mic"
        assert hw.slept is None
    await asyncio.sleep_ms(max(0, ticks_diff(end, ticks_ms())) + 20)
    assert await _until_slept(pt, hw)  # expired: the mic rests, then the MCU sleeps
    assert not app.recorder.armed and ("evidence_arm_expired", {}) in app.events
    power._installed = None


# --- an alert while armed --------------------------------------------------------------------------
async def alert_after_arming(root, armed_blocks, total_blocks):
    """Low power (the ring off, the mic powered down), then the gesture, `armed_blocks` of sound (the real
    driver on the simulated I2S: 9 start-up blocks of silence after CHIPEN rises), then an alert: the
    recorder, its unsealed chunks (the association's side) and their parsed headers."""
    from test_evidence import Log as ELog, Mgr, chunk_files, check_chain, cold_mic, cold_recorder, pump, until
    log = ELog()
    i2s, pin, mic = cold_mic(root + ".wav", total_blocks)
    r = cold_recorder(root, log, mic)
    r.start()
    r.disarm()  # what the power task does in low power
    assert pin.value() == 0
    assert Arming({}, log, Vib(), Alert(), r).request(ticks_ms()) and r.armed and pin.value() == 1
    await pump(i2s, armed_blocks)
    r.on_alert("triggered", Mgr(1))
    await pump(i2s, total_blocks - armed_blocks)
    await until(lambda: "evidence_done" in log.names())
    r.task.cancel()
    files = chunk_files(root, 1)
    return r, files, check_chain(files)


async def test_an_alert_while_armed_carries_the_sound_before_it_without_a_warm_up_mark():
    from test_evidence import silent_blocks
    r, files, parsed = await alert_after_arming("ev40", 45, 90)  # 2.8 s: the 2 s pre-alert + the 0.57 s start-up
    assert parsed[0]["prealert"] and parsed[0]["blocks"] == r.ring.prealert_blocks
    assert not parsed[0]["mic_warmup"] and silent_blocks(files[0][1]) == 0  # real sound, all of it
    assert not any(p["mic_warmup"] for p in parsed)


async def test_an_alert_just_after_arming_marks_the_start_up_in_chunk_0():
    from test_evidence import silent_blocks
    r, files, parsed = await alert_after_arming("ev41", 4, 50)  # 0.25 s armed
    assert parsed[0]["prealert"] and parsed[0]["blocks"] == 4
    assert parsed[0]["mic_warmup"] and parsed[0]["mic_warmup_blocks"] == 4 == silent_blocks(files[0][1])
    assert parsed[1]["mic_warmup"] and parsed[1]["mic_warmup_blocks"] == 5  # the rest of the 9


# --- the arming gesture is no check-in ---------------------------------------------------------------
def test_the_arming_taps_are_not_an_i_am_fine_check_in():
    # the check-in's "I'm fine" is a burst of 2 presses: the arming gesture's 2 taps after the hold must
    # not count as one (a check-in she did not mean would push back the alert a missed one sends)
    from firmware.wearer.actions import WearerGestures
    from test_alert_presses import FakeAlert, FakeVibrator
    for spec, checked_in in ((ARM_SPEC, False), ([(0, 150), (450, 150)], True),
                             (ARM_SPEC + [(6000, 150), (6450, 150)], True)):  # armed, then "I'm fine"
        alert, vib = FakeAlert(), FakeVibrator()
        w = WearerGestures({"checkin_h": 24}, lambda *a, **k: None, alert, vib)
        base = ticks_ms()
        edges = sorted(presses(spec, Rng(3)), key=lambda e: e[0])
        fired = []
        logic = ButtonLogic(MAP, on_gesture=lambda a, t: fired.append(a), on_press=w.on_press, on_release=w.on_release)
        i = 0
        for t in range(0, 10000, 5):
            while i < len(edges) and edges[i][0] <= t:
                logic.edge(ticks_add(base, edges[i][0]), edges[i][1])
                i += 1
            now = ticks_add(base, t)
            logic.poll(now)
            w.poll(now)
        assert (haptics.CHECKIN_OK in vib.played) == checked_in, (spec, vib.played)
        assert fired == ([ARM] if spec[0][1] > 1000 else []), fired
