# The alert's per-contact retry across the ticks wrap (issue 17): in the "[wrap]" run on the 32-bit
# VM, ticks_ms starts 2 s before its 2**30 wrap; the alert starts then, one contact's first attempt
# fails (transient), and its retry is due ~5 s later: after the wrap.
# vm: ticks_ms_start=wrap-2000
import asyncio
import os
from time import ticks_add, ticks_diff, ticks_ms

from firmware.core.errors import SmsError
from firmware.alert.manager import AlertManager, IDLE
from firmware.alert.outbox import Outbox

PERIOD = ticks_add(0, -1) + 1
START_MS = ticks_ms()
NEAR_WRAP = 0 < ticks_diff(0, START_MS) < 5000  # the [wrap] run


class _FlakyModem:
    """Refuses the first attempt for the first contact (a transient error): its retry comes ~5 s
    later (the backoff), after the wrap in the [wrap] run."""

    def __init__(self):
        self.ready = asyncio.Event()
        self.ready.set()
        self.on_status_report = None
        self.last_cell = None
        self.sent = []
        self.calls = 0

    async def send_pdu(self, pdu, n, timeout_ms=0):
        self.calls += 1
        await asyncio.sleep_ms(5)
        if self.calls == 1:
            raise SmsError("cms", 500, True)
        self.sent.append((ticks_ms(), pdu))
        return len(self.sent)

    async def power_cycle(self):
        return False

    async def switch_sms_domain(self):
        return False


class _NoFix:
    def best(self):
        return None


async def test_dispatch_retry_backoff_across_the_wrap():
    try:
        os.remove("wrap_outbox.json")
    except OSError:
        pass
    contacts = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
    modem = _FlakyModem()
    events = []
    am = AlertManager({"contacts": contacts, "wearer": "Camille", "lang": "fr", "alert_active_s": 60},
                      modem, _NoFix(), lambda: 80, lambda ev, **kw: events.append(ev),
                      outbox=Outbox("wrap_outbox.json"))
    am.start()
    t0 = ticks_ms()
    am.trigger("button")
    while len(modem.sent) < 5 and ticks_diff(ticks_ms(), t0) < 15000:
        await asyncio.sleep_ms(20)
    am.stop("test over")
    for _ in range(50):
        if am.state == IDLE:
            break
        await asyncio.sleep_ms(20)
    am.task.cancel()
    assert len(modem.sent) == 5, events
    times = [ticks_diff(t, t0) for t, _pdu in modem.sent]
    assert max(times[:4]) < 1000, times  # the four others at once
    assert 3500 <= times[4] <= 7000, times  # the retry after its 5 s +-20 % backoff, not 12 days
    if NEAR_WRAP and PERIOD == 2 ** 30:
        t_retry = modem.sent[4][0]
        assert t_retry < t0 and ticks_diff(t_retry, t0) > 0  # the raw ticks went down: it wrapped
