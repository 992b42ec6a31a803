"""Issue 25 item 6 at run time, end to end through `alertbutton sim`: a button whose platform cannot be
reached says why, in words a technician can act on, in `alertbutton status` and in `AB1 platform`
(before issue 25: `OSError('[addrinfo error -2]')`, `OSError(111,)`, `MQTTException(5,)` in the event
log only, and counts in `AB1 platform`). One boot per cause: a name the DNS server does not know,
a port nobody listens on, a password the broker refuses, a certificate from another CA."""
import json

import pytest

from alertbutton import cli
from alertbutton.device import technician as device_cli
from alertbutton.sim.run import SimRun

import mqtt_broker
import net_faults

CONTACTS = [{"name": "C1", "number": "+33612345601"}]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    mqtt_broker.require_tools()
    b = mqtt_broker.Broker(str(tmp_path_factory.mktemp("broker")))
    b.start()
    yield b
    b.stop()


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


CASES = {
    "name not resolved": (False, lambda b, dns: b.device_config(plain=True, host="mqtt.asso.example"),
                          "name not resolved: mqtt.asso.example (no such name, said the DNS server 127.0.0.1)"),
    "connection refused": (False, lambda b, dns: b.device_config(plain=True, port=_free_port()),
                           "nothing listens on that port (wrong host or port, or the server is down)"),
    "wrong password": (None, lambda b, dns: b.device_config(plain=not dns, password="not-the-password"),
                       "refused the device: not authorized: wrong password, or this device was revoked on the broker"),
    "certificate refused": (True, lambda b, dns: b.device_config(),
                            "certificate refused: localhost is not verified against the platform CA: "
                            "The certificate is not correctly signed by the trusted CA"),
}


@pytest.mark.parametrize("cause", [
    pytest.param(c, marks=[pytest.mark.needs_ssl] if CASES[c][0] else []) for c in CASES])
def test_the_last_error_in_plain_words(tmp_path, broker, cause, capsys, report):
    from alertbutton import vm
    tls, make, words = CASES[cause]
    ssl = vm.vm_facts()["ssl"]
    dns = net_faults.DnsServer()  # knows no name: "no such name"
    pcfg = make(broker, ssl if tls is None else tls)
    ca = broker.other_ca_der if cause == "certificate refused" else broker.ca_der
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": None, "last_fix": None, "events": [],
          "duration_s": 60, "modem": {"cmd_latency_s": 0.005}, "platform": pcfg, "platform_ca": ca}
    if pcfg["mqtt"]["host"] != "localhost":  # the board asks this DNS server (loopback names: the host's resolver)
        sc["dns"] = ["127.0.0.1", dns.port]
    run = SimRun(sc, str(tmp_path / "sim"), echo=None)
    run.start()
    try:
        assert run.wait_for(lambda r: any(e["event"] == "platform_error" for e in r.events), 30, fail_on_exit=True), \
            [e["event"] for e in run.events][-10:]
        err = [e for e in run.events if e["event"] == "platform_error"][0]
        assert words in err["err"], err
        capsys.readouterr()
        assert cli.main(["--port", run.console_port, "status"]) == 0
        out = capsys.readouterr().out
        line = [x for x in out.splitlines() if x.startswith("Platform")]
        assert line and "NOT REACHED: " in line[0] and words in line[0], out
        dev = device_cli.Device(run.console_port)
        try:
            st = dev.call("platform")
        finally:
            dev.close()
        assert words in st["link"]["error"] and st["link"]["failures"] >= 1, json.dumps(st)
    finally:
        run.stop()
        dns.close()
    report("issue 25: the platform's last error, as `alertbutton status` shows it",
           "%-20s %s" % (cause, line[0][15:]))
