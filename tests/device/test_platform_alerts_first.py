# Alerts first and discreet traffic (issue 25), the platform link's task in the VM with a scripted
# transport: retries capped at 20 s while alert events wait (not while only heartbeats do), an alert
# event retries at once and restarts the backoff, a gate closing mid-exchange pauses it without a
# failure, the last error in plain words until a success clears it, drops reported by a heartbeat
# made after them, the heartbeat's period jittered and its position left out unless asked for.
import asyncio
import json
from time import ticks_ms, ticks_diff

from drivers.datalink import HostLink
from firmware.core.fix import Fix
from firmware.platform import config as platform_config, events as pe
from firmware.platform.link import PlatformLink, heartbeat_interval_ms
from firmware.platform.net import Abandoned, LinkError
from firmware.platform.queue import PlatformQueue

_n = [0]


def qdir():
    _n[0] += 1
    return "af%d" % _n[0]


def cfg(**over):
    d = {"device": "ab-1", "transport": "http", "heartbeat_s": 3600, "timeout_s": 2, "backoff_max_s": 300,
         "linger_s": 0, "http": {"url": "https://hook.asso.example/x", "secret": "0123456789abcdef"}}
    d.update(over)
    return platform_config.check(d)


class Log:
    def __init__(self):
        self.lines = []

    def __call__(self, ev, **kw):
        kw["event"] = ev
        kw["ms"] = ticks_ms()
        self.lines.append(kw)

    def of(self, ev):
        return [x for x in self.lines if x["event"] == ev]


class Transport:
    """fail: sends that fail next (-1: all); error: what they raise; hold: a send waits for stop()."""
    name = "fake"

    def __init__(self, fail=0, error=None):
        self.connected = False
        self.fail = fail
        self.error = error or LinkError("refused", "connection refused by hook.asso.example:443: nothing listens")
        self.sent = []
        self.hold = False
        self.tries = 0

    async def connect(self, stop=None):
        self.connected = True

    async def send(self, kind, payload, stop=None):
        self.tries += 1
        while self.hold:
            if stop is not None and stop():
                raise Abandoned()
            await asyncio.sleep_ms(20)
        if self.fail:
            self.fail -= 1 if self.fail > 0 else 0
            raise self.error
        self.sent.append((kind, json.loads(payload)))

    def close(self):
        self.connected = False


class Mgr:
    def __init__(self, alert_id):
        self.alert_id = alert_id
        self.kind = "alert"
        self.state = "dispatching"
        self.outbox = self
        self.recs = []
        self.lastfix = None


async def _until(pred, ms):
    t0 = ticks_ms()
    while not pred():
        if ticks_diff(ticks_ms(), t0) > ms:
            return False
        await asyncio.sleep_ms(10)
    return True


async def test_retries_capped_while_alert_events_wait():
    for alerts in (False, True):
        t = Transport(fail=-1)
        log = Log()
        link = PlatformLink(cfg(), PlatformQueue(qdir()), HostLink(), t, log)
        link.attempts = 9  # a long outage already: the next wait would be 300 s (backoff_max_s)
        if alerts:
            link.on_alert("triggered", Mgr(1))
        link.start()
        assert await _until(lambda: log.of("platform_retry"), 2000)
        link.task.cancel()
        waits = [r["in_ms"] for r in log.of("platform_retry")]
        if alerts:  # an alert waits: at most 20 s between attempts, whatever the outage's length
            assert waits and all(w <= 20000 for w in waits), waits
        else:  # heartbeats only: the backoff goes on to backoff_max_s (x 0.7..1)
            assert waits[-1] > 20000, waits


async def test_an_alert_event_retries_at_once_and_restarts_the_backoff():
    t = Transport(fail=-1)
    log = Log()
    link = PlatformLink(cfg(), PlatformQueue(qdir()), HostLink(), t, log)
    link.attempts = 9
    link.start()
    assert await _until(lambda: log.of("platform_retry"), 2000)  # heartbeat failed: waiting minutes
    assert log.of("platform_retry")[-1]["in_ms"] > 20000
    await asyncio.sleep_ms(1200)
    tries = t.tries
    t0 = ticks_ms()
    link.on_alert("triggered", Mgr(1))
    assert await _until(lambda: t.tries > tries, 1000), "the alert did not wake the link"
    woke = ticks_diff(ticks_ms(), t0)
    assert await _until(lambda: len(log.of("platform_retry")) >= 2, 1000)
    nxt = log.of("platform_retry")[-1]
    link.task.cancel()
    assert woke < 200, woke  # at once: the last attempt was more than a second ago
    assert nxt["attempt"] == 1 and nxt["in_ms"] <= 2000, nxt  # the backoff starts again from 2 s


async def test_a_closing_gate_pauses_an_exchange_without_a_failure():
    t = Transport()
    t.hold = True  # the peer takes its time
    gate = [True]
    log = Log()
    link = PlatformLink(cfg(), PlatformQueue(qdir()), HostLink(), t, log, gate=lambda: gate[0])
    link.start()
    assert await _until(lambda: t.tries, 1000)
    t0 = ticks_ms()
    gate[0] = False  # an alert: SMS due
    assert await _until(lambda: log.of("platform_paused"), 500)
    assert ticks_diff(ticks_ms(), t0) < 100  # the next step of the exchange saw it
    assert link.failures == 0 and not log.of("platform_retry") and not log.of("platform_error")
    t.hold = False
    gate[0] = True
    assert await _until(lambda: t.sent, 2000)  # the same event, sent after the SMS
    link.task.cancel()


async def test_last_error_in_plain_words_until_a_success():
    t = Transport(fail=1)
    log = Log()
    link = PlatformLink(cfg(backoff_max_s=1), PlatformQueue(qdir()), HostLink(), t, log)
    link.start()
    assert await _until(lambda: link.failures, 1000)
    s = link.summary()
    assert s["error"] == "connection refused by hook.asso.example:443: nothing listens" and s["error_kind"] == "refused", s
    assert log.of("platform_error")[0]["err"] == s["error"]
    assert await _until(lambda: t.sent, 3000)
    s = link.summary()
    assert s["error"] is None and s["ok_age_s"] == 0 and s["sent"] == 1, s
    link.task.cancel()


async def test_drops_are_reported_by_a_later_heartbeat():
    t = Transport(fail=-1)
    log = Log()
    link = PlatformLink(cfg(queue_items=4), PlatformQueue(qdir(), 4), HostLink(), t, log)
    link.attempts = 9
    link.start()
    await asyncio.sleep_ms(100)
    for a in (1, 2):
        m = Mgr(a)
        for ev in ("triggered", "sms", "sms", "dispatched", "ended"):
            link.on_alert(ev, m)
    await asyncio.sleep_ms(300)
    assert link.queue.dropped >= 4, link.queue.dropped
    t.fail = 0
    link.attempts = 0
    link.on_alert("sms", Mgr(2))  # wakes it
    assert await _until(lambda: not len(link.queue) and not link.ram, 5000)
    link.task.cancel()
    hb = [d for k, d in t.sent if k == "h"]
    assert len(hb) == 1 and hb[0]["queue"]["dropped"] == link.queue.dropped, (hb, link.queue.dropped)
    got = [(d["alert"], d["event"]) for k, d in t.sent if k != "h"]
    assert (1, "triggered") in got and (1, "ended") in got and (2, "triggered") in got, got
    assert got[-1] == (2, "sms"), got


async def test_heartbeat_period_is_jittered_and_carries_no_position_unless_asked():
    draws = [heartbeat_interval_ms(3600) for _ in range(200)]
    assert min(draws) >= 2520000 and max(draws) <= 4680000, (min(draws), max(draws))
    assert max(draws) - min(draws) > 1440000, (min(draws), max(draws))  # spread over most of +-30 %
    status = lambda: {"battery": 70, "csq": 20, "registered": True, "fix": Fix(48.85661, 2.35222, 12).stamp()}  # noqa
    for ask in (False, True):
        t = Transport()
        link = PlatformLink(cfg(heartbeat_fix=ask), PlatformQueue(qdir()), HostLink(), t, Log(), status=status)
        link.start()
        assert await _until(lambda: t.sent, 2000)
        link.task.cancel()
        hb = t.sent[0][1]
        assert hb["type"] == "heartbeat" and hb["bat"] == 70
        if ask:
            assert hb["fix"]["lat"] == 48.85661, hb
        else:
            assert "fix" not in hb, hb  # not even a null: nothing about where she is
        assert 2520000 <= link.hb_interval_ms <= 4680000, link.hb_interval_ms


def test_ram_buffer_never_loses_a_trigger():
    link = PlatformLink(cfg(), PlatformQueue(qdir()), HostLink(), Transport(), Log())
    link.on_alert("triggered", Mgr(1))
    for i in range(40):
        link._note(pe.encode({"n": i}), "a", 1)
    assert len(link.ram) == 32 and link.ram[0][0] == "t", link.ram[:2]
    assert link.queue.dropped == 9
