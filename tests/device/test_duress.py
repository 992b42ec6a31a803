# Cancel / duress press bursts in the fall window, the hold-then-taps dialogue during an alert (taps
# alone never decide anything there); the burst counter itself.
from time import ticks_add

from firmware.wearer import haptics
from firmware.wearer.duress import (ALERT,
    CANCEL_FALL,
    DURESS,
    FALL_WINDOW,
    IDLE,
    NOTHING,
    SEND_DURESS,
    STOP,
    Duress,
    cancelled_text,
    check)
from firmware.wearer.press_bursts import PressBursts
from firmware.core.sms_pdu import fits_one_segment

T0 = ticks_add(0, -2000)  # bursts straddle the ticks wrap


def burst(d, n, t, ctx, gap=300):
    """n presses gap ms apart from t; returns (result once polled after the burst, end time)."""
    for k in range(n):
        d.press(ticks_add(t, k * gap))
    last = ticks_add(t, (n - 1) * gap)
    assert d.poll(ticks_add(last, d.bursts.gap_ms - 1), ctx) is None  # not decided before the quiet gap
    return d.poll(ticks_add(last, d.bursts.gap_ms), ctx), ticks_add(last, d.bursts.gap_ms)


def test_press_bursts_count_only_after_the_quiet_gap_and_only_when_armed():
    b = PressBursts(1000)
    b.press(T0)
    assert b.wait_ms(T0) == -1 and b.poll(ticks_add(T0, 5000)) == 0  # not armed: ignored
    b.arm()
    for k in range(3):
        b.press(ticks_add(T0, k * 900))
    assert b.wait_ms(ticks_add(T0, 1800)) == 1000 and b.poll(ticks_add(T0, 2799)) == 0
    assert b.poll(ticks_add(T0, 2800)) == 3 and b.poll(ticks_add(T0, 9000)) == 0
    b.press(ticks_add(T0, 10000))
    b.press(ticks_add(T0, 12000))  # the previous burst ended unpolled: a new one
    assert b.poll(ticks_add(T0, 12001)) == 1  # the first one, kept for this poll
    assert b.poll(ticks_add(T0, 13000)) == 1
    b.disarm()
    assert b.wait_ms(T0) == -1


def test_fall_window():
    d = Duress()
    d.arm()
    assert burst(d, 1, T0, FALL_WINDOW)[0] == (CANCEL_FALL, haptics.CANCEL) and not d.active
    d.arm()
    assert burst(d, 2, T0, FALL_WINDOW)[0] == (SEND_DURESS, haptics.DURESS_CANCEL) and d.active
    d.end()
    d.arm()
    assert burst(d, 3, T0, FALL_WINDOW)[0] == (NOTHING, None)  # ButtonLogic's alert gesture
    assert burst(d, 5, T0, FALL_WINDOW)[0] == (NOTHING, None)  # unclear: the countdown goes on


def alert_burst(d, n, t, gap=300, tap=120):
    """n taps (press + release) in an alert; the result once polled after the burst, end time."""
    for k in range(n):
        d.press(ticks_add(t, k * gap), ALERT)
        d.release(ticks_add(t, k * gap + tap), ALERT)
    last = ticks_add(t, (n - 1) * gap + tap)
    return d.poll(ticks_add(last, d.bursts.gap_ms + 300), ALERT), ticks_add(last, d.bursts.gap_ms + 300)


def hold(d, t, ms):
    """A press held ms in an alert, polled as the task would; returns what the polls gave."""
    d.press(t, ALERT)
    got = [d.poll(ticks_add(t, k), ALERT) for k in range(0, ms, 100)]
    d.release(ticks_add(t, ms), ALERT)
    return [r for r in got if r is not None], ticks_add(t, ms)


def test_alert_taps_alone_mean_nothing():
    d = Duress()
    d.arm()
    t = T0
    for n in range(1, 13):  # however many, at whatever pace: no hold, no decision
        r, t = alert_burst(d, n, ticks_add(t, 100), gap=150 + 20 * n)
        assert r is None, (n, r)
    assert not d.active


def test_alert_cancel_and_duress_after_the_hold():
    d = Duress()
    d.arm()
    asked, t = hold(d, T0, 5200)
    assert asked == [(NOTHING, haptics.CANCEL_ASK)]  # felt at 5 s, once
    assert alert_burst(d, 4, ticks_add(t, 800))[0] == (STOP, haptics.CANCEL)
    d.end()
    d.arm()
    for n in (1, 3, 5, 6, 8, 12):  # any other count after the hold: nothing, and the hold is spent
        _, t = hold(d, T0, 5200)
        r, t = alert_burst(d, n, ticks_add(t, 500))
        assert r == (NOTHING, None), (n, r)
        assert alert_burst(d, 4, ticks_add(t, 100))[0] is None  # taps without a new hold
    _, t = hold(d, T0, 5200)
    r, t = alert_burst(d, 2, ticks_add(t, 500))
    assert r == (DURESS, haptics.DURESS_CANCEL) and d.active
    # forced to cancel again after the duress: it feels cancelled, the alert goes on
    _, t = hold(d, ticks_add(t, 100), 5200)
    assert alert_burst(d, 4, ticks_add(t, 500))[0] == (NOTHING, haptics.CANCEL) and d.active
    d.end()
    assert not d.active


def test_alert_hold_then_nothing_or_a_long_press_decides_nothing():
    d = Duress()
    d.arm()
    _, t = hold(d, T0, 6000)
    assert d.poll(ticks_add(t, 4999), ALERT) is None
    assert d.poll(ticks_add(t, 5000), ALERT) is None and not d._confirm  # the window closed
    assert alert_burst(d, 4, ticks_add(t, 5100))[0] is None  # too late: taps alone
    _, t = hold(d, ticks_add(t, 8000), 6000)
    d.press(ticks_add(t, 300), ALERT)  # sitting down on it: a long press, not a tap
    d.release(ticks_add(t, 2300), ALERT)
    assert not d._confirm
    assert alert_burst(d, 2, ticks_add(t, 2500))[0] is None
    assert not d.active
    _, t = hold(d, ticks_add(t, 8000), 4900)  # not quite 5 s: no dialogue
    assert alert_burst(d, 4, ticks_add(t, 300))[0] is None


def test_presses_before_arming_never_count():
    d = Duress()
    d.press(T0, ALERT)  # the gesture that started the alert, still held when it was armed
    d.arm()
    assert hold(d, ticks_add(T0, 100), 1)[0] == []
    d.release(ticks_add(T0, 7000), ALERT)  # its release, 7 s later: not the cancel hold
    assert not d._confirm
    assert alert_burst(d, 2, ticks_add(T0, 7500))[0] is None


def test_idle_decides_nothing():
    d = Duress()
    assert d.decide(2, IDLE) == (NOTHING, None) and d.decide(5, IDLE) == (NOTHING, None)


def test_configuration_checks():
    assert check({}) == (4, 2, 1200, 5000)
    assert check({"cancel_presses": 6, "duress_presses": 4, "press_gap_ms": 800, "cancel_hold_ms": 3000}) == \
        (6, 4, 800, 3000)
    bad = [{"cancel_presses": 3}, {"duress_presses": 3}, {"cancel_presses": 4, "duress_presses": 5},
           {"cancel_hold_ms": 2000}, {"cancel_hold_ms": 5000.0},
           {"duress_presses": 1}, {"cancel_presses": 13}, {"press_gap_ms": 100}, {"cancel_presses": "5"},
           {"duress_presses": True},
           {"gestures": [{"action": "alert", "presses": 2, "within_ms": 2000}]},  # 2 is now an alert
           {"gestures": [{"action": "alert", "presses": 4, "within_ms": 4000}]}]
    for cfg in bad:
        try:
            check(cfg)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % cfg)
    assert check({"gestures": [{"action": "alert", "hold_ms": 2000}]}) == (4, 2, 1200, 5000)


def test_cancelled_text_fits_one_segment():
    for wearer in ("", "Marie", "Françoise-Éléonore", "Иван Иванович Петров", "x" * 40):
        for lang in ("fr", "en"):
            t = cancelled_text(wearer, lang)
            assert fits_one_segment(t), t
    assert "Marie" in cancelled_text("Marie")
