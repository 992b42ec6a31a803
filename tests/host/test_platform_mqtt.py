"""Platform link against a REAL broker (issue 9): mosquitto on loopback with TLS and passwords, the
firmware in the MicroPython VM with its own MQTT client (firmware/platform/mqtt.py), a subscriber
standing for the platform. Done when: a simulated alert reaches the broker with positions and per-contact SMS status,
and with the broker restarted in the middle of the alert every event arrives once it is back."""
import datetime
import json
import os
import subprocess
import threading
import time

import pytest

from alertbutton import vm
from alertbutton.sim.modem.pdu import status_report_pdu

import mqtt_broker
import webhook
from mqtt_broker import Subscriber



HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(os.path.dirname(HERE), "vm", "platform_alert.py")
CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
FIX = {"lat": 48.85661, "lon": 2.35222, "acc_m": 12}
# Issue 20 item 6: the alert (active_s in run.json) ends at its time limit by sending each of the 5
# contacts an end notice ("FIN DU SUIVI") through the outbox; each notice accepted is one more "sms"
# event (5 for the alert's SMS + 5 for the notices). Delivery reports are given for the alert's SMS
# only (message references 1-5), so "delivered" stays 5: 18 alert events in all (13 before 20.6).
EXPECTED = {"triggered": 1, "sms": 10, "delivered": 5, "dispatched": 1, "ended": 1}
N_EVENTS = sum(EXPECTED.values())


@pytest.fixture(scope="module")
def tools_present():
    mqtt_broker.require_tools()


@pytest.fixture
def broker(tmp_path, tools_present):
    yield from mqtt_broker.running_broker(tmp_path)


def _prepare(tmp_path, broker, ca_der=None, **run):
    d = tmp_path / "flash"
    d.mkdir(parents=True, exist_ok=True)
    with open(ca_der or broker.ca_der, "rb") as f:
        (d / "platform_ca.der").write_bytes(f.read())
    (d / "run.json").write_text(json.dumps(run))
    return str(d)


def _connect(tmp_path, broker, ca_der=None, **over):
    d = _prepare(tmp_path, broker, ca_der, mode="connect", platform=broker.device_config(**over))
    p = vm.run(script=PROGRAM, cwd=d, timeout=60)
    return (p.stdout + p.stderr).strip()


@pytest.mark.needs_ssl  # MQTT over TLS: the VM needs its ssl module
def test_tls_verification_and_credentials(tmp_path, broker):
    assert "CONNECT ok" in _connect(tmp_path, broker)
    # a server certificate from another CA (a man in the middle) is refused, and says why
    out = _connect(tmp_path, broker, ca_der=broker.other_ca_der)
    assert "CONNECT fail tls certificate refused: localhost is not verified against the platform CA" in out, out
    assert "not correctly signed by the trusted CA" in out, out
    # the right CA but a name the certificate does not carry
    out = _connect(tmp_path, broker, host="127.0.0.1")
    assert "CONNECT fail tls certificate refused: 127.0.0.1" in out and "CN" in out, out
    # per-device credentials: a wrong password is refused by the broker (CONNACK 5), in plain words
    out = _connect(tmp_path, broker, password="wrong-password")
    assert "CONNECT fail auth" in out and "not authorized: wrong password, or this device was revoked" in out, out


def _reports():
    now = datetime.datetime.now(datetime.timezone.utc)
    return {str(i + 1): status_report_pdu(i + 1, c["number"], now, now, 0)[0] for i, c in enumerate(CONTACTS)}


class VmRun:
    def __init__(self, cwd):
        self.events = []
        self.lines = []
        self.done = None
        self.proc = vm.spawn(script=PROGRAM, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith("EV "):
                try:
                    self.events.append(json.loads(line[3:]))
                except ValueError:
                    pass
            elif line.startswith("DONE "):
                self.done = json.loads(line[5:])

    def seen(self, name):
        return [e for e in self.events if e.get("event") == name]

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            if self.proc.poll() is not None:
                self._t.join(2)
                return pred()
            time.sleep(0.02)
        return pred()

    def finish(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._t.join(2)

    def tail(self):
        return "\n".join(self.lines[-60:])


def _alert_msgs(msgs):
    return [b for t, b in msgs if t == "alerts/" + mqtt_broker.DEVICE_USER[0] and isinstance(b, dict)]


def _outbox(done):
    """The VM's outbox at the end, in order (the events' "sms" lists follow it): the alert's records
    (no "why") then its end notices (why "end", issue 20 item 6). Returns (alert indices, notice
    indices) after checking both: the alert's 5 SMS, one per contact, accepted first (message
    references 1-5: the ones the delivery reports are for), then one notice per contact."""
    recs = done["recs"]
    alert = [i for i, r in enumerate(recs) if r["why"] is None]
    notices = [i for i, r in enumerate(recs) if r["why"] == "end"]
    assert len(alert) + len(notices) == len(recs), recs  # nothing else went out (no follow-ups)
    assert [recs[i]["c"] for i in alert] == [0, 1, 2, 3, 4], recs
    assert sorted(recs[i]["c"] for i in notices) == [0, 1, 2, 3, 4], recs
    assert sorted(recs[i]["mr"] for i in alert) == [1, 2, 3, 4, 5], recs
    assert min(recs[i]["mr"] for i in notices) > 5, recs  # every notice after every alert SMS
    assert done["sms"] == 5 and done["notices"] == 5 and done["sends"] == 10, done
    return alert, notices


def _check_alert(msgs, report, done):
    alert, notices = _outbox(done)
    order = [r["c"] for r in done["recs"]]
    alerts = _alert_msgs(msgs)
    by_seq = {}
    for b in alerts:
        by_seq.setdefault(b["seq"], b)
    kinds = {}
    for b in by_seq.values():
        kinds[b["event"]] = kinds.get(b["event"], 0) + 1
    assert kinds == EXPECTED, (kinds, sorted(by_seq))
    for b in by_seq.values():
        assert b["type"] == "alert" and b["alert"] == 1 and b["kind"] == "alert" and b["dev"] == "ab-test-1"
        assert b["pos"] and b["pos"][-1]["lat"] == FIX["lat"] and b["pos"][-1]["lon"] == FIX["lon"]
        assert b["pos"][-1]["acc_m"] == FIX["acc_m"]
        # per-contact status from the persisted outbox; none yet when the alert is triggered; the
        # alert's 5 records, then (once the alert reached its time limit) its 5 end notices too
        cs = [s["c"] for s in b["sms"]]
        assert cs == ([] if b["event"] == "triggered" else order[:len(cs)]) and len(cs) in (0, 5, 10), b
        assert b["event"] == "triggered" or [cs[i] for i in alert] == [0, 1, 2, 3, 4], b
    ended = [b for b in by_seq.values() if b["event"] == "ended"][0]
    assert [ended["sms"][i]["st"] for i in alert] == ["delivered"] * 5, ended
    assert [ended["sms"][i]["st"] for i in notices] == ["accepted"] * 5, ended  # no reports for them
    seqs = sorted(by_seq)
    assert by_seq[seqs[0]]["event"] == "triggered" and by_seq[seqs[-1]]["event"] == "ended", seqs
    sms_events = sorted((b for b in by_seq.values() if b["event"] == "sms"), key=lambda b: b["seq"])
    # the k-th "sms" event shows k SMS accepted (or already delivered): the alert's 5 first, then
    # the end notices one by one
    for k, b in enumerate(sms_events, 1):
        st = [s["st"] in ("accepted", "delivered") for s in b["sms"]]
        assert sum(st) == k, b
        assert sum(st[i] for i in alert) == min(k, 5), b
        assert sum(st[i] for i in notices if i < len(st)) == max(0, k - 5), b
    dispatched = [b["seq"] for b in by_seq.values() if b["event"] == "dispatched"][0]
    assert sms_events[4]["seq"] < dispatched < sms_events[5]["seq"], seqs  # dispatched, then notices
    report(len(alerts) - len(by_seq))
    return by_seq


@pytest.mark.needs_ssl  # MQTT over TLS: the VM needs its ssl module
def test_alert_reaches_broker_with_positions_and_sms_status(tmp_path, broker, report):
    sub = Subscriber(broker)
    try:
        assert sub.ready(), "subscriber did not come up: " + broker.log_text()
        d = _prepare(tmp_path, broker, contacts=CONTACTS, fix=FIX, reports=_reports(), sms_ms=200,
                     report_after_ms=300, active_s=2, platform=broker.device_config())
        run = VmRun(d)
        assert run.wait(lambda: run.done is not None, 60), run.tail()
        run.finish(10)
        assert run.done["sms"] == 5 and run.done["pending"] == 0, run.done
        assert sub.wait(lambda m: len({b["seq"] for b in _alert_msgs(m)}) >= N_EVENTS, 15), sub.snapshot()
        dups = []
        _check_alert(sub.snapshot(), dups.append, run.done)
        hb = [b for t, b in sub.snapshot() if t == "status/ab-test-1"]
        assert hb and hb[0]["type"] == "heartbeat" and hb[0]["bat"] == 77 and hb[0]["fw"]
        report("platform link: alert over MQTT/TLS (mosquitto)",
               "%d alert events + %d heartbeat(s) received, %d duplicate(s); trigger -> 1st SMS %s ms "
               "with the link running" % (N_EVENTS, len(hb), dups[0], run.done["first_sms_ms"]))
    finally:
        sub.close()


@pytest.mark.needs_ssl  # MQTT over TLS: the VM needs its ssl module
def test_broker_restart_mid_alert_loses_nothing(tmp_path, broker, report):
    sub = Subscriber(broker)
    try:
        assert sub.ready(), "subscriber did not come up: " + broker.log_text()
        d = _prepare(tmp_path, broker, contacts=CONTACTS, fix=FIX, reports=_reports(), sms_ms=250,
                     report_after_ms=1500, active_s=6, platform=broker.device_config())
        run = VmRun(d)
        # the first alert events reach the platform, then the broker goes away mid-alert
        assert sub.wait(lambda m: len(_alert_msgs(m)) >= 1, 30), run.tail()
        broker.stop()
        t_stop = time.monotonic()
        before = {b["seq"] for b in _alert_msgs(sub.snapshot())}
        delivered_before = len(run.seen("sms_delivered"))
        assert run.wait(lambda: run.seen("platform_error"), 30), run.tail()
        time.sleep(max(0.0, 2.5 - (time.monotonic() - t_stop)))  # down long enough to queue events
        queued_while_down = len(run.seen("sms_delivered")) - delivered_before
        broker.start()
        outage = time.monotonic() - t_stop
        assert run.wait(lambda: run.done is not None, 60), run.tail()
        run.finish(10)
        assert run.done["sms"] == 5 and run.done["pending"] == 0 and run.done["dropped"] == 0, run.done
        assert sub.wait(lambda m: len({b["seq"] for b in _alert_msgs(m)}) >= N_EVENTS, 20), (
            sorted({b["seq"] for b in _alert_msgs(sub.snapshot())}), run.tail())
        dups = []
        _check_alert(sub.snapshot(), dups.append, run.done)
        errors = len(run.seen("platform_error"))
        assert len(before) < N_EVENTS, "the broker went down after the alert, not during it"
        report("platform link: broker restarted mid-alert",
               "broker down %.1f s during the alert; %d publish/connect failure(s) retried; %d delivery "
               "report(s) came in while it was down; all %d alert events arrived (%d duplicate(s)); "
               "%d of them before the outage; 5/5 SMS; trigger -> 1st SMS %s ms" % (
                   outage, errors, queued_while_down, N_EVENTS, dups[0], len(before), run.done["first_sms_ms"]))
    finally:
        sub.close()


# --- HTTP alternative (requests, frozen in the VM) -----------------------------------------------------

def test_http_webhook_signed_events(tmp_path, report):
    """The same alert through HttpTransport: JSON POSTs to a webhook on loopback, each signed with
    HMAC-SHA256 under the device's secret; the webhook refuses the first POST (HTTP 503) once, and
    the event is sent again."""
    secret = "webhook-secret-0123456789"
    srv = webhook.serve(secret, refuse=1)
    got, refused = srv.got, srv.refused
    try:
        d = tmp_path / "flash"
        d.mkdir()
        pcfg = {"device": "ab-test-1", "transport": "http", "timeout_s": 3, "backoff_max_s": 2,
                "http": {"url": "http://127.0.0.1:%d/hook" % srv.server_address[1], "secret": secret,
                         "insecure_plaintext": True}}
        (d / "run.json").write_text(json.dumps({"contacts": CONTACTS, "fix": FIX, "reports": _reports(),
                                                 "sms_ms": 100, "report_after_ms": 200, "active_s": 2,
                                                 "platform": pcfg}))
        p = vm.run(script=PROGRAM, cwd=str(d), timeout=90)
        assert "DONE" in p.stdout, p.stdout[-3000:] + p.stderr
    finally:
        srv.shutdown()
        srv.server_close()
    done = json.loads([x for x in p.stdout.splitlines() if x.startswith("DONE ")][0][5:])
    alert, notices = _outbox(done)  # the alert's 5 SMS, then its 5 end notices (issue 20 item 6)
    alerts = {b["seq"]: b for k, b in got if k == "alert"}
    kinds = {}
    for b in alerts.values():
        kinds[b["event"]] = kinds.get(b["event"], 0) + 1
    assert kinds == EXPECTED, kinds
    ended = [b for b in alerts.values() if b["event"] == "ended"][0]
    assert [ended["sms"][i]["st"] for i in alert] == ["delivered"] * 5, ended
    assert [ended["sms"][i]["c"] for i in notices] == [done["recs"][i]["c"] for i in notices], ended
    assert len(refused) == 1 and any(k == "heartbeat" for k, _ in got)
    report("platform link: HTTP webhook", "%d signed alert events + heartbeat accepted; one 503 retried" % N_EVENTS)


# --- issue 25: alerts first after an outage, revocation -------------------------------------------

def _secure_or_plain(broker, **over):
    """TLS where the VM has ssl (64-bit), the plain listener with its opt-in elsewhere (32-bit)."""
    return broker.device_config(plain=not vm.vm_facts()["ssl"], **over)


def test_alert_reaches_the_platform_within_30_s_of_the_broker_return(tmp_path, broker, report):
    """The broker is down from boot; an alert runs its course (18 events queued: 13 before
    issue 20 item 6's end notices) and the outage goes
    on for 40 s more, long enough for a backoff doubling to backoff_max_s (300 s) to reach minutes
    (before issue 25: the waits grew to 142 s and 208 s, the alert came 205 s late). The broker comes
    back right after a failed attempt, the worst moment: every alert event must be on the platform
    within 30 s, and before the heartbeat that waited with them."""
    sub = Subscriber(broker)
    try:
        assert sub.ready(), "subscriber did not come up: " + broker.log_text()
        broker.stop()
        d = _prepare(tmp_path, broker, contacts=CONTACTS, fix=FIX, reports=_reports(), sms_ms=200,
                     report_after_ms=300, active_s=2, trigger_after_ms=1000, deadline_ms=170000,
                     platform=_secure_or_plain(broker, backoff_max_s=300, heartbeat_s=600))
        run = VmRun(d)
        assert run.wait(lambda: any(e.get("to") == "idle" for e in run.seen("state")), 30), run.tail()
        t_end = time.monotonic()
        assert run.wait(lambda: time.monotonic() - t_end > 40, 45)
        n = len(run.seen("platform_retry"))
        assert run.wait(lambda: len(run.seen("platform_retry")) > n, 60), run.tail()  # a failure, just now
        waits = [e["in_ms"] for e in run.seen("platform_retry")]
        broker.start()
        t_back = time.monotonic()
        ok = sub.wait(lambda m: len({b["seq"] for b in _alert_msgs(m)}) >= N_EVENTS, 45)
        took = time.monotonic() - t_back
        assert ok, (sorted({b["seq"] for b in _alert_msgs(sub.snapshot())}), run.tail())
        assert took <= 30, (took, waits)
        assert max(waits) <= 20000, waits  # while alert events waited: never more than 20 s
        assert sub.wait(lambda m: any(t == "status/ab-test-1" for t, _ in m), 20)
        run.finish(60)
        msgs = [(t, b) for t, b in sub.snapshot() if t != "status/probe"]
        last_alert = max(i for i, (t, _) in enumerate(msgs) if t.startswith("alerts/"))
        first_hb = min(i for i, (t, _) in enumerate(msgs) if t.startswith("status/"))
        assert first_hb > last_alert, [t for t, _ in msgs]  # alerts first
        hbs = [b for t, b in msgs if t.startswith("status/")]
        assert len(hbs) == 1, hbs  # the heartbeats of the outage: only the newest one is sent
        assert "fix" not in hbs[0], hbs[0]  # no position in a heartbeat unless the association asked
        dups = []
        _check_alert(sub.snapshot(), dups.append, run.done)
        report("issue 25: alert events after an outage (mosquitto %s)" % ("TLS" if vm.vm_facts()["ssl"] else "plain"),
               "broker down from boot; alert at 1 s; outage 40 s past the alert's end; back right after a "
               "failed attempt: all %d alert events on the platform %.1f s later (<= 30 s), before the one "
               "heartbeat; retry waits %s ms" % (N_EVENTS, took, waits[-6:]))
    finally:
        sub.close()


def test_a_revoked_device_is_refused_and_the_others_go_on(tmp_path, broker, report):
    """Per-device credentials the association revokes with mosquitto's own tools (docs/platform.md:
    mosquitto_passwd -D, then SIGHUP): the revoked button's open session is closed, it cannot connect
    again (and says so in plain words); another button, same broker, same ACL, still publishes."""
    sub = Subscriber(broker)
    try:
        assert sub.ready(), "subscriber did not come up: " + broker.log_text()
        one = _secure_or_plain(broker)
        two = _secure_or_plain(broker, user=mqtt_broker.OTHER_DEVICE)
        d1 = _prepare(tmp_path / "one", broker, mode="session", platform=one)
        proc = vm.spawn(script=PROGRAM, cwd=d1, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
        deadline = time.monotonic() + 20
        while not any("SENT ok" in x for x in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("SENT ok" in x for x in lines), lines
        broker.revoke(mqtt_broker.DEVICE_USER[0])
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        time.sleep(0.2)
        out = "".join(lines)
        assert "SENT fail" in out, out  # mosquitto closes the revoked user's open session on reload
        assert "RECONNECT fail auth" in out and "not authorized: wrong password, or this device was revoked" in out, out
        # the other device, same broker: connects and publishes on its own topic
        d2 = _prepare(tmp_path / "two", broker, mode="connect", platform=two)
        p = vm.run(script=PROGRAM, cwd=d2, timeout=60)
        assert "CONNECT ok" in p.stdout, p.stdout + p.stderr
        assert sub.wait(lambda m: any(t == "alerts/ab-test-2" for t, _ in m), 10), sub.snapshot()
        # and the revoked one, from scratch: refused at CONNECT
        d3 = _prepare(tmp_path / "three", broker, mode="connect", platform=one)
        p = vm.run(script=PROGRAM, cwd=d3, timeout=60)
        assert "CONNECT fail auth" in p.stdout and "revoked" in p.stdout, p.stdout + p.stderr
        report("issue 25: revoking a device on the broker (mosquitto_passwd -D + SIGHUP)",
               "the revoked button's open session closed, its reconnection refused (CONNACK 5, 'not authorized: "
               "wrong password, or this device was revoked on the broker'); the other button still publishes")
    finally:
        sub.close()
