"""An alert outlives its power (issue 20 item 4): the simulated board's VM is killed (a power cut) at
every stage of an alert (dispatching, active after all SMS were sent, follow-ups due, a duress not yet
told) and boots again from the same flash. After the reboot the alert goes on where it stopped: every
contact gets the alert once (the SMS in flight at the cut at most twice, as documented), follow-ups
continue on the alert's schedule with its duress tag, POSITION and STOP <PIN> work, and a cancel stays
refused after a duress."""
from collections import Counter

from alertbutton.sim.run import run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
NUMBERS = [c["number"] for c in CONTACTS]


def scenario(events, duration, **cfg):
    conf = {"contacts_pin": "4321", "update_first_s": 10}
    conf.update(cfg)
    return {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
            "last_fix": {"lat": 48.11198, "lon": -1.67429, "acc_m": 12, "age_s": 20},
            "modem": {"cmgs_latency_s": 0.6, "cmd_latency_s": 0.005}, "config": conf,
            "events": [{"t": 2.0, "gesture": "alert"}] + events, "duration_s": duration}


def ev(run, name):
    return [e for e in run.events if e["event"] == name]


def cut_at(run):
    return [e["t"] for e in ev(run, "sim_reset")][0]


def alerts(run):
    return [s for s in run.sms if s["text"].startswith("ALERTE")]


def updates(run, after=0.0):
    return [s for s in run.sms if s["text"].startswith("SUIVI") and s["t"] > after]


def check_alert_once_each(run):
    c = Counter(s["to"] for s in alerts(run))
    assert set(c) == set(NUMBERS), c
    assert all(v <= 2 for v in c.values()) and sum(v - 1 for v in c.values()) <= 1, c  # the SMS in flight


def check_stop_works(run, stop_t, by=NUMBERS[1]):
    assert [e["why"] for e in ev(run, "alert_stop")] == ["sms_stop"]
    assert ev(run, "alert_stop")[0]["t"] >= stop_t
    notices = [s for s in run.sms if s["text"].startswith("FIN D'ALERTE")]
    assert sorted(s["to"] for s in notices) == sorted(n for n in NUMBERS if n != by), notices
    assert ev(run, "state")[-1]["to"] == "idle"


def check_updates_resume(run, after):
    c = Counter(s["to"] for s in updates(run, after))
    assert set(c) == set(NUMBERS), ("no follow-up after the reboot", c)


# the alert (5 taps from 2 s): trigger ~4.0 s, its five SMS 4.61..7.05 s (0.6 s each), follow-ups every
# 10 s from 14.0 s


def test_cut_while_dispatching(tmp_path):
    run = run_scenario(scenario([{"t": 5.5, "power": "cut", "off_s": 0.3},
                                 {"t": 25.2, "sms": {"from": NUMBERS[1], "text": "STOP 4321"}}], 33),
                       tmp_path, stop_when_done=False)
    cut = cut_at(run)
    assert 0 < sum(1 for s in alerts(run) if s["t"] < cut) < 5
    r = ev(run, "alert_resumed")
    assert len(r) == 1 and 0 < r[0]["pending"] < 5, r
    check_alert_once_each(run)
    check_updates_resume(run, cut)
    check_stop_works(run, 25.2)


def test_cut_while_active_after_every_sms_was_sent(tmp_path):
    # before: nothing resumed it; no follow-up, POSITION and STOP refused as no_alert
    run = run_scenario(scenario([{"t": 8.0, "power": "cut", "off_s": 0.3},
                                 {"t": 18.0, "sms": {"from": NUMBERS[2], "text": "POSITION 4321"}},
                                 {"t": 24.0, "sms": {"from": NUMBERS[1], "text": "STOP 4321"}}], 32),
                       tmp_path, stop_when_done=False)
    assert len(alerts(run)) == 5 and all(s["t"] < cut_at(run) for s in alerts(run))  # nothing resent
    r = ev(run, "alert_resumed")
    assert len(r) == 1 and r[0]["pending"] == 0 and r[0]["age_s"] >= 2, r
    check_updates_resume(run, cut_at(run))
    assert [(e["contact"], e["cmd"]) for e in ev(run, "sms_command")] == [(2, "position"), (1, "stop")]
    assert any(e["why"] == "position_request" for e in ev(run, "followup_queued"))
    check_stop_works(run, 24.0)


def test_cut_while_follow_ups_are_due(tmp_path):
    # the first round of follow-ups goes out at 14.62..17.07 s: cut after the second one
    run = run_scenario(scenario([{"t": 15.5, "power": "cut", "off_s": 0.3}], 23.2), tmp_path,
                       stop_when_done=False)
    cut = cut_at(run)
    before = [s["to"] for s in updates(run) if s["t"] < cut]
    assert 0 < len(before) < 5, before
    # every contact gets that round's follow-up once (the one in flight at the cut at most twice),
    # before the next round (10 s later, plus the time the board was off)
    first_round = [s["to"] for s in updates(run) if s["t"] < 23.7]
    c = Counter(first_round)
    assert set(c) == set(NUMBERS) and sum(v - 1 for v in c.values()) <= 1, c
    assert ev(run, "alert_resumed")[0]["pending"] > 0
    check_alert_once_each(run)


def test_cut_while_a_duress_is_not_yet_told(tmp_path):
    # the duress gesture (5 s hold from 4.5 s, 2 taps at 10.8 s) is decided at ~12.5 s; every contact
    # is told at once (before: only with the next follow-up, and the tag was lost by a reset). The cut
    # comes before all are told; the first periodic follow-up is at ~20 s.
    run = run_scenario(scenario([{"t": 4.5, "gesture": "hold", "hold_ms": 5500},
                                 {"t": 10.8, "gesture": "presses", "n": 2},
                                 {"t": 13.3, "power": "cut", "off_s": 0.3},
                                 {"t": 21.0, "gesture": "hold", "hold_ms": 5500},
                                 {"t": 27.3, "gesture": "presses", "n": 4}], 34, update_first_s=16),
                       tmp_path, stop_when_done=False)
    cut = cut_at(run)
    duress = ev(run, "duress")
    assert len(duress) == 1 and duress[0]["t"] < cut, duress
    told = [s for s in run.sms if "contrainte" in s["text"]]
    assert len([s for s in told if s["t"] < cut]) < 5
    periodic = [e["t"] for e in ev(run, "followup_queued") if e["why"] == "periodic"]
    first = Counter(s["to"] for s in told if s["t"] < periodic[0])  # told before the first periodic one
    assert set(first) == set(NUMBERS) and sum(v - 1 for v in first.values()) <= 1, first
    assert ev(run, "alert_resumed")[0]["duress"] is True
    later = updates(run, periodic[0])
    assert later and all("contrainte" in s["text"] for s in later), [s["text"][:20] for s in later]
    # after a duress a cancel is refused, reset or not: no ANNULATION, the alert goes on
    assert not ev(run, "alert_stop") and not [s for s in run.sms if "ANNULATION" in s["text"]]
    assert ev(run, "cancel_refused_after_duress")
