# An alert keeps its recipients (issue 19 item 2) and a real alert never waits behind a test alert
# (issue 19 item 7): the real AlertManager and Outbox with a fake modem whose CMGS takes a while.
import asyncio
import os
from time import ticks_diff, ticks_ms

from firmware.alert.manager import AlertManager, IDLE
from firmware.alert.outbox import Outbox
from firmware.core.sms_deliver import semi_octets
from test_alert_resilience import _Modem as _FakeModem

OLD = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
NEW = [{"name": "N%d" % i, "number": "+3370000000%d" % i} for i in range(1, 6)]


def dest(pdu):
    """The destination number of an SMS-SUBMIT PDU hex ("00" SMSC field, first octet, MR, TP-DA)."""
    raw = bytes.fromhex(pdu)
    return "+" + semi_octets(raw, 5, raw[3])


class _Modem(_FakeModem):
    """The resilience tests' fake modem, with a CMGS that takes cmgs_ms and notes which alert sent."""

    def __init__(self, cmgs_ms=1):
        _FakeModem.__init__(self)
        self.cmgs_ms = cmgs_ms
        self.mgr = None  # sent: (ticks when accepted, kind of the alert sending it, destination)

    async def send_pdu(self, pdu, n, timeout_ms=0):
        kind = self.mgr.kind
        await asyncio.sleep_ms(self.cmgs_ms)
        self.sent.append((ticks_ms(), kind, dest(pdu)))
        return len(self.sent)


class _NoFix:
    def best(self):
        return None


def _clean(name):
    for p in (name, name + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass


def _manager(name, modem, cfg=None, events=None):
    conf = {"contacts": [dict(c) for c in OLD], "wearer": "Camille", "lang": "fr", "alert_active_s": 60,
            "update_first_s": 600}
    conf.update(cfg or {})
    ev = events if events is not None else []
    am = AlertManager(conf, modem, _NoFix(), lambda: 80, lambda e, **kw: ev.append((e, kw)), outbox=Outbox(name))
    modem.mgr = am
    return am, ev


async def _wait(cond, ms=5000):
    t = 0
    while not cond() and t < ms:
        await asyncio.sleep_ms(10)
        t += 10
    return cond()


async def test_follow_ups_and_replies_go_to_the_numbers_of_the_trigger():
    name = "rcpt_outbox.json"
    _clean(name)
    m = _Modem()
    am, ev = _manager(name, m)
    am.start()
    am.trigger("button")
    assert await _wait(lambda: len(m.sent) == 5)
    am.cfg["contacts"] = [dict(c) for c in NEW]  # a technician replaces every contact meanwhile
    await am.queue_message(2, "update", "position_request")
    assert await _wait(lambda: len(m.sent) == 6)
    assert m.sent[5][2] == OLD[2]["number"], m.sent[5]
    assert [c["number"] for c in am.recipients] == [c["number"] for c in OLD]
    # a reset in the middle: the resumed alert still has its own recipients, from the outbox
    am.task.cancel()
    await asyncio.sleep_ms(10)
    ob = Outbox(name)
    assert [c["number"] for c in ob.recipients] == [c["number"] for c in OLD]
    ob.set(0, st="pending")  # one SMS not yet sent when the power went
    m2 = _Modem()
    am2, ev2 = _manager(name, m2, cfg={"contacts": [dict(c) for c in NEW]})
    am2.start()
    assert await _wait(lambda: len(m2.sent) == 1)
    assert m2.sent[0][2] == OLD[0]["number"]
    assert [c["name"] for c in am2.recipients] == ["C1", "C2", "C3", "C4", "C5"]
    am2.stop("over")
    await _wait(lambda: am2.state == IDLE)
    am2.task.cancel()
    _clean(name)


async def test_a_real_alert_preempts_a_test_alert_at_once():
    # the technician's test to all five contacts is sending its first SMS (CMGS 300 ms each) when
    # the wearer makes the alert gesture. Before: the test went on to its fifth SMS first (~1.5 s).
    name = "preempt_outbox.json"
    _clean(name)
    m = _Modem(cmgs_ms=300)
    am, ev = _manager(name, m)
    am.start()
    assert am.trigger("console", kind="test", only=[0, 1, 2, 3, 4])
    await asyncio.sleep_ms(100)
    t0 = ticks_ms()
    assert am.trigger("button")
    assert await _wait(lambda: any(k == "alert" for _, k, _ in m.sent), 10000)
    first = [t for t, k, _ in m.sent if k == "alert"][0]
    waited = ticks_diff(first, t0)
    tests = [d for _, k, d in m.sent if k == "test"]
    print("trigger -> first real SMS %d ms (CMGS 300 ms), test SMS sent %d" % (waited, len(tests)))
    assert len(tests) == 1, tests  # only the one in flight at the gesture
    assert waited <= 200 + 300 + 150, waited  # the test SMS in flight, then its own CMGS
    assert await _wait(lambda: sum(1 for _, k, _ in m.sent if k == "alert") == 5)
    assert ("test_preempted", {"source": "button", "kind": "alert", "alert": 1}) in ev
    am.stop("over")
    await _wait(lambda: am.state == IDLE)
    am.task.cancel()
    _clean(name)


async def test_a_fall_with_duress_keeps_its_duress_when_it_preempts_a_test():
    name = "preempt2_outbox.json"
    _clean(name)
    m = _Modem(cmgs_ms=50)
    am, ev = _manager(name, m)
    am.start()
    am.trigger("console", kind="test", only=[0])
    await asyncio.sleep_ms(10)
    am.trigger("fall", kind="fall", duress=True)
    assert await _wait(lambda: am.kind == "fall" and am.state != IDLE)
    assert am.duress
    am.stop("over")
    await _wait(lambda: am.state == IDLE)
    am.task.cancel()
    _clean(name)
