"""Two-way SMS end to end on the simulated board: contacts' SMS reach the modem simulator as
SMS-DELIVER PDUs built by an independent encoder (python-gsmmodem-new pieces), the firmware reads,
decodes and acts on them."""
from collections import Counter

from gsmmodem.pdu import decodeSmsPdu

from alertbutton.sim.run import run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]


def scenario(events, duration=14, **cfg):
    conf = {"contacts_pin": "4321", "update_first_s": 10}
    conf.update(cfg)
    return {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
            "last_fix": {"lat": 47.21837, "lon": -1.55362, "acc_m": 9, "age_s": 30},
            "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005}, "config": conf,
            # the 5-tap gesture (~2 s) from 0.85 s: the trigger at ~2.8 s
            "events": [{"t": 0.85, "gesture": "alert"}] + events, "duration_s": duration}


def ev(run, name):
    return [e for e in run.events if e["event"] == name]


def test_ok_acknowledges_and_stops_that_contacts_updates(tmp_path):
    # contact 1 answers "Reçu" (national number form); the others get the periodic update at +10 s
    run = run_scenario(scenario([{"t": 4.0, "sms": {"from": "0612345601", "text": "Reçu"}}], duration=15),
                       tmp_path, stop_when_done=False)
    assert [e["contact"] for e in ev(run, "sms_ack")] == [0]
    per = Counter(s["to"] for s in run.sms)
    assert per["+33612345601"] == 1, per  # the alert, no update after the acknowledgement
    assert all(per[c["number"]] == 2 for c in CONTACTS[1:]), per


def test_position_request_with_pin_gets_a_reply_and_a_wrong_pin_gets_none(tmp_path):
    run = run_scenario(scenario([{"t": 4.0, "sms": {"from": "+33612345603", "text": "POSITION 9999"}},
                                 {"t": 5.0, "sms": {"from": "+33612345603", "text": "ou 4321"}}], duration=8,
                                update_first_s=600), tmp_path, stop_when_done=False)
    replies = [s for s in run.sms[5:] if s["to"] == "+33612345603"]
    assert len(replies) == 1, run.sms
    text = decodeSmsPdu(replies[0]["pdu"])["text"]
    assert "47.21837,-1.55362" in text
    assert [e["why"] for e in ev(run, "sms_ignored")] == ["bad_pin"]


def test_stop_with_pin_ends_the_alert_and_tells_the_others(tmp_path):
    run = run_scenario(scenario([{"t": 4.0, "sms": {"from": "+33612345602", "text": "STOP 4321"}}], duration=9),
                       tmp_path, stop_when_done=False)
    assert [e["why"] for e in ev(run, "alert_stop")] == ["sms_stop"]
    notices = [s for s in run.sms[5:]]
    assert sorted(s["to"] for s in notices) == sorted(c["number"] for c in CONTACTS if c["number"] != "+33612345602")
    assert all("C2" in decodeSmsPdu(s["pdu"])["text"] for s in notices)
    assert run.events[-1]["event"] != "trigger"
    assert [e["to"] for e in ev(run, "state")][-1] == "idle"


def test_unknown_sender_is_ignored_and_its_content_never_logged(tmp_path):
    run = run_scenario(scenario([{"t": 4.0, "sms": {"from": "+33799999999", "text": "STOP 4321 secret"}}],
                                duration=7), tmp_path, stop_when_done=False)
    assert not ev(run, "alert_stop") and len(ev(run, "sms_unknown_sender")) == 1
    log = (tmp_path / "events.jsonl").read_text()
    assert "secret" not in log and "99999999" not in log


def test_low_battery_warns_the_first_contact_once(tmp_path):
    # low power as shipped: the battery is read at each wake, here a timer wake every 2 s (15 min as
    # shipped; tests/host/test_low_power_sms_e2e.py has the deep-sleep case)
    sc = scenario([{"t": 1.0, "ctl": "battery 3590"}], duration=9, status_poll_s=1, power={"max_deep_s": 2})
    sc["events"] = sc["events"][1:]  # no alert in this one
    run = run_scenario(sc, tmp_path, stop_when_done=False)
    warn = [s for s in run.sms]
    assert len(warn) == 1 and warn[0]["to"] == "+33612345601", run.sms
    assert len(ev(run, "battery_low")) == 1
