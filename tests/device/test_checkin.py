# Check-in timer: pre-warnings, "I'm fine" bursts, missed check-in, suspension, reboots.
import os
from firmware.wearer.checkin import MISSED, NONE, PERSIST_MS, PREWARN, CheckIn

H = 3600000
MIN = 60000
T0 = 13 * 24 * H  # firmware.core.uptime ms: 13 days after boot (past the 32-bit ticks wrap at 12.4 days)


def ticks_add(a, b):  # the check-in runs on the never-wrapping uptime clock: plain integers
    return a + b
CFG = {"checkin_h": 2, "checkin_prewarn_min": 15, "checkin_repeat_min": 5}


def fresh(cfg=CFG, now=T0, path="ci.json"):
    try:
        os.remove(path)
    except OSError:
        pass
    return CheckIn(cfg, now, path=path)


def events(c, start, end, step=MIN):
    out = []
    t = 0
    while t <= end - start:
        e = c.poll(ticks_add(T0, start + t))
        if e != NONE:
            out.append((e, (start + t) // MIN))
        t += step
    return out


def test_disabled_by_default():
    c = fresh({})
    assert not c.enabled and c.poll(ticks_add(T0, 100 * H)) == NONE and c.wait_ms(T0) == -1
    assert not c.burst(2, T0)


def test_prewarnings_then_missed():
    c = fresh()
    ev = events(c, 0, 2 * H + 5 * MIN)
    assert ev == [(PREWARN, 105), (PREWARN, 110), (PREWARN, 115), (MISSED, 120)]
    assert c.poll(ticks_add(T0, 3 * H)) == NONE  # suspended after the miss, until resume()


def test_wait_ms_says_when_to_poll():
    c = fresh()
    assert c.wait_ms(T0) == min(105 * MIN, PERSIST_MS)


def test_answer_restarts_the_interval():
    c = fresh()
    assert c.poll(ticks_add(T0, 106 * MIN)) == PREWARN
    assert not c.burst(3, ticks_add(T0, 107 * MIN))  # 3 presses is the alert, not a check-in
    assert c.burst(2, ticks_add(T0, 107 * MIN))
    assert events(c, 108 * MIN, 107 * MIN + 2 * H - MIN) == [(PREWARN, 212), (PREWARN, 217), (PREWARN, 222)]
    assert c.poll(ticks_add(T0, 227 * MIN)) == MISSED


def test_early_check_in_any_time_outside_an_alert():
    c = fresh()
    assert c.burst(2, ticks_add(T0, 10 * MIN))
    assert c.left_ms(ticks_add(T0, 10 * MIN)) == 2 * H


def test_suspended_during_an_alert_then_full_interval():
    c = fresh()
    c.suspend()
    assert c.poll(ticks_add(T0, 3 * H)) == NONE and not c.burst(2, ticks_add(T0, 3 * H))
    c.resume(ticks_add(T0, 3 * H))
    assert c.left_ms(ticks_add(T0, 3 * H)) == 2 * H


def test_reboot_continues_from_the_last_saved_time():
    c = fresh()
    assert c.burst(2, T0)  # saved: 2 h left
    for m in range(0, 61):
        c.poll(ticks_add(T0, m * MIN))  # saves every PERSIST_MS (10 min)
    c2 = CheckIn(CFG, 0, path="ci.json")  # reboot after 60 min: ticks restart
    assert c2.left_ms(0) == 1 * H  # last save at 60 min
    c3 = CheckIn(CFG, 0, path="ci.json")
    assert c3.left_ms(0) <= 2 * H


def test_reboot_while_suspended_never_resends():
    c = fresh()
    assert c.poll(ticks_add(T0, 2 * H)) == MISSED
    c2 = CheckIn(CFG, 0, path="ci.json")
    assert c2.poll(0) == NONE and c2.left_ms(0) == 2 * H


def test_garbage_file_means_full_interval():
    with open("ci.json", "w") as f:
        f.write("[1,2")
    assert CheckIn(CFG, 0, path="ci.json").left_ms(0) == 2 * H
    with open("ci.json", "w") as f:
        f.write('{"left_ms": 999999999999}')
    assert CheckIn(CFG, 0, path="ci.json").left_ms(0) == 2 * H


def test_week_long_interval_counts_every_day():
    # 168 h = 604,800,000 ms: more than ticks_diff's 2**29 ms range. On ticks, a 32-bit board took the
    # deadline for already passed at once (a false check-in alert) or 12.4 days late.
    c = fresh({"checkin_h": 168, "checkin_prewarn_min": 15, "checkin_repeat_min": 5})
    got = []
    t = 0
    while t <= 170 * H:
        e = c.poll(T0 + t)
        if e != NONE:
            got.append((e, t // MIN))
        w = c.wait_ms(T0 + t)
        assert 0 <= w <= PERSIST_MS or (w == -1 and got[-1][0] == MISSED), w  # the caller polls at least every 10 min: uptime keeps folding
        t += 30 * MIN if t < 167 * H else MIN
    assert got[0] == (PREWARN, 168 * 60 - 15), got[:3]
    assert (MISSED, 168 * 60) in got and got[-1] == (MISSED, 168 * 60), got[-3:]
