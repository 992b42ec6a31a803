"""Issue 19 item 10: `alertbutton sim --out DIR` loses nothing (it refuses a non-empty folder it did not
make, and clears only what a run wrote), and its exit code counts the firmware's own sms_sent events,
whichever modem answered (also an external AT peer given with --modem-pty)."""
import json
import os
import time

import pytest

from alertbutton import cli
from alertbutton.sim import outdir
from alertbutton.sim.run import _inbound_dialect, alert_outcome

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "scenarios", "demo.json")


def test_a_users_folder_is_refused_and_kept(tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("her file")
    rc = cli.main(["sim", "--scenario", DEMO, "--out", str(d)])
    err = capsys.readouterr().err
    assert rc == 2 and "not empty" in err and "notes.txt" in err and "nothing was deleted" in err, err
    assert (d / "notes.txt").read_text() == "her file" and os.listdir(d) == ["notes.txt"]
    # a file instead of a folder
    rc = cli.main(["sim", "--scenario", DEMO, "--out", str(d / "notes.txt")])
    assert rc == 2 and "is a file" in capsys.readouterr().err


def test_a_runs_own_folder_is_reused_but_not_a_file_added_to_it(tmp_path):
    d = str(tmp_path / "run")
    outdir.prepare(d)  # new folder: made, marked
    for name in ("sms.jsonl", "events.jsonl", "firmware.log", "console_port"):
        open(os.path.join(d, name), "w").write("old")
    os.makedirs(os.path.join(d, "flash", "evidence"))
    outdir.prepare(d)  # what a run wrote is replaced
    assert sorted(os.listdir(d)) == [outdir.MARKER]
    open(os.path.join(d, "report.pdf"), "w").write("hers")
    with pytest.raises(outdir.OutDirError) as e:
        outdir.prepare(d)
    assert "report.pdf" in str(e.value) and os.path.exists(os.path.join(d, "report.pdf"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert outdir.prepare(str(empty)) == str(empty)


def test_outcome_counts_the_firmwares_events():
    sc = {"contacts": [{"name": "A%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)],
          "events": [{"t": 1, "gesture": "alert"}]}
    ev = [{"event": "trigger", "alert": 7}] + [{"event": "sms_sent", "contact": c, "alert": 7} for c in range(5)]
    assert alert_outcome(sc, ev) == (True, "5 of 5 contacts' alert SMS accepted by the modem")
    # a follow-up to the same contact does not stand in for another contact
    ev2 = ev[:5] + [{"event": "sms_sent", "contact": 0, "alert": 7}]
    assert alert_outcome(sc, ev2) == (False, "4 of 5 contacts' alert SMS accepted by the modem")
    assert alert_outcome(sc, [])[0] is False
    assert alert_outcome(dict(sc, events=[]), []) == (True, "no alert asked for, none triggered")


def test_modem_pty_exit_code_from_the_firmwares_events(tmp_path, capsys):
    """An external AT peer received the five SMS: exit 0 and "5 of 5" (before: exit 1, "0 SMS")."""
    sc = json.load(open(DEMO))
    sc["modem"] = {"cmgs_latency_s": 0.05, "cmd_latency_s": 0.005}
    sc["gnss"] = None
    sc["events"] = [{"t": 3.0, "gesture": "alert"}]
    sc["duration_s"] = 25
    path = tmp_path / "sc.json"
    path.write_text(json.dumps(sc))
    got = []
    peer_sc = dict(sc, t0=time.monotonic())
    peer = _inbound_dialect(peer_sc)(peer_sc, on_sms=got.append, seed=5)
    pty = peer.start()
    try:
        rc = cli.main(["sim", "--scenario", str(path), "--out", str(tmp_path / "out"), "--modem-pty", pty])
    finally:
        peer.stop()
    out = capsys.readouterr().out
    assert len({r["to"] for r in got}) == 5, got
    assert rc == 0, out
    assert "5 of 5 contacts' alert SMS accepted by the modem" in out and "external modem" in out


@pytest.mark.parametrize("change, words", [
    ({"duration_s": "30"}, "duration_s: a number"),
    ({"events": [{"t": "6", "gesture": "alert"}]}, "t: a number"),
    ({"events": {"t": 6}}, "events: a list"),
    ({"gnss": {"lat": "48.8", "lon": 2.3}}, "gnss.lat: a number"),
    ({"gnss": {"lat": 148.8, "lon": 2.3}}, "out of range"),
    ({"modem": {"cmgs_latency_s": None}}, "modem.cmgs_latency_s: a number"),
    ({"battery_mv": True}, "battery_mv: a number"),
])
def test_scenario_type_errors_are_said_before_boot(tmp_path, capsys, change, words):
    """Issue 19 item 9: a wrong type in a scenario is refused with exit 2 and its key, before the VM
    boots (it used to end in a traceback after boot)."""
    sc = json.load(open(DEMO))
    sc.update(change)
    path = tmp_path / "sc.json"
    path.write_text(json.dumps(sc))
    rc = cli.main(["sim", "--scenario", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()  # refused before anything was made
