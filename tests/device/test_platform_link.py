# Platform link logic in the VM with a fake transport and fake data links (the real broker and webhook
# are in tests/host/test_platform_mqtt.py): the gate keeps the network quiet while SMS are due, events
# leave the queue only when acknowledged, failures back off and keep everything, a shared link (PPP on
# the modem's UART) is released after each exchange; event documents, config checks, Wi-Fi/PPP links.
import asyncio
import json

from drivers.datalink import HostLink, WlanLink, PppLink, make
from firmware.platform import config as platform_config, events as pe
from firmware.core.fix import Fix
from firmware.platform.link import PlatformLink, backoff_ms, hmac_sha256
from firmware.platform.queue import PlatformQueue

_n = [0]


def qdir():
    _n[0] += 1
    return "lq%d" % _n[0]


def cfg(**over):
    d = {"device": "ab-1", "transport": "http", "heartbeat_s": 3600, "timeout_s": 2, "backoff_max_s": 1,
         "linger_s": 0, "http": {"url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef",
                                 "insecure_plaintext": True}}
    d.update(over)
    return platform_config.check(d)


class FakeTransport:
    name = "fake"

    def __init__(self):
        self.connected = False
        self.sent = []
        self.fail = 0  # how many sends fail next
        self.connects = 0

    async def connect(self, stop=None):
        self.connects += 1
        self.connected = True

    async def send(self, kind, payload, stop=None):
        if self.fail:
            self.fail -= 1
            raise OSError(104)
        self.sent.append((kind, json.loads(payload)))

    def close(self):
        self.connected = False


class Log:
    def __init__(self):
        self.lines = []

    def __call__(self, ev, **kw):
        kw["event"] = ev
        self.lines.append(kw)

    def count(self, ev):
        return len([x for x in self.lines if x["event"] == ev])


class FakeOutbox:
    def __init__(self):
        self.alert_id = 0
        self.recs = []


class FakeMgr:
    def __init__(self):
        self.alert_id = 1
        self.kind = "alert"
        self.state = "triggered"
        self.outbox = FakeOutbox()
        self.lastfix = self

    def best(self):
        return Fix(48.85661, 2.35222, 12)


async def settle(ms=300):
    await asyncio.sleep_ms(ms)


async def test_gate_holds_events_until_sms_are_out():
    log = Log()
    t = FakeTransport()
    gate = [False]
    link = PlatformLink(cfg(), PlatformQueue(qdir()), HostLink(), t, log, gate=lambda: gate[0])
    link.start()
    mgr = FakeMgr()
    link.on_alert("triggered", mgr)
    mgr.state = "dispatching"
    mgr.outbox.alert_id = 1
    mgr.outbox.recs = [{"c": 0, "st": "accepted", "att": 1}, {"c": 1, "st": "pending", "att": 0}]
    link.on_alert("sms", mgr)
    await settle()
    assert t.sent == [] and t.connects == 0, t.sent  # nothing on the network while SMS are due
    assert len(link.queue) == 3  # boot heartbeat + 2 alert events, on flash
    gate[0] = True
    await settle(800)
    kinds = [(k, d.get("event")) for k, d in t.sent]
    assert kinds == [("t", "triggered"), ("a", "sms"), ("h", None)], kinds  # alerts first
    ev0, ev1 = t.sent[0][1], t.sent[1][1]
    assert ev0["sms"] == [] and ev1["sms"][0] == {"c": 0, "st": "accepted", "att": 1}
    assert ev0["seq"] < ev1["seq"] and ev1["pos"][0]["lat"] == 48.85661
    assert len(link.queue) == 0
    link.task.cancel()


async def test_failures_back_off_and_lose_nothing():
    log = Log()
    t = FakeTransport()
    t.fail = 3
    link = PlatformLink(cfg(), PlatformQueue(qdir()), HostLink(), t, log)
    link.start()
    for i in range(3):
        link._note(pe.encode({"n": i}), True)
    for _ in range(100):
        await asyncio.sleep_ms(100)
        if len(t.sent) == 4:
            break
    assert [d.get("n") for k, d in t.sent if k == "a"] == [0, 1, 2], t.sent
    assert log.count("platform_error") == 3 and log.count("platform_retry") == 3
    assert link.failures == 3 and len(link.queue) == 0
    link.task.cancel()


class FakePpp:
    def __init__(self):
        self.up = False
        self.connects = 0

    def connect(self, **kw):
        self.connects += 1
        self.up = True

    def isconnected(self):
        return self.up

    def disconnect(self):
        self.up = False


async def test_shared_ppp_is_released_after_each_exchange():
    calls = []

    async def dial():
        calls.append("dial")
        return True

    async def hangup():
        calls.append("hangup")

    ppp = FakePpp()
    link_obj = PppLink(ppp, dial, hangup, shared=True)
    t = FakeTransport()
    link = PlatformLink(cfg(), PlatformQueue(qdir()), link_obj, t, Log())
    link.start()
    await settle(400)
    assert len(t.sent) == 1 and calls == ["dial", "hangup"] and not ppp.up  # UART back to AT commands
    link._note(pe.encode({"n": 1}), True)
    await settle(400)
    assert len(t.sent) == 2 and calls == ["dial", "hangup", "dial", "hangup"], calls
    link.task.cancel()


class Ppp124:
    """network.PPP as of MicroPython 1.24: connect(security, user, key), no active()."""
    SEC_PAP = 1

    def __init__(self):
        self.calls = []

    def connect(self, **kw):
        self.calls.append(kw)

    def isconnected(self):
        return False  # negotiation never ends here

    def disconnect(self):
        self.calls.append("disconnect")


async def test_ppp_link_gives_up_at_once_when_sms_are_due():
    from time import ticks_ms, ticks_diff
    calls = []

    async def dial():
        calls.append("dial")
        return True

    async def hangup():
        calls.append("hangup")

    p = Ppp124()
    link = PppLink(p, dial, hangup, shared=True, apn_user="orange", apn_key="orange")
    due = [False]

    async def trigger():
        await asyncio.sleep_ms(300)
        due[0] = True

    asyncio.create_task(trigger())
    t0 = ticks_ms()
    assert not await link.up(30000, stop=lambda: due[0])
    waited = ticks_diff(ticks_ms(), t0)
    assert 250 <= waited < 800, waited  # not the 30 s negotiation timeout
    assert calls == ["dial", "hangup"]  # hung up: the UART is back for the SMS
    assert p.calls == [{"security": 1, "user": "orange", "key": "orange"}, "disconnect"], p.calls


class FakeWlan:
    def __init__(self, joins_after):
        self.joins_after = joins_after
        self.polls = 0
        self.active_state = False
        self.ssid = None

    def active(self, v=None):
        if v is not None:
            self.active_state = v
        return self.active_state

    def connect(self, ssid, key):
        self.ssid = ssid

    def isconnected(self):
        self.polls += 1
        return self.ssid is not None and self.polls > self.joins_after

    def disconnect(self):
        self.ssid = None


async def test_wlan_link_up_and_timeout():
    w = FakeWlan(2)
    link = WlanLink(w, "asso-wifi", "secret-key")
    assert await link.up(5000) and w.ssid == "asso-wifi"
    w2 = FakeWlan(10 ** 6)
    link2 = WlanLink(w2, "nowhere", None)
    assert not await link2.up(500)
    assert w2.active_state is False  # radio off again after a failed join


def test_make_link_from_config():
    assert make({"link": "host"}).name == "host"
    try:
        make({"link": "wlan", "wlan": {"ssid": "x"}})
        raise AssertionError("a board without Wi-Fi must be refused")
    except ValueError:
        pass
    assert make({"link": "ppp"}, ppp=FakePpp()).shared is False


def test_config_checks():
    good = {"device": "ab-1", "mqtt": {"host": "mqtt.example.org", "user": "ab-1", "password": "long-enough"}}
    c = platform_config.check(good)
    assert c["mqtt"]["tls"] and c["mqtt"]["port"] == 8883 and c["mqtt"]["client_id"] == "ab-1"
    assert c["heartbeat_fix"] is False and c["timeout_s"] == 10
    for bad, why in ((dict(good, device="a/b"), "topic"),
                     ({"device": "x", "mqtt": dict(good["mqtt"], tls=False)}, "clear"),
                     ({"device": "x", "mqtt": dict(good["mqtt"], password="short")}, "password"),
                     ({"device": "x", "transport": "http", "http": {"url": "ftp://h.example/x",
                                                                    "secret": "0123456789abcdef"}}, "https://"),
                     (dict(good, timeout_s=30), "timeout_s: 30 is out of range; write a number from 2 to 20"),
                     ({"device": "x", "link": "ppp", "ppp": {"apn": 'a" +CFUN=0'}, "mqtt": good["mqtt"]}, "apn"),
                     (dict(good, heartbeat_s=5), "heartbeat")):
        try:
            platform_config.check(bad)
            raise AssertionError("accepted: %r" % (bad,))
        except ValueError as e:
            assert why in str(e), (why, str(e))
    # https:// webhooks are verified (tests/host/test_platform_https.py): they need the CA, like MQTT/TLS
    h = platform_config.check({"device": "x", "transport": "http",
                               "http": {"url": "https://h.example/x", "secret": "0123456789abcdef"}})
    assert platform_config.needs_ca(h) and platform_config.needs_ca(c)
    assert not platform_config.needs_ca(dict(h, http={"url": "http://h.example/x"}))
    p = platform_config.check({"device": "x", "transport": "http", "http": {
        "url": "http://h.example/x", "secret": "0123456789abcdef", "insecure_plaintext": True}})
    assert p["http"]["insecure_plaintext"] and not platform_config.needs_ca(p)
    assert platform_config.check(dict(good, link="ppp", ppp={"apn": "free"}))["ppp"]["apn"] == "free"
    masked = platform_config.public(c)
    assert masked["mqtt"]["password"] == "***" and c["mqtt"]["password"] == "long-enough"


def test_documents():
    track = []
    pe.add_position(track, Fix(48.856611, 2.352219, 12.4))
    pe.add_position(track, Fix(48.856611, 2.352219, 12.4))  # same place: not repeated
    pe.add_position(track, Fix(48.86, 2.35, 30))
    assert len(track) == 2 and track[0]["lat"] == 48.85661 and track[0]["acc_m"] == 12
    d = pe.alert_event("ab-1", "sms", 7, "alert", "dispatching", "button", track,
                       [{"c": 0, "st": "failed", "att": 2, "err": 21, "to": "+33600000000", "pdu": "00"}])
    body = json.loads(pe.with_seq(pe.encode(d), 42))
    assert body["seq"] == 42 and body["alert"] == 7 and body["sms"] == [{"c": 0, "st": "failed", "att": 2, "err": 21}]
    assert "+33600000000" not in json.dumps(body)  # no phone number leaves the device
    hb = pe.heartbeat("ab-1", 55, 20, True, None, {"pending": 3, "dropped": 1})
    assert hb["dbm"] == -73 and hb["queue"] == {"pending": 3, "dropped": 1} and hb["fix"] is None
    assert pe.heartbeat("ab-1", None, 99, False, None)["dbm"] is None


def test_backoff_and_hmac():
    # doubling from 2 s, jittered downwards (x 0.7..1.0): never above the cap
    assert backoff_ms(1, 60000, lambda: 1.0) == 2000 and backoff_ms(3, 60000, lambda: 1.0) == 8000
    assert backoff_ms(30, 60000, lambda: 1.0) == 60000 and backoff_ms(30, 60000, lambda: 0.0) == 42000
    assert backoff_ms(30, 20000, lambda: 0.9999) <= 20000
    # RFC 4231 test case 2
    import binascii
    mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert binascii.hexlify(mac) == b"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


async def test_evidence_chain_heads_are_committed_first_periodically_and_last():
    from firmware.core import uptime
    t = FakeTransport()
    link = PlatformLink(cfg(), PlatformQueue(qdir()), HostLink(), t, Log(), gate=lambda: True)
    link.start()
    await settle()
    t.sent.clear()  # the boot heartbeat
    heads = ["%064x" % i for i in range(8)]
    for i in range(5):  # chunks 0..4 of recording 3 within two minutes: only the first is published
        link.on_evidence(3, 9, i, heads[i], False)
    link._commit_at = uptime.ms() - 120001  # two minutes later
    link.on_evidence(3, 9, 5, heads[5], False)
    link.on_evidence(3, 9, 6, heads[6], True)  # the last chunk: always
    link.on_evidence(4, 10, 0, heads[7], False)  # a new recording starts its own commitments
    await settle(800)
    got = [(k, d["type"], d["rec"], d["chunks"], d["head"], d["final"], d["alert"]) for k, d in t.sent]
    assert got == [("e", "evidence", 3, 1, heads[0], False, 9), ("e", "evidence", 3, 6, heads[5], False, 9),
                   ("e", "evidence", 3, 7, heads[6], True, 9), ("e", "evidence", 4, 1, heads[7], False, 10)], got
    assert all(d["dev"] == "ab-1" and "seq" in d for _, d in t.sent)
    link.task.cancel()

