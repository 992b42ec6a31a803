# firmware/power/modem.py: 3GPP timer encodings, the pure ModemPolicy with synthetic time, and the
# ModemPower driver against a fake modem (AT commands, DTR pin, power key).
import asyncio
from time import ticks_add, ticks_ms

from firmware.core.errors import AtError
from firmware.power.modem import (ModemPolicy,
    ModemPower,
    OFF,
    ON,
    READY,
    decode_timer,
    edrx_value,
    gprs_timer2,
    gprs_timer3,
    parse_cereg_psm)
from firmware.power.policy import Accounting

S = 1000
STARTS = (0, 98765, ticks_add(0, -3 * S), ticks_add(0, -1))


def at(t0, ms):
    return ticks_add(t0, ms)


# ---- encodings ---------------------------------------------------------------------------------------

def test_timer_examples_from_the_at_manuals():
    # "01000111" = 70 hours (T3412 ext.), "00100100" = 4 minutes (T3324): Telit ME910 AT manual
    assert decode_timer("01000111", True) == 70 * 3600
    assert decode_timer("00100100", False) == 4 * 60
    assert decode_timer("11100000", True) is None  # deactivated
    assert decode_timer("0100011", True) is None


def test_encode_picks_the_finest_unit_not_below_the_request():
    assert gprs_timer3(3600) == ("00000110", 3600)  # 6 x 10 min
    assert gprs_timer3(62) == ("01111111", 62)  # 31 x 2 s
    assert gprs_timer3(63) == ("10000011", 90)  # 3 x 30 s (rounded up)
    assert gprs_timer3(24 * 3600) == ("00111000", 24 * 3600)
    assert gprs_timer2(10) == ("00000101", 10)
    assert gprs_timer2(120) == ("00100010", 120)
    for s in (0, 1, 59, 60, 61, 3599, 7200, 86400, 10 * 86400):
        bits, actual = gprs_timer3(s)
        assert actual >= s and decode_timer(bits, True) == actual
    for s in (0, 2, 61, 186 * 60):
        bits, actual = gprs_timer2(s)
        assert actual >= s and decode_timer(bits, False) == actual
    for bad in (-1, 1.5, 187 * 60):
        try:
            gprs_timer2(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_edrx_table():
    assert edrx_value(5.12) == ("0000", 5120)
    assert edrx_value(20) == ("0010", 20480)
    assert edrx_value(2621.44) == ("1101", 2621440)
    try:
        edrx_value(3000)
    except ValueError:
        pass
    else:
        raise AssertionError("no E-UTRAN eDRX cycle above 2621.44 s")


def test_cereg_psm_grant():
    assert parse_cereg_psm(b'4,1,"1A2B","01A2B3C4",7,,,"00100001","00000110"') == (60, 3600)
    assert parse_cereg_psm(b'2,1,"1A2B","01A2B3C4",7') is None  # n=2: no PSM fields
    assert parse_cereg_psm(b'4,1,"1A2B","01A2B3C4",7,,,,') is None  # not granted


# ---- policy ------------------------------------------------------------------------------------------

def test_ready_mode_sleeps_after_the_idle_time_and_wakes_for_use():
    for t0 in STARTS:
        acc = Accounting(t0)
        p = ModemPolicy({"modem_mode": READY, "idle_to_sleep_s": 5}, acc, t0, "booting")
        p.registered(at(t0, 12 * S))
        assert p.want(at(t0, 16 * S)) == "awake" and p.next_ms(at(t0, 16 * S)) == 1 * S
        assert p.want(at(t0, 17 * S)) == "sleep"
        assert p.want(at(t0, 17 * S), alert=True) == "awake"
        assert p.want(at(t0, 17 * S), gnss=True) == "awake"
        p.slept(at(t0, 17 * S))
        assert p.settled() and p.next_ms(at(t0, 18 * S)) == 14400 * S - 18 * S  # the registration check
        p.woke(at(t0, 100 * S))
        assert not p.settled()
        tot = acc.totals(at(t0, 100 * S))
        assert tot["modem"] == {"booting": 12 * S, "idle": 5 * S, "sleep": 83 * S}, tot["modem"]
        assert acc.counts == {}  # booting() was not called: the app's bring-up, not a power-on


def test_psm_starts_when_the_granted_active_time_ran_out():
    for t0 in STARTS:
        acc = Accounting(t0)
        p = ModemPolicy({"modem_mode": READY, "psm": {"tau_s": 3600, "active_s": 10}}, acc, t0, "idle")
        p.slept(at(t0, 1 * S))
        p.tick(at(t0, 50 * S))
        assert p.state == "sleep"  # nothing granted yet: no PSM
        p.psm_granted(10)
        assert p.next_ms(at(t0, 5 * S)) == 6 * S
        p.tick(at(t0, 50 * S))
        assert p.state == "psm"
        tot = acc.totals(at(t0, 50 * S))
        assert tot["modem"]["sleep"] == 10 * S and tot["modem"]["psm"] == 39 * S  # dated at 11 s


def test_off_mode_stays_on_after_an_alert_then_off():
    for t0 in STARTS:
        p = ModemPolicy({"modem_mode": OFF, "off_after_s": 60}, None, t0, "off")
        assert p.want(t0) == "off"
        assert p.want(t0, alert=True) == "awake"
        p.alert(t0, True)  # the power task reports the alert at every step
        p.booting(at(t0, 1 * S))
        p.registered(at(t0, 13 * S))
        p.sending(at(t0, 13 * S), True)
        assert p.state == "sending" and not p.settled()
        p.sending(at(t0, 20 * S), False)
        for k in range(20, 80):  # ...and its absence too: only the end starts the grace time
            p.alert(at(t0, k * S), False)
        assert p.want(at(t0, 79 * S)) == "awake" and p.next_ms(at(t0, 79 * S)) == 1 * S
        assert p.want(at(t0, 80 * S)) == "off"
        p.alert(at(t0, 81 * S), False)
        assert p.want(at(t0, 82 * S)) == "off"  # idle steps after the end never restart it


def test_stamps_days_old_are_long_ago_not_recent():
    # ticks_diff reads a stamp older than 2**29 ms (6.2 days) as recent again: a week after an alert
    # an "off" modem came back on, a "ready" one stayed awake. Policies forget stamps after 3.1 days.
    for t0 in STARTS:
        p = ModemPolicy({"modem_mode": OFF, "off_after_s": 60}, None, t0, "off")
        p.alert(t0, True)
        p.alert(at(t0, 10 * S), False)
        assert p.want(at(t0, 30 * S)) == "awake"
        t = at(t0, 10 * S)
        for k in range(130):  # polled every 3 h for 16 days: across 2**29 and 2**30 ms
            t = at(t, 3 * 3600 * S)
            assert p.want(t) == "off", (t0, k)
        q = ModemPolicy({"modem_mode": READY, "idle_to_sleep_s": 5, "check_s": 0}, None, t0, "idle")
        q.used(t0)
        t = t0
        for k in range(130):
            t = at(t, 3 * 3600 * S)
            assert q.want(t) == "sleep", (t0, k)


def test_on_mode_is_always_awake():
    p = ModemPolicy({"modem_mode": ON}, None, 0, "idle")
    assert p.want(10 ** 6) == "awake" and p.next_ms(0) is None and p.settled()


def test_config_is_checked():
    for bad in ({"modem_mode": "sleepy"}, {"idle_to_sleep_s": -1}, {"wake_ms": 9000},
                {"psm": {"tau_s": 3600}}, {"psm": 5}, {"edrx_s": 99999}):
        try:
            ModemPolicy(bad)
        except (ValueError, TypeError):
            continue
        raise AssertionError("accepted %r" % (bad,))


# ---- driver ------------------------------------------------------------------------------------------

class Pin:
    def __init__(self, v=0):
        self.v = v
        self.log = []

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        self.log.append(v)


class Resp:
    def __init__(self, line):
        self._l = line

    def line(self, prefix):
        return self._l


class At:
    def __init__(self, refuse=()):
        self.sent = []
        self.refuse = refuse

    async def command(self, cmd, timeout_ms=5000, expect=None):
        self.sent.append(cmd)
        for r in self.refuse:
            if cmd.startswith(r):
                raise AtError(b"ERROR")
        if cmd == "AT+CEREG?":
            return Resp(b'4,1,"1A2B","01A2B3C4",7,,,"00000101","00000110"')
        return Resp(None)


class Modem:
    def __init__(self, at_):
        self.at = at_
        self.ready = asyncio.Event()
        self.power_key = Pin()
        self.synced = 0
        self.brought_up = 0
        self.polls = 0
        self.registered = False

    async def sync(self, timeout_ms=0):
        self.synced += 1
        return True

    async def configure(self):
        self.brought_up += 1

    async def poll_status(self):
        self.polls += 1
        self.registered = self.polls >= 2  # registered on the second poll


def _driver(cfg, state, refuse=()):
    cfg = dict(cfg)
    cfg.setdefault("check_s", 0)  # the clock is the VM's ticks_ms: a check would be due at once
    m = Modem(At(refuse))
    acc = Accounting(0)
    p = ModemPolicy(cfg, acc, 0, state)
    d = ModemPower(m, p, Pin(), log=lambda *a, **k: None)
    d.OFF_HOLD_MS = d.ON_PULSE_MS = d.OFF_GAP_MS = 5
    return m, p, d


async def test_ready_sleep_then_wake_by_dtr():
    m, p, d = _driver({"modem_mode": READY, "idle_to_sleep_s": 0, "wake_ms": 0}, "idle")
    m.ready.set()
    assert await d.apply() == "sleep"
    assert m.at.sent == ["AT+CSCLK=1"] and d.dtr.v == 1 and not m.ready.is_set() and p.state == "sleep"
    assert await d.apply() is None  # settled
    assert await d.apply(alert=True) == "wake"
    assert d.dtr.v == 0 and m.ready.is_set() and p.state == "idle" and m.synced == 1
    assert await d.apply() == "sleep"
    assert m.at.sent == ["AT+CSCLK=1"]  # once per modem boot


async def test_sleep_refused_keeps_it_awake():
    m, p, d = _driver({"modem_mode": READY, "idle_to_sleep_s": 0}, "idle", refuse=("AT+CSCLK",))
    m.ready.set()
    assert await d.apply() == "sleep"
    assert p.state == "idle" and d.dtr.v == 0 and m.ready.is_set()


async def test_off_mode_power_key_and_boot_on_alert():
    m, p, d = _driver({"modem_mode": OFF, "off_after_s": 0,
                       "psm": {"tau_s": 3600, "active_s": 10}, "edrx_s": 20}, "idle")
    assert await d.apply() == "off"
    assert m.power_key.log == [1, 0] and p.state == "off" and not m.ready.is_set()
    d.on_alert("triggered", None)
    assert d.kick.is_set() and d.dtr.v == 0
    assert await d.apply(alert=True) == "on"
    assert m.power_key.log == [1, 0, 1, 0] and m.brought_up == 1 and p.state == "idle"
    assert m.polls == 2 and m.registered and m.ready.is_set()  # ready only once registered
    assert 'AT+CPSMS=1,,,"00000110","00000101"' in m.at.sent and 'AT+CEDRXS=1,4,"0010"' in m.at.sent
    assert p.psm_active_ms == 10 * 1000  # granted by the (fake) network's +CEREG answer
    assert p.acc.counts["modem_boots"] == 1


async def test_psm_refused_is_logged_not_fatal():
    m, p, d = _driver({"modem_mode": READY, "psm": {"tau_s": 3600, "active_s": 10}}, "idle",
                      refuse=("AT+CPSMS", "AT+CEDRXS"))
    out = await d.configure_low_power()
    assert out == {"psm": "refused", "edrx": None} and p.psm_active_ms is None


def test_a_modem_found_asleep_is_not_woken_by_the_mcu_boot():
    for st in ("sleep", "psm", "off"):
        p = ModemPolicy({"modem_mode": READY if st != "off" else OFF}, None, 5000, st)
        assert p.want(5000) == ("sleep" if st != "off" else "off"), st
    p = ModemPolicy({"modem_mode": READY}, None, 5000, "sleep")
    p.used(5000)  # a press: wake it now, an alert may follow
    assert p.want(5001) == "awake"
    assert not ModemPolicy({"modem_mode": OFF}).gnss_standby_allowed()
    assert ModemPolicy({"modem_mode": READY}).gnss_standby_allowed()


def test_registration_check_every_check_s_in_ready_mode_and_across_a_deep_sleep():
    for t0 in STARTS:
        p = ModemPolicy({"modem_mode": READY, "idle_to_sleep_s": 5, "check_s": 3600}, None, t0, "sleep")
        assert p.want(at(t0, 3599 * S)) == "sleep" and p.next_ms(at(t0, 3000 * S)) == 600 * S
        assert p.check_due(at(t0, 3600 * S)) and p.want(at(t0, 3600 * S)) == "awake"
        p.woke(at(t0, 3600 * S))
        p.checked(at(t0, 3601 * S), False)
        p.used(at(t0, 3601 * S))  # what ModemPower.check() does after AT+CEREG?
        assert p.reg_lost == 1 and not p.check_due(at(t0, 3602 * S))
        assert p.want(at(t0, 3605 * S)) == "awake" and p.want(at(t0, 3606 * S)) == "sleep"
        d = p.carry(at(t0, 4000 * S))
        assert d == {"c": 399 * S}
        q = ModemPolicy({"modem_mode": READY, "check_s": 3600}, None, 5, "sleep")  # rebooted: new clock
        q.resume(d, 5, 3000 * S)  # 3000 s of sleep + boot
        assert not q.check_due(at(5, 200 * S)) and q.check_due(at(5, 201 * S))
        off = ModemPolicy({"modem_mode": OFF, "check_s": 3600}, None, t0, "off")
        assert not off.check_due(at(t0, 10 ** 5 * S)) and off.want(at(t0, 10 ** 5 * S)) == "off"


async def test_the_wake_for_a_due_check_polls_the_registration_then_sleeps_again():
    m, p, d = _driver({"modem_mode": READY, "idle_to_sleep_s": 0, "wake_ms": 0, "check_s": 60}, "sleep")
    p._check_t = ticks_add(ticks_ms(), -61 * S)
    assert await d.apply() == "check" and d.dtr.v == 0  # woken by DTR for it
    assert m.polls == 1 and p.reg_lost == 1 and not p.check_due(ticks_ms())  # not registered yet
    assert await d.apply() == "sleep"
    p._check_t = ticks_add(ticks_ms(), -61 * S)
    assert await d.apply() == "check" and m.polls == 2 and p.reg_lost == 0
    p._check_t = ticks_add(ticks_ms(), -61 * S)  # due while awake for something else: checked too
    assert p.state == "idle" and await d.apply() == "check" and m.polls == 3
