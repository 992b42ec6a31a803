"""The optional check-in on the simulated board: the wearer's 2-press "I'm fine" burst restarts the
timer; without it the alert goes out. The interval is in seconds here (checkin_s) instead of hours."""
from alertbutton.sim.run import run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]


def scenario(events, duration):
    return {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
            "last_fix": {"lat": 48.58392, "lon": 7.74553, "acc_m": 9, "age_s": 30},
            "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005},
            "config": {"checkin_s": 10, "checkin_prewarn_min": 1}, "events": events, "duration_s": duration}


def names(run):
    return [e["event"] for e in run.events]


def test_missed_checkin_sends_the_alert(tmp_path):
    run = run_scenario(scenario([], 15), tmp_path, stop_when_done=False)
    ev = names(run)
    assert "checkin_due" in ev and "checkin_missed" in ev
    trig = [e for e in run.events if e["event"] == "trigger"]
    assert len(trig) == 1 and trig[0]["source"] == "checkin"
    assert len(run.sms) == 5
    # its own words, never the button alert's (before: "a déclenché son bouton d'alerte")
    assert all("Check-in manqué" in s["text"] and "déclenché" not in s["text"] for s in run.sms), run.sms


def test_im_fine_burst_restarts_the_timer(tmp_path):
    run = run_scenario(scenario([{"t": 6.0, "gesture": "presses", "n": 2}], 14), tmp_path, stop_when_done=False)
    ev = names(run)
    assert "checkin_ok" in ev and "checkin_missed" not in ev and run.sms == []
