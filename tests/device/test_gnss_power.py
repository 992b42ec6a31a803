# firmware/location/gnss_power.py with synthetic time (also across the ticks wraparound).
from time import ticks_add

from firmware.location.gnss_power import GnssPower, OFF, ALERT, REFRESH, BOOT, PAUSED, SELFTEST, DEFAULTS

S = 1000
MIN = 60 * S
STARTS = (0, 7777, ticks_add(0, -3 * MIN), ticks_add(0, -1))


def at(t0, ms):
    return ticks_add(t0, ms)


def timeline(p, t0, until_ms, step_ms=10 * S, events=None):
    """want_on() every step_ms; returns the list of (ms, mode) at each change of mode."""
    out = []
    events = events or {}
    ms = 0
    last = None
    while ms <= until_ms:
        now = at(t0, ms)
        if ms in events:
            events[ms](p, now)
        on = p.want_on(now)
        assert on == (p.mode in (ALERT, REFRESH, BOOT, SELFTEST))
        if p.mode != last:
            out.append((ms // S, p.mode))
            last = p.mode
        ms += step_ms
    return out


def test_defaults():
    assert DEFAULTS["gnss_refresh"][0] == [50, 1800]


def test_off_when_idle_without_a_boot_refresh():
    p = GnssPower({"gnss_refresh": [[0, 0]]})  # refresh disabled
    assert timeline(p, 0, 60 * MIN) == [(0, OFF)]
    assert p.next_check_ms(0) is None


def test_boot_refresh_then_standby_refresh_every_30_min_on_a_full_battery():
    for t0 in STARTS:
        p = GnssPower(now=t0)
        p.battery(90)
        # boot: on until a fix (here at 40 s); then refresh every 30 min from the boot, each ended by a fix
        ev = {40 * S: lambda p, now: p.on_fix(now), 1820 * S: lambda p, now: p.on_fix(now),
              3620 * S: lambda p, now: p.on_fix(now)}
        tl = timeline(p, t0, 61 * MIN, events=ev)
        assert tl == [(0, BOOT), (40, OFF), (1800, REFRESH), (1820, OFF), (3600, REFRESH), (3620, OFF)], (t0, tl)


def test_refresh_gives_up_indoors_and_waits_for_the_next_interval():
    for t0 in STARTS:
        p = GnssPower({"gnss_refresh_timeout_s": 90, "gnss_boot_timeout_s": 300}, now=t0)
        p.battery(60)
        tl = timeline(p, t0, 65 * MIN)  # never a fix
        assert tl == [(0, BOOT), (300, OFF), (1800, REFRESH), (1890, OFF), (3600, REFRESH), (3690, OFF)], tl


def test_refresh_rate_follows_the_battery():
    p = GnssPower()
    for pct, s in ((100, 1800), (50, 1800), (49, 7200), (20, 7200), (19, 0), (0, 0), (None, 1800)):
        p.battery(pct)
        assert p.refresh_interval_s() == s, (pct, s)
    p = GnssPower(now=0)
    p.battery(30)
    tl = timeline(p, 0, 5 * 60 * MIN, step_ms=MIN, events={MIN: lambda p, now: p.on_fix(now)})
    assert tl == [(0, BOOT), (60, OFF), (7200, REFRESH), (7320, OFF), (14400, REFRESH), (14520, OFF)], tl
    p = GnssPower(now=0)
    p.battery(10)  # low: the boot attempt still runs, then no more refresh
    tl = timeline(p, 0, 5 * 60 * MIN, step_ms=MIN)
    assert tl == [(0, BOOT), (300, OFF)], tl


def test_alert_hot_start_and_off_when_nothing_needs_a_fix():
    for t0 in STARTS:
        p = GnssPower(now=t0)
        p.battery(80)
        p.on_fix(t0)  # boot refresh done at once
        ev = {
            5 * MIN: lambda p, now: p.alert(now, True, need_fix=True),  # on at once (hot start)
            20 * MIN: lambda p, now: p.set_need_fix(False),  # e.g. every contact acknowledged
            30 * MIN: lambda p, now: p.set_need_fix(True),
            40 * MIN: lambda p, now: p.alert(now, False),  # alert over
        }
        tl = timeline(p, t0, 75 * MIN, events=ev)
        # after the alert, the standby schedule restarts from its end (a fresh fix was just had)
        assert tl == [(0, OFF), (300, ALERT), (1200, OFF), (1800, ALERT), (2400, OFF), (4200, REFRESH),
                      (4320, OFF)], (t0, tl)


def test_alert_stays_on_a_minimum_time_even_without_need():
    p = GnssPower({"gnss_alert_min_on_s": 120})
    p.alert(0, True, need_fix=False)
    assert p.want_on(119 * S) and p.mode == ALERT
    assert p.next_check_ms(100 * S) == 20 * S
    assert not p.want_on(120 * S)


def test_alert_overrides_a_running_refresh_and_low_battery():
    p = GnssPower(now=0)
    p.battery(5)
    p.alert(10 * S, True)
    assert p.want_on(11 * S) and p.mode == ALERT


def test_gnss_that_blocks_lte_pauses_for_sms():
    p = GnssPower(blocks_lte=True, now=0)
    p.alert(0, True)
    assert p.want_on(S)
    p.set_lte_busy(True)
    assert not p.want_on(2 * S) and p.mode == PAUSED
    p.set_lte_busy(False)
    assert p.want_on(3 * S) and p.mode == ALERT
    q = GnssPower(blocks_lte=False, now=0)
    q.alert(0, True)
    q.set_lte_busy(True)
    assert q.want_on(S) and q.mode == ALERT  # other modems keep GNSS on while sending


def test_next_check():
    p = GnssPower({"gnss_refresh_timeout_s": 100}, now=0)
    p.battery(90)
    assert p.next_check_ms(0) == 300 * S  # boot attempt timeout
    p.want_on(0)
    p.on_fix(20 * S)
    assert p.next_check_ms(20 * S) == 1780 * S  # next refresh 30 min after the boot attempt began
    p.want_on(1800 * S)
    assert p.next_check_ms(1850 * S) == 50 * S  # the refresh's timeout


def test_bad_config():
    for cfg in ({"gnss_refresh": [[50, 30]]}, {"gnss_refresh": [[150, 600]]}, {"gnss_refresh": 5},
                {"gnss_refresh_timeout_s": -1}):
        try:
            GnssPower(cfg)
        except ValueError:
            pass
        else:
            raise AssertionError(cfg)


def test_schedule_crosses_a_deep_sleep_and_the_power_gate_holds_standby_refreshes():
    for t0 in STARTS:
        p = GnssPower({"gnss_refresh": [[0, 1800]], "gnss_refresh_timeout_s": 120}, now=None)
        assert p.want_on(t0) and p.mode == REFRESH  # never refreshed: at once
        p.on_fix(at(t0, 30 * S))
        assert not p.want_on(at(t0, 31 * S)) and p.next_check_ms(at(t0, 31 * S)) == 1769 * S
        d = p.carry(at(t0, 100 * S))
        assert d == {"r": 100 * S}
        # deep sleep + boot 1000 s; the rebooted firmware constructs it with now=None (no boot refresh)
        q = GnssPower({"gnss_refresh": [[0, 1800]]}, now=None)
        q.resume(d, 42, 1000 * S)
        assert not q.want_on(42) and q.next_check_ms(42) == 700 * S
        q.standby_ok = False  # the power task: she has not walked since the last attempt
        assert not q.want_on(at(42, 800 * S)) and q.next_check_ms(at(42, 800 * S)) is None
        q.alert(at(42, 801 * S), True)
        assert q.want_on(at(42, 801 * S)) and q.mode == ALERT  # the gate never holds an alert back
        q.alert(at(42, 900 * S), False)
        q.standby_ok = True
        assert not q.want_on(at(42, 901 * S))  # the alert's GNSS counted as the refresh


def test_a_refresh_is_due_after_days_without_one():
    # days with refresh off (low battery, or nothing to refresh for) left a stamp that ticks_diff
    # read as recent again after 6.2 days: no refresh for up to 6 more days once it was allowed
    H = 3600 * S
    for t0 in STARTS:
        p = GnssPower({"gnss_refresh": [[50, 1800], [0, 0]]}, now=t0)
        p.battery(80)
        assert p.want_on(t0) and p.mode == BOOT
        p.on_fix(at(t0, 30 * S))
        p.battery(10)  # no refresh below 50 %
        t = at(t0, 30 * S)
        for k in range(60):  # 60 x 3 h = 7.5 days, polled as the app does
            t = at(t, 3 * H)
            assert not p.want_on(t), (t0, k)
        p.battery(80)
        assert p.next_check_ms(t) == 0 and p.want_on(t) and p.mode == REFRESH, (t0, p.mode)


def test_selftest_hold_is_bounded_and_released():
    for t0 in STARTS:
        p = GnssPower({"gnss_refresh": [[0, 0]]})  # off while idle
        assert not p.want_on(t0) and p.next_check_ms(t0) is None
        p.selftest(t0, 16 * S)
        assert p.want_on(at(t0, 1)) and p.mode == SELFTEST
        assert p.next_check_ms(at(t0, 6 * S)) == 10 * S  # the GNSS task wakes when the hold ends
        assert p.want_on(at(t0, 16 * S - 1)) and not p.want_on(at(t0, 16 * S)) and p.mode == OFF
        assert p.next_check_ms(at(t0, 16 * S)) is None
        p.selftest(at(t0, 20 * S), 16 * S)
        p.selftest(at(t0, 21 * S), 0)  # the self-test ended early
        assert not p.want_on(at(t0, 21 * S)) and p.mode == OFF


def test_selftest_hold_yields_to_the_alert_and_to_lte():
    p = GnssPower({"gnss_refresh": [[0, 0]]}, blocks_lte=True)
    p.selftest(0, 10 * S)
    p.alert(1, True)
    assert p.want_on(2) and p.mode == ALERT  # the alert's reason wins
    p.alert(3, False)
    p.set_lte_busy(True)
    assert not p.want_on(4) and p.mode == PAUSED  # an SMS first, also on a hold
