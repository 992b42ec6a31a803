"""Issue 19 item 5: `alertbutton deploy` pointed at a running button (its console, whose REPL is
locked) stops within seconds with what to do, instead of sitting 120 s at "1/7 connect"; with the PIN
it asks the button to open its REPL (`AB1 maintenance`). The simulated board has no REPL behind its
console, so the last step is checked to the point where the REPL would take over."""
import time

import pytest

from alertbutton import cli
from alertbutton.sim.run import SimRun

PIN = "2468"


@pytest.fixture(scope="module")
def button(tmp_path_factory):
    sc = {"wearer": "Camille", "contacts": [{"name": "A", "number": "+33612345601"}], "gnss": None,
          "last_fix": None, "events": [], "duration_s": 120, "modem": {"cmgs_latency_s": 0.1, "cmd_latency_s": 0.005}}
    run = SimRun(sc, str(tmp_path_factory.mktemp("deploy") / "run"), echo=None)
    run.start()
    assert run.wait_for(lambda r: any(e["event"] == "modem_ready" for e in r.events), 15, fail_on_exit=True)
    assert cli.main(["--port", run.console_port, "pin", "set", "--new-pin", PIN]) == 0
    yield run
    run.stop()


def deploy(capsys, *argv):
    t0 = time.monotonic()
    rc = cli.main(["deploy", "--skip-mip"] + list(argv))
    return rc, time.monotonic() - t0, capsys.readouterr()


def test_a_locked_button_is_named_within_seconds(button, capsys):
    rc, took, cap = deploy(capsys, "--port", button.console_port)
    assert rc == 4 and took < 10, (rc, took)
    assert "running alert button" in cap.err and "REPL is locked" in cap.err and "--pin" in cap.err, cap.err


def test_a_wrong_pin_is_said(button, capsys):
    rc, took, cap = deploy(capsys, "--port", button.console_port, "--pin", "0000")
    assert rc == 4 and took < 10 and "wrong PIN" in cap.err, cap.err


def test_the_pin_opens_the_repl(button, capsys, monkeypatch):
    seen = []
    from alertbutton.device import deploy as dep

    def no_repl(port):  # what mpremote would do next on an ESP32: here there is no REPL to enter
        seen.append(port)
        raise dep.DeployError("stop here", 1)
    monkeypatch.setattr(dep, "_connect", no_repl)
    rc, took, cap = deploy(capsys, "--port", button.console_port, "--pin", PIN)
    assert rc == 1 and seen == [button.console_port] and "opened its REPL for 10 min" in cap.out, cap
    assert any(e["event"] == "maintenance_open" for e in button.events)


def test_no_device_exits_3(tmp_path, capsys):
    rc, took, cap = deploy(capsys, "--port", str(tmp_path / "ttyNONE"))
    assert rc == 3 and "no device" in cap.err, cap.err
