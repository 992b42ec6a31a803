# Everyone told (issue 20 item 6) with the real AlertManager and a fake modem: a STOP by SMS is felt
# by the wearer, the follow-ups paused by a low battery and the alert's time limit are told to the
# contacts in their own words, once, after the alert's own SMS.
import asyncio

from firmware.alert.manager import IDLE
from firmware.settings import pin_lock
from firmware.wearer import haptics
from test_alert_recipients import OLD, _Modem, _clean, _manager, _wait


class _Sms:
    def __init__(self, sender, text):
        self.sender, self.text, self.ton, self.scts = sender, text, 1, None


class _App:
    def __init__(self, alert, cfg):
        self.alert = alert
        self.cfg = cfg
        self.log = lambda *a, **k: None
        self.felt = []
        app = self

        class Vib:
            def play(self, p):
                app.felt.append(p)

        class Modem:
            def sms_reader(self, on_message, log=None, bad_store=None, retry_ms=0):
                return None
        self.vibrator = Vib()
        self.modem = Modem()


def texts(m, start=0):
    return [(d, k) for _, k, d in m.sent[start:]]


async def test_a_stop_by_sms_is_felt_and_told_to_the_others_after_the_alert():
    from firmware.sms.two_way import TwoWay
    name = "notice_stop.json"
    _clean(name)
    m = _Modem()
    am, ev = _manager(name, m, cfg={"contacts_pin": pin_lock.make("4321")})
    am.start()
    am.trigger("button")
    assert await _wait(lambda: len(m.sent) == 5)
    app = _App(am, am.cfg)
    tw = TwoWay(app)
    tw.on_message(_Sms(OLD[1]["number"], "STOP 4321"))
    assert app.felt == [haptics.STOPPED_BY_CONTACT]  # before: nothing, she never knew
    assert await _wait(lambda: am.state == IDLE)
    told = [d for _, _, d in m.sent[5:]]
    assert sorted(told) == sorted(c["number"] for c in OLD if c["number"] != OLD[1]["number"]), told
    am.task.cancel()
    _clean(name)


async def test_low_battery_and_the_time_limit_are_told_once_in_their_own_words():
    name = "notice_bat.json"
    _clean(name)
    m = _Modem()
    pct = [50]
    am, ev = _manager(name, m, cfg={"alert_active_s": 3, "update_first_s": 600})
    am.battery = lambda: pct[0]
    sent_texts = []
    orig = m.send_pdu

    async def send(pdu, n, timeout_ms=0):
        sent_texts.append(pdu)
        return await orig(pdu, n, timeout_ms)
    m.send_pdu = send
    am.start()
    am.trigger("button")
    assert await _wait(lambda: len(m.sent) == 5)
    pct[0] = 8  # below battery_floor_pct (10): periodic follow-ups stop
    am._nudge.set()
    assert await _wait(lambda: len(m.sent) == 10)
    await asyncio.sleep_ms(300)
    assert len(m.sent) == 10  # once
    assert await _wait(lambda: am.state == IDLE, 6000)  # the 3 s limit
    assert len(m.sent) == 15, len(m.sent)
    bodies = [_text(p) for p in sent_texts]
    assert all(b.startswith("ALERTE") for b in bodies[:5])
    assert all(b.startswith("SUIVI SUSPENDU") and "(8%)" in b for b in bodies[5:10]), bodies[5:10]
    assert all(b.startswith("FIN DU SUIVI") for b in bodies[10:]), bodies[10:]
    am.task.cancel()
    _clean(name)


def _text(pdu_hex):
    """The text of an SMS-SUBMIT PDU as encode_submit writes it (GSM-7, no UDH, relative VP)."""
    from firmware.core import gsm7
    raw = bytes.fromhex(pdu_hex)
    i = 4 + (raw[3] + 1) // 2 + 1  # "00" SMSC, first octet, MR, DA length, TOA, digits
    i += 3  # PID, DCS, VP
    n = raw[i]
    return gsm7.unpack_septets(raw[i + 1:], n)
