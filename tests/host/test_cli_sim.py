"""The issue's "done when", end to end: the firmware boots in the MicroPython VM on the simulated
board, the `alertbutton` CLI talks to its console over a pty (as over USB serial), sets five contacts,
shows them in the message preview, and a simulated alert gesture sends the five SMS to exactly those
numbers (decoded by the modem simulator with an independent decoder). Also the CLI's error cases."""
import json
import os
import time

import pytest

from alertbutton import cli
from alertbutton.device.ptybridge import PtyBridge
from alertbutton.sim.run import SimRun



# typed as a technician would; the device stores E.164
CONTACTS = [("06 12 34 56 01", "+33612345601", "Sophie"), ("0752345602", "+33752345602", "Karim Ben Ali"),
            ("+33 6 12 34 56 03", "+33612345603", "Association"), ("0692 12 34 04", "+262692123404", "Julie"),
            ("+44 7400 900105", "+447400900105", "Nadia")]
PIN = "4826"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("clisim")
    sc = {"wearer": "", "contacts": [], "gnss": None, "last_fix": None, "events": [], "duration_s": 120,
          "modem": {"cmgs_latency_s": 0.1, "cmd_latency_s": 0.005}}
    run = SimRun(sc, str(out), echo=None)
    run.start()
    assert run.wait_for(lambda r: any(e["event"] == "modem_ready" for e in r.events), 15, fail_on_exit=True), \
        run.events
    yield run
    run.stop()


def ab(capsys, port, *argv, json_out=True):
    """Run the CLI in-process: (exit status, parsed JSON or text, stderr)."""
    # --keep-unlocked: these steps follow one another like a technician's session (the lock at exit
    # is tested on its own below)
    argv = ["--port", port, "--keep-unlocked"] + (["--json"] if json_out else []) + list(argv)
    rc = cli.main(argv)
    cap = capsys.readouterr()
    if json_out and cap.out.strip():
        return rc, json.loads(cap.out.strip().splitlines()[-1]), cap.err
    return rc, cap.out, cap.err


def wait_events(run, pred, timeout=20):
    if not run.wait_for(lambda _r: pred(), timeout, fail_on_exit=True):
        raise AssertionError([e for e in run.events if e["event"] != "state"][-20:])


def test_console_port_is_published(sim):
    assert open(os.path.join(sim.out, "console_port")).read().strip() == sim.console_port
    assert os.path.exists(sim.console_port)


def test_five_contacts_preview_and_alert(sim, capsys):
    p = sim.console_port
    rc, text, _ = ab(capsys, p, "status", json_out=False)
    assert rc == 0 and text.startswith("NOT CONFIGURED")
    rc, h, _ = ab(capsys, p, "status")
    assert h["configured"] is False and h["board"] == "sim" and h["modem"]["ready"]
    # no PIN yet: changes refused with a hint
    rc, _o, err = ab(capsys, p, "contacts", "set", "1", CONTACTS[0][0], "Sophie", json_out=False)
    assert rc == 4 and "pin set" in err
    rc, r, _ = ab(capsys, p, "pin", "set", "--new-pin", PIN)
    assert rc == 0 and r["pin_set"]
    for slot, (typed, _e164, name) in enumerate(CONTACTS, 1):
        rc, r, err = ab(capsys, p, "contacts", "set", str(slot), typed, *name.split())
        assert rc == 0, err
        assert r["number"] == CONTACTS[slot - 1][1] and r["name"] == name
    rc, r, _ = ab(capsys, p, "wearer", "set", "Camille")
    assert rc == 0 and r["in_sms"] == "Camille"
    rc, r, _ = ab(capsys, p, "contacts", "list")
    assert [(s["number"], s["name"]) for s in r["slots"]] == [(e, n) for _t, e, n in CONTACTS]
    rc, text, _ = ab(capsys, p, "contacts", "list", json_out=False)
    assert "+33 6 12 34 56 01 (France, mobile)" in text and "+262 692 12 34 04 (Reunion, mobile)" in text
    rc, pv, _ = ab(capsys, p, "preview")
    msgs = pv["messages"]
    assert [m["to"] for m in msgs] == [e for _t, e, _n in CONTACTS]
    assert all(m["segments"] == 1 and m["units"] <= m["limit"] and "Camille" in m["text"] for m in msgs)
    rc, text, _ = ab(capsys, p, "preview", json_out=False)
    assert text.count("1 segment,") == 5
    # a technician's test to two contacts: a clearly marked TEST SMS to exactly those two
    n0 = len(sim.sms)
    rc, r, err = ab(capsys, p, "test-alert", "2,4")
    assert rc == 0, err
    assert r["to"] == [CONTACTS[1][1], CONTACTS[3][1]]
    wait_events(sim, lambda: len(sim.sms) >= n0 + 2 and any(
        e["event"] == "state" and e.get("to") == "idle" and e["t"] > sim.sms[-1]["t"] for e in sim.events))
    test_sms = sim.sms[n0:]
    assert sorted(s["to"] for s in test_sms) == sorted([CONTACTS[1][1], CONTACTS[3][1]])
    assert all(s["text"].startswith("TEST") for s in test_sms)
    # the simulated alert: the virtual button makes the alert gesture (the test did not hold it off)
    n0 = len(sim.sms)
    sim.gesture({"t": 0, "gesture": "alert"})
    wait_events(sim, lambda: len(sim.sms) >= n0 + 5 and [
        e for e in sim.events if e["event"] == "dispatch_done" and e["t"] >= sim.sms[n0]["t"]])
    time.sleep(0.3)
    sent = sim.sms[n0:]
    assert sorted(s["to"] for s in sent) == sorted(e for _t, e, _n in CONTACTS)  # exactly those, once each
    assert len(sent) == 5
    for s in sent:  # what the preview showed is what was sent (no fix, same battery: same text)
        assert s["text"] == msgs[0]["text"], (s["text"], msgs[0]["text"])
    rc, h, _ = ab(capsys, p, "status")
    assert h["configured"] and h["contacts"] == 5 and h["last_alert"]["kind"] == "alert"


def test_errors_are_clear(sim, capsys, tmp_path):
    p = sim.console_port
    # invalid number: refused on the host by the firmware's own check, nothing sent to the device
    rc, _o, err = ab(capsys, p, "contacts", "set", "2", "0812345678", "Service", json_out=False)
    assert rc == 2 and "invalid number" in err and "08" in err
    rc, r, _ = ab(capsys, p, "contacts", "list", "--pin", PIN)
    assert r["slots"][1]["number"] == CONTACTS[1][1]
    # locked device
    ab(capsys, p, "lock")
    rc, _o, err = ab(capsys, p, "contacts", "list", json_out=False)
    assert rc == 4 and "locked" in err and "unlock" in err
    rc, r, _ = ab(capsys, p, "contacts", "list")
    assert r["error"] == "LOCKED" and r["exit"] == 4
    rc, _o, err = ab(capsys, p, "contacts", "list", "--pin", "0000", json_out=False)
    assert rc == 4 and err.count("wrong PIN") == 1 and "tries left" in err
    # the hint names the port in use, also when it came from $ALERTBUTTON_PORT
    os.environ["ALERTBUTTON_PORT"] = p
    try:
        assert cli.main(["contacts", "list"]) == 4
    finally:
        del os.environ["ALERTBUTTON_PORT"]
    assert "alertbutton --port %s unlock" % p in capsys.readouterr().err
    rc, _o, _e = ab(capsys, p, "unlock", "--pin", PIN)
    assert rc == 0
    # a request cut short (cable pulled mid-write) must not spoil, nor be run with, the next one
    import serial
    with serial.Serial(p, 115200) as cut:
        cut.write(b"AB1 contacts set 2 0612345699 Cut")
        cut.flush()
    rc, r, _ = ab(capsys, p, "contacts", "list")
    assert rc == 0 and r["slots"][1]["number"] == CONTACTS[1][1], r
    # no device at that path
    rc, _o, err = ab(capsys, str(tmp_path / "ttyUSB9"), "status", json_out=False)
    assert rc == 3 and "no device at" in err
    # a serial port with no alert button behind it
    silent = PtyBridge().start()
    try:
        rc, _o, err = ab(capsys, silent.host_path, "status", "--timeout", "0.5", json_out=False)
    finally:
        silent.close()
    assert rc == 3 and "no alert button answered" in err
    # the button's port held by another program (a terminal, mpremote)
    import serial
    held = serial.Serial(p, exclusive=True)
    try:
        rc, _o, err = ab(capsys, p, "status", json_out=False)
    finally:
        held.close()
    assert rc == 3 and "in use by another program" in err


def test_config_export_factory_reset_import(sim, capsys, tmp_path):
    p = sim.console_port
    f = tmp_path / "button.json"
    rc, _r, _e = ab(capsys, p, "config", "export", str(f), "--pin", PIN)
    assert rc == 0
    exported = json.loads(f.read_text())
    assert "pin" not in exported and len(exported["contacts"]) == 5
    rc, r, _ = ab(capsys, p, "factory-reset", "--yes")
    assert rc == 0 and r["configured"] is False
    rc, h, _ = ab(capsys, p, "status")
    assert h["configured"] is False and h["pin_set"] is False
    # a bad file is refused before anything is sent
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"contacts": [{"name": "X", "number": "0899999999"}]}))
    rc, _o, err = ab(capsys, p, "config", "import", str(bad), json_out=False)
    assert rc == 2 and "service" in err
    ab(capsys, p, "pin", "set", "--new-pin", PIN)
    rc, r, _ = ab(capsys, p, "config", "import", str(f))
    assert rc == 0 and r["contacts"] == 5
    rc, r, _ = ab(capsys, p, "contacts", "list")
    assert [s["number"] for s in r["slots"]] == [e for _t, e, _n in CONTACTS]
    rc, r, _ = ab(capsys, p, "logs", "-n", "5")
    assert rc == 0 and r["lines"] and r["lines"][-1]["event"] == "config_changed"


def test_config_export_never_overwrites_and_is_private(sim, capsys, tmp_path):
    """Issue 19 item 8: an existing file is refused without --force (left as it was), the export is
    mode 0600, and a folder or a missing folder get a message instead of a traceback."""
    p = sim.console_port
    f = tmp_path / "button.json"
    f.write_text("her earlier export")
    rc, _o, err = ab(capsys, p, "config", "export", str(f), "--pin", PIN, json_out=False)
    assert rc == 2 and "exists" in err and "--force" in err, err
    assert f.read_text() == "her earlier export"
    new = tmp_path / "new.json"
    rc, _o, err = ab(capsys, p, "config", "export", str(new), "--pin", PIN, json_out=False)
    assert rc == 0, err
    assert os.stat(new).st_mode & 0o777 == 0o600 and "contacts" in json.loads(new.read_text())
    os.chmod(f, 0o644)
    rc, _o, err = ab(capsys, p, "config", "export", str(f), "--pin", PIN, "--force", json_out=False)
    assert rc == 0, err
    assert os.stat(f).st_mode & 0o777 == 0o600 and json.loads(f.read_text())["format"] == "alertbutton-config"
    assert sorted(os.listdir(tmp_path)) == ["button.json", "new.json"]  # no temporary file left
    rc, _o, err = ab(capsys, p, "config", "export", str(tmp_path), "--pin", PIN, json_out=False)
    assert rc == 2 and "is a folder" in err and "Traceback" not in err, err
    rc, _o, err = ab(capsys, p, "config", "export", str(tmp_path / "no" / "such" / "b.json"), "--pin", PIN,
                     json_out=False)
    assert rc == 2 and "does not exist" in err, err


def test_pin_change_needs_the_current_pin_and_the_cli_locks_at_exit(sim, capsys):
    """Issue 19 item 6."""
    p = sim.console_port
    rc, h, _ = ab(capsys, p, "status")
    assert h["pin_set"] is True
    # an unlocked session is not enough to change the PIN: the current one is asked
    rc, _o, err = ab(capsys, p, "pin", "set", "--new-pin", "1357", json_out=False)
    assert rc == 2 and "no terminal to type the PIN in" in err, err  # pytest has no terminal
    rc, _o, err = ab(capsys, p, "pin", "set", "--new-pin", "1357", "--pin", "0000", json_out=False)
    assert rc == 4 and "wrong PIN" in err and "tries left" in err, err
    rc, r, err = ab(capsys, p, "pin", "set", "--new-pin", "1357", "--pin", PIN)
    assert rc == 0 and r["pin_set"], err
    rc, r, err = ab(capsys, p, "pin", "set", "--new-pin", PIN, "--pin", "1357")
    assert rc == 0, err
    # without --keep-unlocked the CLI locks the session it opened when it exits
    assert cli.main(["--port", p, "--json", "contacts", "list", "--pin", PIN]) == 0
    capsys.readouterr()
    rc = cli.main(["--port", p, "--json", "contacts", "list"])
    err = capsys.readouterr().err
    assert rc == 4 and "unlock" in err, err
    # with it, the session stays open for the next command
    assert cli.main(["--port", p, "--keep-unlocked", "contacts", "list", "--pin", PIN]) == 0
    assert cli.main(["--port", p, "contacts", "list"]) == 0
