"""A real alert never waits behind a technician's test alert (issue 19 item 7), end to end on the
simulated board: the test goes to all five contacts with a 3 s CMGS, the wearer makes the alert
gesture during its first SMS. Prints the wait (gesture -> first real SMS accepted)."""
from alertbutton.sim.run import run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
CMGS_S = 3.0


def test_a_gesture_during_a_test_alert_sends_the_real_alert_after_at_most_the_sms_in_flight(tmp_path):
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": None, "last_fix": None,
          "modem": {"cmgs_latency_s": CMGS_S, "cmd_latency_s": 0.005},
          "events": [{"t": 2.0, "ctl": "test-alert 0 1 2 3 4"}, {"t": 3.0, "gesture": "alert"}],
          "duration_s": 40}
    run = run_scenario(sc, tmp_path)
    gesture = [e["t"] for e in run.events if e["event"] == "gesture"][0]
    real = [s for s in run.sms if "TEST" not in s["text"].upper()]
    tests = [s for s in run.sms if "TEST" in s["text"].upper()]
    assert sorted(s["to"] for s in real) == sorted(c["number"] for c in CONTACTS)
    wait = real[0]["t"] - gesture
    print("gesture -> first real SMS %.2f s (CMGS %.1f s), test SMS sent %d" % (wait, CMGS_S, len(tests)))
    # the test SMS in flight at the gesture (< 3 s left), then the real one's own 3 s; before: the
    # test's five SMS went first (~15 s)
    assert len(tests) == 1, [s["to"] for s in tests]
    assert wait <= 2 * CMGS_S + 0.5, wait
    assert [e["kind"] for e in run.events if e["event"] == "trigger"] == ["test", "alert"]
