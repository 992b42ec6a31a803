"""Everyone told, in order (issue 20 item 6), end to end on the simulated board: a cancel while the
alert's SMS are still going out never leaves a contact with the alert as the last message."""
from alertbutton.sim.run import run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]


def test_a_cancel_during_dispatch_never_leaves_the_alert_as_anyones_last_message(tmp_path):
    # CMGS 3 s: the alert (5 taps from 2 s, trigger ~4.0 s) goes out at ~7.0, 10.0, 13.0, 16.0, 19.0 s;
    # a 5 s hold from 4.3 s then 4 taps from 10.6 s are a cancel decided at ~13 s. Before: the alert
    # went on to all five and the ANNULATION SMS were interleaved with it: contacts 3-5 read
    # "ANNULATION" first and the alert last.
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
          "last_fix": {"lat": 48.11198, "lon": -1.67429, "acc_m": 12, "age_s": 20},
          "modem": {"cmgs_latency_s": 3.0, "cmd_latency_s": 0.005},
          "config": {"update_first_s": 600},
          "events": [{"t": 2.0, "gesture": "alert"}, {"t": 4.3, "gesture": "hold", "hold_ms": 5500},
                     {"t": 10.6, "gesture": "presses", "n": 4}],
          "duration_s": 30}
    run = run_scenario(sc, tmp_path, stop_when_done=False)
    assert [e["why"] for e in run.events if e["event"] == "alert_stop"] == ["cancel"]
    got_alert = 0
    for c in CONTACTS:
        seq = [s["text"].split(":")[0] for s in run.sms if s["to"] == c["number"]]
        assert seq in ([], ["ALERTE", "ANNULATION"]), (c["number"], seq)
        got_alert += bool(seq)
    assert 1 <= got_alert < 5, got_alert  # the cancel came mid-dispatch: the rest never got the alert
    assert [e["told"] for e in run.events if e["event"] == "end_notice"] == [got_alert]
