"""Cancel and duress gestures on the simulated board: during an alert a 5 s hold, then taps counted
after 1.2 s of quiet (4: cancel, 2: duress); taps alone (hammering) mean nothing. In a fall window,
press bursts as before."""
import os

from gsmmodem.pdu import decodeSmsPdu

from alertbutton.sim.run import run_scenario

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mobifall")
FALL = os.path.join(DATA, "sub4", "FALLS", "FOL", "FOL_acc_4_1.txt")
CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]


def scenario(events, duration=12, **kw):
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
          "last_fix": {"lat": 50.62925, "lon": 3.05726, "acc_m": 9, "age_s": 30},
          "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005},
          "config": {"update_first_s": 10, "fall_cancel_s": 6}, "events": events, "duration_s": duration}
    sc.update(kw)
    return sc


def names(run):
    return [e["event"] for e in run.events]


def texts(run):
    return [decodeSmsPdu(s["pdu"])["text"] for s in run.sms]


def test_hold_then_four_taps_cancel_the_alert_and_tell_the_contacts(tmp_path):
    run = run_scenario(scenario([{"t": 2.0, "gesture": "alert"}, {"t": 5.0, "gesture": "hold", "hold_ms": 5500},
                                 {"t": 11.3, "gesture": "presses", "n": 4}], duration=18,
                                config={"update_first_s": 30, "fall_cancel_s": 6}),
                       tmp_path, stop_when_done=False)
    assert [e["why"] for e in run.events if e["event"] == "alert_stop"] == ["cancel"]
    assert "cancel_asked" in names(run)
    t = texts(run)
    assert len(t) == 10 and all("ANNULATION" in x for x in t[5:]), t


def test_hammering_after_the_alert_changes_nothing(tmp_path):
    run = run_scenario(scenario([{"t": 2.0, "gesture": "alert"}, {"t": 4.5, "gesture": "presses", "n": 5},
                                 {"t": 7.0, "gesture": "presses", "n": 2, "gap_ms": 250},
                                 {"t": 9.0, "gesture": "presses", "n": 9, "gap_ms": 200}], duration=16),
                       tmp_path, stop_when_done=False)
    ev = names(run)
    assert "alert_stop" not in ev and "duress" not in ev, ev
    assert all("ANNULATION" not in x and "contrainte" not in x for x in texts(run))


def test_duress_keeps_the_alert_going_and_tags_the_updates(tmp_path):
    run = run_scenario(scenario([{"t": 2.0, "gesture": "alert"}, {"t": 5.0, "gesture": "hold", "hold_ms": 5500},
                                 {"t": 11.3, "gesture": "presses", "n": 2},
                                 {"t": 14.0, "gesture": "hold", "hold_ms": 5500},
                                 {"t": 20.3, "gesture": "presses", "n": 4}], duration=26,
                                config={"update_first_s": 18, "fall_cancel_s": 6}),
                       tmp_path, stop_when_done=False)
    ev = names(run)
    assert "duress" in ev and "cancel_refused_after_duress" in ev and "alert_stop" not in ev
    t = texts(run)
    assert all("contrainte" not in x for x in t[:5])  # sent before the duress
    updates = t[5:]
    # the duress is told to everyone at once (issue 20 item 6; before: only with the periodic
    # follow-up, up to 30 min later), then the periodic ones say it too
    assert len(updates) == 10 and all("contrainte" in x for x in updates), t
    t_duress = [e["t"] for e in run.events if e["event"] == "duress"][0]
    told = [s["t"] for s in run.sms[5:10]]
    assert told[-1] - t_duress < 5 * 0.2 + 0.5, (t_duress, told)


def test_duress_in_the_fall_window_sends_the_alert_at_once(tmp_path):
    sc = scenario([], duration=12, accel={"trace": FALL, "start_s": 1.5})
    probe = run_scenario(dict(sc, duration_s=8), tmp_path / "probe", stop_when_done=False)
    t_fall = [e["t"] for e in probe.events if e["event"] == "fall_detected"][0]
    sc["events"] = [{"t": t_fall + 0.5, "gesture": "presses", "n": 2}]
    run = run_scenario(sc, tmp_path / "run", stop_when_done=False)
    trig = [e for e in run.events if e["event"] == "trigger"]
    assert len(trig) == 1 and trig[0]["kind"] == "fall"
    t_window = [e["t"] for e in run.events if e["event"] == "fall_detected"][0]
    assert trig[0]["t"] - t_window < 4.0  # well before the 6 s cancel window ran out
    t = texts(run)
    assert len(t) == 5 and all("contrainte" in x and "Chute" in x for x in t), t
