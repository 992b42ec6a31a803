"""Issue 9 end to end through `alertbutton sim`: the firmware (main.py, App) boots in the VM on the
simulated board; a technician provisions it over its console with `alertbutton provision` (fleet
template + this device's credentials + the platform CA); after a reboot the App starts the platform
link (its own MQTT client: nothing to install since issue 25), and an alert gesture sends five SMS
through the modem simulator while the alert events reach a real mosquitto over TLS."""
import json
import os

import pytest

from alertbutton import cli
from alertbutton.sim.run import SimRun

import mqtt_broker
from mqtt_broker import Subscriber

PIN = "4826"
CONTACTS = [{"name": "Sophie", "number": "+33612345601"}, {"name": "Karim", "number": "+33612345602"},
            {"name": "Association", "number": "+33612345603"}, {"name": "Julie", "number": "+33752345604"},
            {"name": "Nadia", "number": "+33612345605"}]


@pytest.fixture
def broker(tmp_path):
    yield from mqtt_broker.running_broker(tmp_path)


def wait(run, pred, timeout, what):
    if not run.wait_for(lambda _r: pred(), timeout, fail_on_exit=True):
        raise AssertionError("%s: %s" % (what, [e for e in run.events if e["event"] != "state"][-25:]))


@pytest.mark.needs_ssl  # MQTT over TLS: the VM needs its ssl module
def test_provision_reboot_alert_reaches_platform(tmp_path, broker, capsys, report):
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": {"lat": 48.85661, "lon": 2.35222, "acc_m": 12.0,
                                                             "after_s": 0.5},
          "last_fix": None, "events": [], "duration_s": 120,
          "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005}}
    run = SimRun(sc, str(tmp_path / "sim"), echo=None)
    sub = Subscriber(broker)
    run.start()
    try:
        assert sub.ready(), broker.log_text()
        wait(run, lambda: any(e["event"] == "modem_ready" for e in run.events), 20, "modem")
        port = run.console_port
        assert cli.main(["--port", port, "pin", "set", "--new-pin", PIN]) == 0
        # the fleet template (common settings) and this device's credentials
        dev_cfg = broker.device_config()
        template = {"config": {"lang": "fr"},
                    "platform": {"transport": "mqtt", "link": "host", "heartbeat_s": 600, "timeout_s": 3,
                                 "backoff_max_s": 2,
                                 "mqtt": {"host": "localhost", "port": broker.port, "tls": True}},
                    "ca": broker.ca_pem}
        tpath = tmp_path / "fleet.json"
        tpath.write_text(json.dumps(template))
        creds = tmp_path / "creds.csv"
        creds.write_text("device,user,password\nab-other,x,other-pass-1\n%s,%s,%s\n" % (
            dev_cfg["device"], dev_cfg["mqtt"]["user"], dev_cfg["mqtt"]["password"]))
        capsys.readouterr()
        rc = cli.main(["provision", "--template", str(tpath), "--port", port, "--device", dev_cfg["device"],
                       "--credentials", str(creds), "--pin", PIN])
        out = capsys.readouterr()
        assert rc == 0, out
        assert "provisioned ab-test-1" in out.out
        on_flash = json.load(open(os.path.join(run.flash, "platform.json")))
        assert on_flash["device"] == "ab-test-1" and on_flash["mqtt"]["password"] == dev_cfg["mqtt"]["password"]
        assert open(os.path.join(run.flash, "platform_ca.der"), "rb").read() == open(broker.ca_der, "rb").read()
        # a reboot applies it all (no library to install: the link's MQTT client is the firmware's own)
        assert not os.path.exists(os.path.join(run.flash, "lib", "umqtt"))
        run.reset(2, "machine.reset")
        wait(run, lambda: any(e["event"] == "platform_connected" for e in run.events), 30, "platform link")
        assert sub.wait(lambda m: any(t == "status/ab-test-1" for t, _ in m), 15), sub.snapshot()
        wait(run, lambda: any(e["event"] == "fix" for e in run.events), 20, "GNSS fix")
        run.gesture({"t": 0, "gesture": "alert"})
        wait(run, lambda: any(e["event"] == "dispatch_done" for e in run.events), 30, "dispatch")
        assert sub.wait(lambda m: any(isinstance(b, dict) and b.get("event") == "dispatched"
                                      for t, b in m if t == "alerts/ab-test-1"), 20), sub.snapshot()
    finally:
        run.stop()
        sub.close()
    alerts = [b for t, b in sub.snapshot() if t == "alerts/ab-test-1"]
    events = sorted({(b["seq"], b["event"]) for b in alerts})
    names = [e for _s, e in events]
    assert names[0] == "triggered" and names.count("sms") == 5 and "dispatched" in names, events
    last = [b for b in alerts if b["event"] == "dispatched"][0]
    assert last["trigger"] in ("button", "alert") and last["kind"] == "alert"
    assert len(last["sms"]) == 5 and all(s["st"] in ("accepted", "delivered") for s in last["sms"]), last
    assert last["pos"] and abs(last["pos"][-1]["lat"] - 48.85661) < 1e-4, last
    assert len(run.sms) == 5
    trig = [e["t"] for e in run.events if e["event"] == "trigger"][-1]
    report("platform link: `alertbutton sim` end to end",
           "provisioned over the console, rebooted, alert: 5 SMS (trigger -> 5th %.2f s on the simulator "
           "clock), %d alert events on alerts/ab-test-1" % (run.sms[-1]["t"] - trig, len(events)))
