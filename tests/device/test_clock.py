# The wall clock is trusted only from a source (a GNSS fix with a date, the network's time through the
# modem), never from the RTC's year alone: the evidence TIME flag, fix ages and platform event times
# rest on it. Absurd dates (a modem's default 1970/2070/2080 RTC, a GNSS week rollover, garbage) are
# refused. Then the recorder: a chunk before any source has TIME clear, after a GNSS fix it has the fix's time.
import asyncio
import os
import time

from drivers.modem.simcom_a76xx import parse_cclk, parse_cgnssinfo
from firmware.core import clock, uptime
from firmware.core.fix import Fix
from firmware.evidence import store as ev
from firmware.evidence.recorder import unix_ms
from firmware.location.last_fix import LastFix, set_clock
from firmware.location import last_fix
from test_evidence import Log, Mgr, Mic, chunk_files, recorder

_UNIX = 946684800 if time.gmtime(0)[0] == 2000 else 0


def fresh():
    clock.forget()
    clock.refused = 0


def test_the_rtc_alone_is_not_a_time():
    fresh()
    # the VM's RTC is the PC's: a plausible year, and still no source
    assert time.gmtime(time.time())[0] >= 2024
    assert clock.utc_now() is None and unix_ms() is None
    assert clock.status() == (None, None)


def test_a_source_sets_it_to_its_own_time_not_the_rtcs():
    fresh()
    assert clock.set_from(clock.GNSS, 2031, 3, 4, 5, 6, 7)
    t = time.gmtime(clock.utc_now())
    assert t[:5] == (2031, 3, 4, 5, 6) and 7 <= t[5] <= 9
    assert clock.status()[0] == "gnss" and 0 <= clock.status()[1] <= 2
    assert clock.set_from(clock.GNSS, 2030, 1, 1, 0, 0, 0, late_s=30)  # given 30 s ago: now 00:00:30
    assert 30 <= clock.utc_now() - clock.epoch(2030, 1, 1, 0, 0, 0) <= 32


def test_absurd_dates_are_refused_and_do_not_set_it():
    fresh()
    for d in ((2080, 1, 6, 0, 0, 0), (2070, 1, 1, 0, 0, 0), (1970, 1, 1, 0, 0, 0), (2000, 1, 1, 0, 0, 0),
              (2006, 4, 1, 12, 0, 0),  # a GNSS 1024-week rollover
              (2023, 12, 31, 23, 59, 59), (2050, 1, 1, 0, 0, 0), (2026, 13, 1, 0, 0, 0), (2026, 0, 1, 0, 0, 0),
              (2026, 2, 29, 0, 0, 0), (2026, 4, 31, 0, 0, 0), (2026, 1, 0, 0, 0, 0), (2026, 1, 1, 24, 0, 0),
              (2026, 1, 1, 0, 60, 0), (2026, 1, 1, 0, 0, 60), (2026, 1, 1, -1, 0, 0)):
        assert not clock.set_from(clock.NETWORK, *d), d
        assert not clock.set_from(clock.GNSS, *d), d
    assert clock.utc_now() is None and clock.refused == 32
    assert not clock.set_from("rtc", 2026, 1, 1, 0, 0, 0)  # no other source exists
    assert clock.set_from(clock.GNSS, 2028, 2, 29, 0, 0, 0)  # a real leap day
    assert clock.set_from(clock.GNSS, 2024, 1, 1, 0, 0, 0) and clock.set_from(clock.GNSS, 2049, 12, 31, 23, 59, 59)


def test_the_network_does_not_overrule_a_fresh_gnss_time():
    fresh()
    assert clock.set_from(clock.NETWORK, 2027, 1, 1, 0, 0, 0)
    assert clock.set_from(clock.GNSS, 2027, 1, 1, 0, 0, 5)  # GNSS overrules the network
    assert not clock.set_from(clock.NETWORK, 2027, 1, 1, 0, 10, 0)
    assert clock.status()[0] == "gnss" and time.gmtime(clock.utc_now())[4] == 0


def test_without_a_source_for_too_long_it_is_drifting():
    fresh()
    keep = clock.MAX_AGE_S
    try:
        clock.MAX_AGE_S = 0
        assert clock.set_from(clock.NETWORK, 2027, 1, 1, 0, 0, 0)
        t0 = time.time()
        while time.time() - t0 < 1.2:
            pass
        assert clock.utc_now() is None
        src, age = clock.status()
        assert src == "network" and age >= 1  # the self-test says "drifting: set from network ..."
    finally:
        clock.MAX_AGE_S = keep


def test_a_deep_sleep_keeps_it_a_power_loss_does_not():
    fresh()
    assert clock.carry() is None
    clock.set_from(clock.GNSS, 2029, 6, 1, 12, 0, 0)
    state = clock.carry()
    now = clock.utc_now()
    clock.forget()  # the reboot after a deep sleep: RAM lost, RTC memory and the RTC kept
    assert clock.resume(state) and abs(clock.utc_now() - now) <= 1 and clock.status()[0] == "gnss"
    clock.forget()  # after a battery pull the power task finds no RTC memory and resumes nothing
    for bad in (None, [], ["gnss", 1], ["rtc", 0, 0], ["gnss", "1", 0], "gnss", 7):
        assert not clock.resume(bad)
        assert clock.utc_now() is None
    assert clock.resume(["network", 0, int(time.time()) + 3600]) and clock.utc_now() is None  # RTC went back


def test_cclk_network_time_to_utc():
    assert parse_cclk(b'"26/11/26,15:30:00+04"') == (2026, 11, 26, 14, 30, 0)  # +1 h
    assert parse_cclk(b'"26/01/01,00:10:00+08"') == (2025, 12, 31, 22, 10, 0)  # across the new year
    assert parse_cclk(b'"26/06/30,23:50:00-20"') == (2026, 7, 1, 4, 50, 0)
    assert parse_cclk(b' "24/02/29,12:00:00+00" ') == (2024, 2, 29, 12, 0, 0)


def test_cclk_defaults_and_garbage_are_refused():
    for v in (b'"70/01/01,00:00:00+00"',  # the A7670's RTC without NITZ: 2070
              b'"80/01/06,00:00:00+00"', b'"00/01/01,00:00:00+00"', b'"23/12/31,23:00:00+00"',
              b'"26/13/01,00:00:00+00"', b'"26/02/30,00:00:00+00"', b'"26/01/01,25:00:00+00"',
              b'"26/01/01,00:00:00+97"', b'"26/01/01,00:00:00"', b'26/01/01,00:00:00+00',
              b'"26-01-01,00:00:00+00"', b'"2a/01/01,00:00:00+00"', b'"26/01/01,00:00:00*04"',
              b'"26/1/01,00:00:00+004"', b'', b'"', b'ERROR', b'"26/01/01 00:00:00+00"'):
        assert parse_cclk(v) is None, v


def fix(utc, source="gnss"):
    return Fix(48.85661, 2.35222, 6.0, utc, None, source, 9).stamp()


def test_a_gnss_fix_with_a_date_sets_it_and_an_absurd_one_does_not():
    fresh()
    log = Log()
    lf = LastFix(path="clock_lastfix.json", log=log)
    lf.update(fix(None))  # no date: no time
    lf.update(fix(clock.epoch(2026, 11, 26, 14, 30, 2), "gnss-dr"))  # dead reckoning: not the receiver's time
    assert clock.utc_now() is None
    f = parse_cgnssinfo(b"3,08,04,03,48.856610,N,2.352220,E,261126,143002.8,35.0,0.0,0.0,1.9,1.2,1.5").stamp()
    lf.update(f)
    assert clock.status()[0] == "gnss" and 0 <= clock.utc_now() - clock.epoch(2026, 11, 26, 14, 30, 2) <= 1
    fresh()
    for utc in (f.utc - 20 * 365 * 86400, clock.epoch(2000, 1, 1, 0, 0, 0)):  # rollover, receiver's default
        lf.update(fix(utc))
    assert clock.utc_now() is None and [e for e, _ in log.events].count("clock_refused") == 2
    f80 = parse_cgnssinfo(b"3,08,04,03,48.856610,N,2.352220,E,060180,000002.0,35.0,0.0,0.0,1.9,1.2,1.5")
    assert time.gmtime(f80.utc)[0] == 2080 and not set_clock(f80.stamp())  # "060180": 6 Jan 2080
    assert clock.utc_now() is None
    old = fix(clock.epoch(2026, 11, 26, 14, 30, 2))
    old.up_ms = uptime.ms() - 90000  # obtained 90 s ago: the clock is set to the fix's time + 90 s
    assert last_fix.set_clock(old)
    assert 90 <= clock.utc_now() - clock.epoch(2026, 11, 26, 14, 30, 2) <= 91




async def recording(root):
    """One short recording (pre-alert + 1 s), sealed to the test's association key; the parsed chunks."""
    log = Log()
    r = recorder(root, log, evidence_prealert_s=1, evidence_record_s=1, evidence_chunk_s=1)
    r.start()
    silence = bytearray(2 * 505)
    for _ in range(20):
        r.mic.sink(silence)
    r.on_alert("triggered", Mgr(3))
    for _ in range(40):
        r.mic.sink(silence)
        await asyncio.sleep_ms(1)
    for _ in range(300):
        if any(e == "evidence_done" for e, _ in log.events):
            break
        await asyncio.sleep_ms(10)
    r.task.cancel()
    assert any(e == "evidence_done" for e, _ in log.events), log.events
    return [ev.parse(data) for _n, data in chunk_files(root, 1)]


async def test_a_chunk_has_time_only_once_a_source_set_the_clock():
    fresh()
    before = await recording("evt1")
    assert before and all(p["start_utc_ms"] is None for p in before)  # TIME clear
    lf = LastFix(path="clock_lastfix2.json")
    lf.update(fix(clock.epoch(2026, 11, 26, 14, 30, 2)))
    after = await recording("evt2")
    want = (clock.epoch(2026, 11, 26, 14, 30, 2) + _UNIX) * 1000
    for p in after:
        assert p["start_utc_ms"] is not None  # TIME set, with the fix's time (not the VM's PC clock)
        assert 0 <= p["start_utc_ms"] - p["offset_ms"] - want <= 3000, p


async def test_the_self_test_says_where_the_time_came_from_or_that_it_drifts():
    from firmware.console.selftest import SelfTest
    st = SelfTest(None)
    fresh()
    p = await st.clock()
    assert p["ok"] and p["value"] == "ticks running, time not set" and "age unknown" in p["note"]
    clock.set_from(clock.NETWORK, 2027, 1, 2, 3, 4, 5)
    p = await st.clock()
    assert p["value"] == "ticks running, 2027-01-02 03:04 UTC (from network, 0 min ago)", p
    keep = clock.MAX_AGE_S
    try:
        clock.MAX_AGE_S = -1
        p = await st.clock()
        assert p["ok"] and p["value"] == "ticks running, time drifting: set from network 0 h ago", p
    finally:
        clock.MAX_AGE_S = keep
    fresh()
