"""The HTTP webhook over verified HTTPS (issue 9): the firmware in the MicroPython VM (requests frozen
in, as on the ESP32) POSTs to a real TLS server on loopback (CPython http.server + ssl, certificates
made with openssl). The right CA and name: every event delivered and acknowledged. Another CA (a man
in the middle) or a name the certificate does not carry: refused, nothing sent, the events stay in
the flash queue, and the log says why."""
import datetime
import json
import os

import pytest

from alertbutton import vm
from alertbutton.sim.modem.pdu import status_report_pdu

import mqtt_broker
import webhook as hook

pytestmark = pytest.mark.needs_ssl  # the button speaks TLS: the VM needs its ssl module

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(os.path.dirname(HERE), "vm", "platform_alert.py")
CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
FIX = {"lat": 48.85661, "lon": 2.35222, "acc_m": 12}
SECRET = "webhook-secret-0123456789"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if mqtt_broker.tool("openssl") is None:
        pytest.skip("openssl missing")
    d = str(tmp_path_factory.mktemp("pki"))
    ca_key, ca_pem, ca_der = mqtt_broker.make_ca(d, "ca", "platform CA")
    _k, _p, other_der = mqtt_broker.make_ca(d, "other", "not the platform CA")
    key, cert = mqtt_broker.make_server_cert(d, ca_pem, ca_key, "localhost")
    return {"ca": ca_der, "other": other_der, "key": key, "cert": cert}


@pytest.fixture
def webhook(certs):
    srv = hook.serve(SECRET, cert=certs["cert"], key=certs["key"])
    yield srv
    srv.shutdown()
    srv.server_close()


def _reports():
    now = datetime.datetime.now(datetime.timezone.utc)
    return {str(i + 1): status_report_pdu(i + 1, c["number"], now, now, 0)[0] for i, c in enumerate(CONTACTS)}


def _run(tmp_path, ca, url, deadline_ms=60000):
    d = tmp_path / "flash"
    d.mkdir()
    with open(ca, "rb") as f:
        (d / "platform_ca.der").write_bytes(f.read())
    pcfg = {"device": "ab-test-1", "transport": "http", "timeout_s": 3, "backoff_max_s": 2,
            "http": {"url": url, "secret": SECRET}}
    (d / "run.json").write_text(json.dumps({"contacts": CONTACTS, "fix": FIX, "reports": _reports(), "sms_ms": 100,
                                             "report_after_ms": 200, "active_s": 2, "platform": pcfg,
                                             "deadline_ms": deadline_ms}))
    p = vm.run(script=PROGRAM, cwd=str(d), timeout=120)
    assert "DONE" in p.stdout, p.stdout[-3000:] + p.stderr
    done = json.loads([x for x in p.stdout.splitlines() if x.startswith("DONE ")][0][5:])
    events = [json.loads(x[3:]) for x in p.stdout.splitlines() if x.startswith("EV ")]
    return done, events, d


def test_https_webhook_with_the_platform_ca_delivers_everything(tmp_path, webhook, certs, report):
    port = webhook.server_address[1]
    done, events, _d = _run(tmp_path, certs["ca"], "https://localhost:%d/hook" % port)
    # the alert's 5 SMS (the outbox records without "why"), and, issue 20 item 6, the 5 end notices
    # (why "end") it sends each contact when it ends at its time limit (active_s 2 s)
    assert done["sms"] == 5 and done["pending"] == 0 and done["failures"] == 0, done
    assert done["notices"] == 5 and done["sends"] == 10, done
    notices = [r for r in done["recs"] if r["why"] == "end"]
    assert sorted(r["c"] for r in notices) == [0, 1, 2, 3, 4] and len(done["recs"]) == 10, done
    alerts = {b["seq"]: b for k, b in webhook.got if k == "alert"}
    kinds = sorted(b["event"] for b in alerts.values())
    # one "sms" event per SMS accepted: 5 for the alert's, 5 for the end notices (issue 20 item 6);
    # delivery reports are given for the alert's SMS only
    assert kinds.count("sms") == 10 and kinds.count("delivered") == 5 and "triggered" in kinds, kinds
    assert kinds.count("ended") == 1 and kinds.count("dispatched") == 1 and len(kinds) == 18, kinds
    assert all(b["trigger"] == "button" for b in alerts.values())  # the alert's source, not its kind
    assert any(k == "heartbeat" for k, _ in webhook.got)
    report("platform link: HTTPS webhook, verified", "%d signed events over TLS (CA and name checked), "
           "0 failures; trigger -> 1st SMS %s ms" % (len(webhook.got), done["first_sms_ms"]))


@pytest.mark.parametrize("case", ["other CA", "wrong name"])
def test_https_webhook_refuses_a_server_it_cannot_verify(tmp_path, webhook, certs, case):
    port = webhook.server_address[1]
    if case == "other CA":  # a man in the middle with a certificate from another CA
        ca, url = certs["other"], "https://localhost:%d/hook" % port
    else:  # the platform's CA, but the certificate is for localhost, not 127.0.0.1
        ca, url = certs["ca"], "https://127.0.0.1:%d/hook" % port
    done, events, d = _run(tmp_path, ca, url, deadline_ms=6000)
    assert webhook.got == [], webhook.got  # not one byte of an event reached the server
    # SMS unaffected: the alert's 5 and its 5 end notices (issue 20 item 6); the 18 alert events
    # (13 before the notices' 5 "sms" events) all wait in the queue
    assert done["sms"] == 5 and done["notices"] == 5 and done["sent"] == 0 and done["pending"] >= 18, done
    assert len(os.listdir(d / "pq")) >= done["pending"]  # the events wait on flash
    errs = [e for e in events if e["event"] == "platform_error"]
    assert errs and all("not verified" in e["err"] for e in errs), errs
