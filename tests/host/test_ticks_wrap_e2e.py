"""The whole firmware across the ticks wrap (issue 17), on the simulated board and the 32-bit VM: each
boot starts time.ticks_ms() a chosen distance before its 2**30 wrap, as an ESP32 does 12.4 days after
power-up, so the wrap falls inside the alert gesture, a contact's retry backoff, the follow-up
schedule or the fall cancel window. The firmware's boot event carries its ticks, which places the wrap
on the simulator's clock; each test checks the wrap really fell where it meant it to."""
import pytest

from alertbutton import vm
from alertbutton.sim.run import run_scenario

pytestmark = pytest.mark.skipif(vm.vm_facts()["bits"] != 32,
                                reason="the 64-bit VM's ticks cannot be set and wrap only after 2**62 ms")

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
PERIOD = 2 ** 30


def scenario(**kw):
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": None, "last_fix": None,
          "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005}, "duration_s": 25}
    sc.update(kw)
    return sc


def wrap_at(run):
    """The simulator time at which the first boot's ticks_ms wrapped."""
    boot = [e for e in run.events if e["event"] == "boot"][0]
    return boot["t"] + (PERIOD - boot["ticks"]) / 1000.0


def ev(run, name):
    return [e for e in run.events if e["event"] == name]


def check_five(run, n_each=1):
    numbers = sorted(s["to"] for s in run.sms)
    assert numbers == sorted(c["number"] for c in CONTACTS) * n_each or \
        sorted(set(numbers)) == sorted(c["number"] for c in CONTACTS), [e for e in run.events if e["event"] != "state"]
    assert not [e for e in run.events if e["event"] in ("alert_error", "sim_reset", "listener_error")]


def test_alert_gesture_straddling_the_wrap(tmp_path):
    # taps at 4.0, 4.45, ..., 5.8 s (the 5-tap default); the VM starts about 0.1 s in: the wrap lands
    # between the taps
    run = run_scenario(scenario(ticks_ms_start="wrap-4500", events=[{"t": 4.0, "gesture": "alert"}]), tmp_path)
    w = wrap_at(run)
    assert 4.0 < w < 4.8, w
    check_five(run)
    trig = ev(run, "trigger")
    # recognised at the fifth tap's release (5.95 s) once settled, not later
    assert len(trig) == 1 and 5.95 < trig[0]["t"] < 6.4, trig


def test_retry_backoff_straddling_the_wrap(tmp_path):
    # one +CMS ERROR 500 on the first CMGS: that contact's retry is due ~5 s later, after the wrap
    run = run_scenario(scenario(ticks_ms_start="wrap-5000", events=[{"t": 3.0, "gesture": "alert"}],
                                faults=[{"name": "cms_500", "times": 1}]), tmp_path)
    w = wrap_at(run)
    trig = ev(run, "trigger")[0]["t"]
    assert trig < w < trig + 4, (trig, w)
    check_five(run)
    last = max(s["t"] for s in run.sms)
    assert w < last < trig + 10, (w, last)  # retried after the wrap, at its backoff, not 12 days later
    assert ev(run, "dispatch_done")[-1]["sent"] == 5


def test_followup_schedule_straddling_the_wrap(tmp_path):
    # no fix at the alert; the fix comes after the wrap: one follow-up per contact with the position
    run = run_scenario(scenario(ticks_ms_start="wrap-6000", events=[{"t": 3.0, "gesture": "alert"}],
                                gnss={"lat": 45.76404, "lon": 4.83566, "acc_m": 10.0, "after_s": 8.0},
                                duration_s=20), tmp_path, stop_when_done=False)
    w = wrap_at(run)
    assert 3.5 < w < 8.0, w
    follow = [s for s in run.sms if "45.76404,4.83566" in s["text"]]
    assert sorted(s["to"] for s in follow) == sorted(c["number"] for c in CONTACTS), run.sms
    assert all(s["t"] > w for s in follow)
    assert len(run.sms) == 10, [s["text"][:30] for s in run.sms]  # the alert, then exactly one update each


def test_fall_cancel_window_straddling_the_wrap(tmp_path):
    # a real recorded fall (the MobiFall sample of the fall e2e tests) is decided about 7.3 s in; its
    # 8 s cancel window holds the wrap: the alert goes out when the window ends, not at once, not never
    from test_fall_e2e import FALL, scenario as fall_scenario
    sc = fall_scenario(FALL, duration=22, config={"fall_cancel_s": 8})
    sc["ticks_ms_start"] = "wrap-11000"
    run = run_scenario(sc, tmp_path, stop_when_done=False)
    w = wrap_at(run)
    found = ev(run, "fall_detected")
    assert found, [e["event"] for e in run.events]
    t_fall = found[0]["t"]
    assert t_fall < w < t_fall + 8, (t_fall, w)
    trig = ev(run, "trigger")
    assert len(trig) == 1 and trig[0]["kind"] == "fall" and 7.8 <= trig[0]["t"] - t_fall <= 9.0, (t_fall, trig)
    assert len(run.sms) == 5 and all("Chute" in s["text"] for s in run.sms)


def test_low_power_deep_sleep_wake_and_alert_across_the_wrap(tmp_path):
    # low power, modem in UART sleep: the first boot's wrap falls while it is awake before its deep
    # sleep; the button wakes it (every boot starts 1.5 s before the wrap, so the gesture and the
    # dispatch straddle it); power accounting carried over, five SMS
    from test_power_sim import check_wake_and_alert, scenario as power_scenario
    sc = power_scenario("ready", 8.0)
    sc["ticks_ms_start"] = "wrap-1500"
    run = run_scenario(sc, str(tmp_path))
    boots = ev(run, "boot")
    assert len(boots) == 2
    wake, trig = check_wake_and_alert(run)
    w2 = boots[1]["t"] + (PERIOD - boots[1]["ticks"]) / 1000.0
    assert wake["t"] < w2 < trig["t"] + 1.0, (wake, w2, trig)
    assert not ev(run, "sim_reset")
