"""Cellular data mode (issue 9): the firmware's modem driver in the MicroPython VM against the modem
simulator on a pty. Dial (AT+CGDCONT, ATD*99***1# -> CONNECT), the UART handed to PPP (a stand-in
for network.PPP, which the unix port lacks) and back (+++ between guard times, ATH), a call the
network drops (NO CARRIER), a modem that ignores +++, a refused dial, and an alert that triggers
while the platform link is sending over PPP: the link hangs up and every SMS goes out."""
import json
import os
import subprocess
import threading

from alertbutton import vm
from alertbutton.sim.modem.a76xx import ModemSim

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(os.path.dirname(HERE), "vm", "data_mode.py")
FRAME = b"\x7e\xff\x7d\x23\xc0\x21\x7d\x21\x7d\x22\x7e"  # the VM's FakePpp frame
CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]


def run(tmp_path, sim, timeout=90, **params):
    """Run the VM program against the simulator; its power-key lines ("PIN 4 <level>") drive the
    simulated PWRKEY (GPIO high pulls the module's pin low, as on the board)."""
    path = sim.start()
    out = []
    try:
        (tmp_path / "run.json").write_text(json.dumps(dict(params, path=path)))
        proc = vm.spawn(script=PROGRAM, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        for line in proc.stdout:
            out.append(line)
            if line.startswith("PIN 4 "):
                sim.power_key(0 if line.split()[2] == "1" else 1)
        proc.wait()
        timer.cancel()
    finally:
        sim.stop()
    lines = [x for x in out if x.startswith("RESULT ")]
    assert lines, "".join(out[-60:])
    assert sim.error is None, sim.error
    return json.loads(lines[0][7:])


END_NOTICE = "FIN DU SUIVI"  # firmware/sms/notices.py, "fr"


def split_sms(r, sim):
    """The SMS the simulated network accepted, told apart: (the alert's, the end notices). Issue 20
    item 6: the alert (alert_active_s 2 s in the VM program) ends at its time limit and each contact
    who received it gets an end-of-follow-ups notice, queued in the outbox with why="end". Each kind
    is recognised both by its outbox record (the VM's "why") and by its text on the network, and the
    two must agree; the notices are checked here too: one per contact, each after its alert SMS."""
    by_mr = {s["mr"]: s for s in sim.sms}
    assert len(by_mr) == len(sim.sms), sim.sms  # one SMS per message reference
    recs = [x for x in r["recs"] if x["st"] in ("accepted", "delivered")]
    assert len(recs) == len(sim.sms), (r["recs"], sim.sms)  # every SMS accepted is an outbox record
    alert, notices = [], []
    for x in recs:
        s = by_mr[x["mr"]]
        assert s["to"] == CONTACTS[x["c"]]["number"], (x, s)
        if x["why"] is None:  # the alert's own record (outbox.open), not a follow-up
            assert not s["text"].startswith(END_NOTICE), (x, s)
            alert.append(s)
        else:
            assert x["why"] == "end" and s["text"].startswith(END_NOTICE), (x, s)
            notices.append(s)
    # the VM's own sms_sent log agrees: one line per SMS, each with the record's reason
    assert sorted(r["sms_sent_why"], key=str) == sorted([x["why"] for x in recs], key=str), r
    assert r["end_notice_logs"] == [len(notices)], r
    assert r["sms_sent_why"][0] is None, r  # the first SMS sent (trigger_to_first_sms_ms) is the alert's
    # the notices: one per contact who received the alert, each accepted after that contact's alert
    # SMS (the simulator stamps each SMS with the time the network took it)
    assert sorted(s["to"] for s in notices) == sorted(s["to"] for s in alert), (alert, notices)
    first_alert = {s["to"]: s["t"] for s in alert}
    assert all(s["t"] > first_alert[s["to"]] for s in notices), (alert, notices)
    return alert, notices


def modem(**over):
    m = {"boot_s": 0.3, "cmd_latency_s": 0.005, "cmgs_latency_s": 0.2, "data_echo": True}
    m.update(over)
    return {"modem": m}


def test_dial_hands_the_uart_to_ppp_and_hangup_takes_it_back(tmp_path, report):
    sim = ModemSim(modem())
    r = run(tmp_path, sim, mode="cycle", apn="internet.test")
    assert r["up"] and r["released"], r
    # nothing the AT reader could parse while PPP owned the UART: not even the simulator's first
    # PPP frame, which carries a CRLF OK CRLF right after CONNECT
    assert r["lines_in_data_mode"] == 0, r
    assert r["short"] == "released"  # a command with a short timeout fails clearly, never sent
    assert r["ppp_got_back"] == 1  # PPP traffic went through the modem and came back to PPP only
    assert r["busy_in_data_mode"], r  # the power policy sees the modem in use, never idle
    assert r["waiter"] == "20,99" and r["after"] == "OK" and not r["released_after"], r
    events = [e["event"] for e in sim.data_log]
    assert events == ["connect", "escape", "ath"] and sim.data_log[0]["apn"] == "internet.test"
    # the modem received exactly PPP's bytes, then the escape: no AT command leaked into the call
    assert bytes(sim.data_rx) == FRAME + b"\x7e\x21\x45\x00payload\x7e" + b"+++", bytes(sim.data_rx)
    assert 1900 <= r["hangup_ms"] < 4000, r  # two 1 s guard times (ours, then the modem's)
    report("data mode: dial / hang-up (A7670 sim)", "PPP owns the UART, 0 bytes read by the AT channel; "
           "hang-up (+++ with 1 s guards, ATH) %d ms; a command issued meanwhile waits and runs after" % r["hangup_ms"])


def test_call_dropped_by_the_network(tmp_path):
    sim = ModemSim(modem())
    sim.fault("data_drop", after_s=0.3)
    r = run(tmp_path, sim, mode="drop", wait_ms=1000)
    assert r["dial"] and r["hangup"] and r["after"] == "OK", r
    # NO CARRIER read during the guard time: command mode already, no "+++" needed
    assert r["reply"] == "NO CARRIER", r
    assert [e["event"] for e in sim.data_log] == ["connect", "drop"]
    assert r["hangup_ms"] < 1800, r


def test_modem_ignoring_the_escape_is_power_cycled_within_a_bound(tmp_path, report):
    sim = ModemSim(modem())
    sim.fault("ignore_escape")
    r = run(tmp_path, sim, mode="ignore")
    assert r["dial"] and r["hangup"] is False and r["failed"], r
    assert r["pwrkey"] == [1, 0, 1, 0], r  # the driver's power-cycle path (off pulse, on pulse)
    assert [e["event"] for e in sim.power_log] == ["boot", "off", "on", "boot"], sim.power_log
    # command mode again, brought up and configured: the next SMS does not wait for `ready`
    assert r["released"] is False and r["ready"] and r["after"] == "OK", r
    assert [e["event"] for e in sim.data_log] == ["connect"]
    # 2 x (1 s guard + "+++" + 2 s for an answer + 0.5 s for "AT") + power cycle 5.7 s + boot and setup
    assert r["hangup_ms"] < 16000, r
    report("data mode: modem ignores +++", "given up after 2 escapes, power-cycled and brought up again: "
           "%d ms in all" % r["hangup_ms"])


def test_refused_dial_leaves_the_channel_in_command_mode(tmp_path):
    sim = ModemSim(modem())
    sim.fault("dial_refused")
    r = run(tmp_path, sim, mode="refused")
    assert r["dial"] is False and r["released"] is False and "NO CARRIER" in r["failed"], r
    assert r["after"] == "OK" and r["bad_apn"] is False, r
    assert [e["event"] for e in sim.data_log] == ["refused"]  # the bad APN never reached the modem


def test_alert_during_data_mode_hangs_up_and_sends_every_sms(tmp_path, report):
    sim = ModemSim(modem(cmgs_latency_s=0.2))
    r = run(tmp_path, sim, mode="alert", contacts=CONTACTS, backlog=20, send_ms=200, timeout=120)
    assert r["released_at_trigger"], r  # the trigger landed while PPP owned the UART
    alert, notices = split_sms(r, sim)
    # the alert's 5 SMS, one per contact; then (issue 20 item 6) the 5 end notices at alert_active_s
    assert len(alert) == 5 and len(notices) == 5 and r["sms_sent"] == 10, r
    assert sorted(s["to"] for s in alert) == sorted(c["number"] for c in CONTACTS)
    assert r["pending"] == 0 and r["dials"] >= 2, r  # the link came back after the dispatch
    triggers = {t for ev, t in r["events"]}
    assert ("triggered", "button") in [tuple(e) for e in r["events"]] and triggers == {"button"}, r
    # bounded: one blocking send (0.2 s) + hang-up (~2 s) + the first CMGS (0.2 s)
    assert r["trigger_to_first_sms_ms"] < 4000, r
    report("data mode: alert while PPP is up", "trigger -> modem back in command mode %d ms -> first SMS "
           "accepted %d ms; 5/5 SMS (+5 end notices at the time limit); link re-dialled after the dispatch" % (
               r["trigger_to_command_mode_ms"], r["trigger_to_first_sms_ms"]))


def test_abort_dial_ends_a_slow_dial_with_no_carrier(tmp_path):
    """abort_dial(): one CR ends a dial still waiting for the network (NO CARRIER, command mode);
    asked for within V.250's 125 ms it is written once that guard time is over; twice is once; no
    effect with nothing in flight or after CONNECT."""
    sim = ModemSim(modem(dial_latency_s=2.0))
    r = run(tmp_path, sim, mode="abort")
    assert r["idle"] is False, r
    early_ok, early_ms = r["early"]
    late_ok, late_ms = r["late"]
    assert early_ok is False and 150 <= early_ms < 1000, r  # after the 200 ms guard, not the 2 s
    assert late_ok is False and 450 <= late_ms < 1200, r
    assert r["aborts"] == 2 and r["aborted_logs"] == 2 and r["after"] == "OK", r
    full_ok, full_ms = r["full"]
    assert full_ok is True and full_ms >= 1900, r  # left alone: CONNECT after the network's 2 s
    assert r["after_connect"] is False and r["hangup"] is True and r["aborts_end"] == 2, r
    assert [e["event"] for e in sim.data_log] == ["abort", "abort", "connect", "escape", "ath"], sim.data_log
    # not one stray byte reached the call: the CRs went while the modem was still in command mode
    assert bytes(sim.data_rx) == b"+++", bytes(sim.data_rx)


def _slow_dial_alert(tmp_path, **kw):
    sim = ModemSim(modem(cmgs_latency_s=0.2, dial_latency_s=SLOW_DIAL_S))
    r = run(tmp_path, sim, mode="alert", contacts=CONTACTS, backlog=3, send_ms=50,
            trigger_in_dial_ms=1000, end_ms=100000, timeout=150, **kw)
    assert r["dialing_at_trigger"] and not r["released_at_trigger"] and r["sent_before"] == 0, r
    alert, notices = split_sms(r, sim)
    # the alert's 5 SMS, one per contact; then (issue 20 item 6) the 5 end notices at alert_active_s
    assert len(alert) == 5 and len(notices) == 5 and r["sms_sent"] == 10, r
    assert sorted(s["to"] for s in alert) == sorted(c["number"] for c in CONTACTS)
    assert r["pending"] == 0 and r["dials"] >= 1, r  # the link dialled again and emptied its queue
    return r, sim


SLOW_DIAL_S = 8


def test_alert_during_a_slow_dial_aborts_it_and_sends_at_once(tmp_path, report):
    r, sim = _slow_dial_alert(tmp_path)
    events = [e["event"] for e in sim.data_log]
    assert events[0] == "abort" and "connect" in events, sim.data_log  # aborted, then dialled again
    # the alert's trigger aborted the dial once. Issue 20 item 6: at alert_active_s the end notices
    # go out the same way (send_pdu() aborts any dial in flight) and may abort the link's re-dial;
    # those come after the alert's end and at most one per notice sent
    assert r["dial_aborts_before_end"] == 1, r
    assert r["dial_aborts"] == r["dial_aborts_logged"] <= 1 + 5, r
    # the abort CR (after the 200 ms guard: long past) + NO CARRIER + the first CMGS (0.2 s)
    assert r["trigger_to_first_sms_ms"] < 1500, r
    report("data mode: alert during a slow dial", "dial taking %d s, trigger 1 s into it: dial aborted "
           "(CR -> NO CARRIER), first SMS accepted %d ms after the trigger; 5/5 SMS (+5 end notices); link re-dialled "
           "after the dispatch" % (SLOW_DIAL_S, r["trigger_to_first_sms_ms"]))


def test_negative_control_without_the_abort_the_sms_waits_for_the_dial(tmp_path, report):
    r, sim = _slow_dial_alert(tmp_path, no_abort=True)
    assert r["dial_aborts"] == 0 and "abort" not in [e["event"] for e in sim.data_log], r
    # the rest of the dial (7 s), then the hang-up PPP's CONNECT forces (~2 s guard times)
    assert r["trigger_to_first_sms_ms"] >= (SLOW_DIAL_S - 1) * 1000, r
    report("data mode: slow dial, no abort (control)", "same case without abort_dial(): first SMS "
           "%d ms after the trigger" % r["trigger_to_first_sms_ms"])
