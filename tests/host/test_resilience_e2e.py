"""An alert survives resets: the VM is killed mid-dispatch (power cut) or its event loop hangs until
the external watchdog resets it; after the reboot the persisted outbox resumes and every contact
gets the alert, at most the SMS in flight at the reset twice."""
from collections import Counter

from alertbutton.sim.run import run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]


def scenario(events, **kw):
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
          "last_fix": {"lat": 48.1, "lon": -1.6, "acc_m": 15, "age_s": 120},
          "modem": {"cmgs_latency_s": 0.6, "cmd_latency_s": 0.005}, "events": events, "duration_s": 30}
    sc.update(kw)
    return sc


def per_contact(run):
    return Counter(s["to"] for s in run.sms)


def check_everyone_once_at_most_one_duplicate(run):
    c = per_contact(run)
    assert set(c) == {x["number"] for x in CONTACTS}, c
    assert all(v <= 2 for v in c.values()) and sum(v - 1 for v in c.values()) <= 1, c


def test_power_cut_mid_dispatch_resumes(tmp_path):
    # the 5-tap gesture (~2 s) starts at 0.85 s: the trigger at ~2.8 s, the cut mid-dispatch
    run = run_scenario(scenario([{"t": 0.85, "gesture": "alert"}, {"t": 3.8, "power": "cut", "off_s": 0.3}]),
                       tmp_path)
    assert [w for _, w in run.resets] == ["power cut"]
    resumed = [e for e in run.events if e["event"] == "outbox_resume"]
    assert len(resumed) == 1 and 0 < resumed[0]["pending"] < 5, resumed
    boots = [e for e in run.events if e["event"] == "boot"]
    assert [b["reset_cause"] for b in boots] == ["power", "power"]
    check_everyone_once_at_most_one_duplicate(run)


def test_hung_event_loop_is_reset_by_the_watchdog_and_resumes(tmp_path):
    run = run_scenario(scenario([{"t": 0.85, "gesture": "alert"}, {"t": 3.5, "ctl": "hang 60"}],  # trigger ~2.8 s
                                watchdog_ms=2500), tmp_path)
    assert [w for _, w in run.resets] == ["watchdog"]
    boots = [e["reset_cause"] for e in run.events if e["event"] == "boot"]
    assert boots == ["power", "watchdog"]
    assert any(e["event"] == "outbox_resume" for e in run.events)
    check_everyone_once_at_most_one_duplicate(run)


def test_healthy_firmware_is_never_reset_by_the_watchdog(tmp_path):
    run = run_scenario(scenario([{"t": 2.0, "gesture": "alert"}], watchdog_ms=2500, duration_s=9),
                       tmp_path, stop_when_done=False)
    assert run.resets == []
    assert sorted(per_contact(run).values()) == [1] * 5


def test_finished_alert_is_not_resent_after_a_reset(tmp_path):
    # the alert (5 taps from 2 s) triggers at ~4.0 s, its five SMS end at ~7.05 s: the cut comes after
    run = run_scenario(scenario([{"t": 2.0, "gesture": "alert"}, {"t": 8.2, "power": "cut"}], duration_s=11.2),
                       tmp_path, stop_when_done=False)
    assert [w for _, w in run.resets] == ["power cut"]
    assert sorted(per_contact(run).values()) == [1] * 5
    assert not any(e["event"] == "outbox_resume" for e in run.events)
