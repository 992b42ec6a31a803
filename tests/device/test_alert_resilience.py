# The alert manager keeps going when something around it fails: a battery gauge that raises, a
# garbled serving cell from the modem, an unexpected exception while sending to one contact.
# Each case must still reach all five contacts (fake modem, real AlertManager and Outbox).
import asyncio
import os

from firmware.core.errors import SmsError
from firmware.alert.manager import AlertManager, IDLE
from firmware.alert.outbox import Outbox, ACCEPTED

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]


class _Modem:
    def __init__(self, fail=None, cell=None):
        self.ready = asyncio.Event()
        self.ready.set()
        self.on_status_report = None
        self.last_cell = cell
        self.sent = []  # (pdu, n) accepted
        self.calls = 0
        self.fail = fail  # fn(call number) -> exception to raise, or None
        self.cycles = 0

    async def send_pdu(self, pdu, n, timeout_ms=0):
        self.calls += 1
        await asyncio.sleep_ms(1)
        e = self.fail(self.calls) if self.fail else None
        if e is not None:
            raise e
        self.sent.append((pdu, n))
        return len(self.sent)

    async def power_cycle(self):
        self.cycles += 1
        return False

    async def switch_sms_domain(self):
        return False


class _NoFix:
    def best(self):
        return None


def _manager(name, modem, battery=lambda: 80, outbox=Outbox, **cfg):
    try:
        os.remove(name)
    except OSError:
        pass
    events = []

    def log(ev, **kw):
        events.append((ev, kw))
    conf = {"contacts": CONTACTS, "wearer": "Camille", "lang": "fr", "alert_active_s": 60}
    conf.update(cfg)
    am = AlertManager(conf, modem, _NoFix(), battery, log, outbox=outbox(name))
    return am, events


async def _until_sent(am, modem, n=5, timeout_ms=30000):
    am.start()
    am.trigger("button")
    waited = 0
    while len(modem.sent) < n and waited < timeout_ms:
        await asyncio.sleep_ms(20)
        waited += 20
    am.stop("test over")
    for _ in range(50):
        if am.state == IDLE:
            break
        await asyncio.sleep_ms(20)
    am.task.cancel()


def _names(events):
    return [e for e, _ in events]


async def test_a_battery_gauge_that_raises_does_not_stop_the_alert():
    def broken():
        raise OSError(5)  # EIO from the ADC
    modem = _Modem()
    am, events = _manager("ar1.json", modem, battery=broken)
    await _until_sent(am, modem)
    assert len(modem.sent) == 5, _names(events)
    assert "compose_error" in _names(events) and "alert_error" not in _names(events)


async def test_a_garbled_serving_cell_does_not_stop_the_alert():
    modem = _Modem(cell=("208", "01"))  # a parser bug upstream: two fields instead of four
    am, events = _manager("ar2.json", modem)
    await _until_sent(am, modem)
    assert len(modem.sent) == 5, _names(events)
    assert "compose_error" in _names(events)


async def test_a_damaged_language_setting_still_sends_the_alert():
    modem = _Modem()
    am, events = _manager("ar3.json", modem, lang="de", wearer=12)
    await _until_sent(am, modem)
    assert len(modem.sent) == 5 and "compose_error" in _names(events)


async def test_an_unexpected_exception_for_one_contact_is_retried_not_fatal():
    # the 2nd send raises something that is not an SmsError: that contact is retried after the
    # backoff, the others go on at once; the alert is never ended by it
    def fail(call):
        return TypeError("unsupported types") if call == 2 else None
    modem = _Modem(fail=fail)
    am, events = _manager("ar4.json", modem)
    await _until_sent(am, modem, timeout_ms=20000)
    names = _names(events)
    assert len(modem.sent) == 5, names
    assert "sms_error" in names and "alert_error" not in names
    assert names.index("sms_error") < [i for i, n in enumerate(names) if n == "sms_sent"][1]
    assert sorted(r["st"] for r in am.outbox.recs) == [ACCEPTED] * 5


async def test_sms_errors_keep_their_meaning():
    # an SmsError still goes through its own path (permanent failure: not retried)
    def fail(call):
        return SmsError("cms", 500, False) if call == 1 else None
    modem = _Modem(fail=fail)
    am, events = _manager("ar5.json", modem)
    await _until_sent(am, modem, n=4, timeout_ms=5000)
    names = _names(events)
    assert "sms_permanent_failure" in names and "sms_error" not in names and len(modem.sent) == 4


class _FullFlash(Outbox):
    full = False

    def save(self):
        if self.full:
            raise OSError(28)  # ENOSPC
        Outbox.save(self)


async def test_a_follow_up_queued_on_a_full_flash_is_sent_once():
    modem = _Modem()
    am, events = _manager("ar6.json", modem, outbox=_FullFlash)
    am.start()
    am.trigger("button")
    for _ in range(500):
        if len(modem.sent) == 5:
            break
        await asyncio.sleep_ms(10)
    am.outbox.full = True
    before = len(am.outbox.recs)
    k = await am.queue_message(2, "update", "test")
    assert k == before and len(am.outbox.recs) == before + 1, (k, before, len(am.outbox.recs))
    assert "outbox_write_failed" in _names(events)
    for _ in range(500):
        if len(modem.sent) == 6:
            break
        await asyncio.sleep_ms(10)
    await asyncio.sleep_ms(200)
    assert len(modem.sent) == 6  # the follow-up went out, once
    am.stop("test over")
    await asyncio.sleep_ms(50)
    am.task.cancel()
