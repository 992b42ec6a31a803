"""Issue 19 item 4: no full phone number in any log or event. An alert runs end to end on the simulated
board (five contacts of four countries, delivery reports, a position follow-up, a contact's STOP, an SMS
from an unknown sender); then every log and event output is searched for the numbers in every written
form: the firmware's events (events.jsonl), its other output (firmware.log), the event log on its flash
(events.log and its rotation) and the console's `logs` through the CLI. Not searched, on purpose: the
configuration record and the outbox (the product needs the numbers there) and sms.jsonl (what the
simulated network delivered, not a log of the button)."""
import json
import os
import time

import pytest

from alertbutton import cli
from alertbutton.sim.run import SimRun

PIN = "4826"
CONTACTS = [("Sophie", "+33612345601"), ("Karim", "+33752345602"), ("Julie", "+262692123404"),
            ("Nadia", "+447400900105"), ("Elodie", "+32470123406")]
STRANGER = "+33698765432"


def forms(e164, cc):
    nsn = e164[1 + len(cc):]
    national = "0" + nsn
    return {e164, e164[1:], "00" + e164[1:], national, " ".join([national[:2]] + [national[i:i + 2] for i in range(2, 10, 2)]),
            nsn, nsn[-8:]}


def needles():
    out = {}
    for _n, e in CONTACTS + [("?", STRANGER)]:
        cc = "262" if e.startswith("+262") else e[1:3]
        for f in forms(e, cc):
            out[f] = e
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("nolog")
    sc = {"wearer": "Camille", "contacts": [{"name": n, "number": x} for n, x in CONTACTS],
          "gnss": {"lat": 45.76404, "lon": 4.83566, "acc_m": 9.0, "after_s": 6.0}, "last_fix": None,
          "modem": {"cmgs_latency_s": 0.1, "cmd_latency_s": 0.005},
          "config": {"contacts_pin": PIN},
          "events": [{"t": 2.0, "gesture": "alert"},
                     {"t": 5.0, "sms": {"from": STRANGER, "text": "STOP 0000"}},
                     {"t": 9.0, "sms": {"from": "0612345601", "text": "OK"}},
                     {"t": 11.0, "sms": {"from": CONTACTS[2][1], "text": "STOP " + PIN}}],
          "duration_s": 16}
    run = SimRun(sc, str(out / "run"), echo=None)
    try:
        run.start()
        run.run_script(stop_when_done=False)
        capsys_out = []
        assert cli.main(["--port", run.console_port, "pin", "set", "--new-pin", PIN]) == 0
        import io
        import contextlib
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert cli.main(["--port", run.console_port, "logs", "-n", "64", "--pin", PIN]) == 0
            assert cli.main(["--port", run.console_port, "--json", "logs", "-n", "64", "--pin", PIN]) == 0
        capsys_out.append(buf.getvalue())
        time.sleep(1.5)  # the flash log is written in batches
    finally:
        run.stop()
    texts = {"console logs": "\n".join(capsys_out)}
    for name in ("events.jsonl", "firmware.log"):
        texts[name] = open(os.path.join(run.out, name), encoding="utf-8").read()
    for name in ("events.log", "events.log.1"):
        p = os.path.join(run.flash, name)
        if os.path.exists(p):
            texts["flash/" + name] = open(p, encoding="utf-8").read()
    return run, texts


def test_the_alert_really_happened(outputs):
    run, texts = outputs
    names = [e["event"] for e in run.events]
    assert names.count("sms_sent") >= 5 and "sms_delivered" in names and "alert_stop" in names, names
    assert len(texts["events.jsonl"]) > 2000 and "flash/events.log" in texts


def test_no_full_number_in_any_log_or_event(outputs):
    _run, texts = outputs
    found = [(where, n, e) for where, text in texts.items() for n, e in needles().items() if n in text]
    assert found == [], found[:10]


def test_contacts_are_named_by_slot_and_masked_number(outputs):
    run, texts = outputs
    sent = [e for e in run.events if e["event"] == "sms_sent"]
    assert sorted(e["slot"] for e in sent[:5]) == [1, 2, 3, 4, 5]
    by_slot = {e["slot"]: e["to"] for e in sent[:5]}
    assert by_slot[1] == "+33 6 •• •• •• 01" and by_slot[3] == "+262 6•• •• •• 04", by_slot
    assert by_slot[4] == "+44 7••• ••••05" and by_slot[5] == "+32 4•• •• •• 06", by_slot
    assert "slot=1" in texts["console logs"] and "contact=0" not in texts["console logs"]
