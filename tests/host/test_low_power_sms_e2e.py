"""What must still happen while the board deep-sleeps between alerts (issue 22: low power is on as
shipped). On the reference board RI cannot wake the MCU from deep sleep, so the firmware wakes at
least every power.max_deep_s to read the battery and, in "ready" mode, every check_s to wake the
modem and read its SMS store (with sms_position_idle, the one command heard between alerts). Before:
the battery was read only by the modem task's 60 s poll, which a woken board never reached before
sleeping again, a low-battery warning needed three readings that deep sleep forgot, and an SMS that
came during a deep sleep waited up to 4 h with nothing to read it. The periods are shortened here so
that the test takes seconds; the defaults are 15 min (docs/power.md)."""
from gsmmodem.pdu import decodeSmsPdu

from alertbutton.sim.run import run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]


def scenario(events, duration, **power):
    p = {"low_power": True, "boot_awake_s": 1, "min_deep_s": 1, "max_deep_s": 3, "check_s": 3,
         "idle_to_sleep_s": 1, "wake_ms": 50, "fall_detection": False}
    p.update(power)
    return {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
            "last_fix": {"lat": 47.21837, "lon": -1.55362, "acc_m": 9, "age_s": 30},
            "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005},
            "config": {"contacts_pin": "4321", "sms_position_idle": True, "power": p, "gnss_refresh": [[0, 0]], "gnss_boot_timeout_s": 0},
            "events": events, "duration_s": duration}


def ev(run, name):
    return [e for e in run.events if e["event"] == name]


def test_low_battery_is_warned_once_while_the_board_deep_sleeps(tmp_path):
    run = run_scenario(scenario([{"t": 0.5, "ctl": "battery 3590"}], 24), tmp_path, stop_when_done=False)
    boots = ev(run, "boot")
    assert [b["reset_cause"] for b in boots][:1] == ["power"] and len(boots) >= 4, [e["event"] for e in run.events]
    assert all(b["reset_cause"] == "deepsleep" for b in boots[1:])
    (low,) = ev(run, "battery_low")  # confirmed over three readings (one per wake), told once
    assert len(run.sms) == 1 and run.sms[0]["to"] == "+33612345601", run.sms
    assert "batterie faible" in decodeSmsPdu(run.sms[0]["pdu"])["text"]
    sleeps = [e["t"] for e in ev(run, "deepsleep")]
    assert any(t > run.sms[0]["t"] for t in sleeps)  # sent, then asleep again: never lost to a sleep


T_SMS = 8.0  # the first deep sleep starts ~4 s after the power-on (boot, modem bring-up, 1 s window)


def test_a_position_request_that_came_during_a_deep_sleep_is_answered_after_the_next_check(tmp_path):
    # the SMS reaches the modem while the MCU deep-sleeps (RI cannot wake it): read at the next
    # registration check, answered, and the board sleeps again
    run = run_scenario(scenario([{"t": T_SMS, "sms": {"from": "+33612345603", "text": "POSITION 4321"}}], 22),
                       tmp_path, stop_when_done=False)
    sleeps = [e["t"] for e in ev(run, "deepsleep")]
    assert any(t < T_SMS for t in sleeps), sleeps  # asleep when it came
    replies = [s for s in run.sms if s["to"] == "+33612345603"]
    assert len(replies) == 1, run.sms
    assert "47.21837,-1.55362" in decodeSmsPdu(replies[0]["pdu"])["text"]
    checks = [e["t"] for e in ev(run, "modem_check")]
    assert any(T_SMS < t < replies[0]["t"] for t in checks), (checks, replies[0]["t"])
    assert replies[0]["t"] < T_SMS + 3 + 5  # within check_s (3 s here) plus a boot and the send
    assert any(t > replies[0]["t"] for t in sleeps)
