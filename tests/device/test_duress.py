# Cancel / duress press bursts in the fall window and during an alert; the burst counter itself.
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


def test_alert_cancel_and_duress():
    d = Duress()
    d.arm()
    assert burst(d, 5, T0, ALERT)[0] == (STOP, haptics.CANCEL)
    d.end()
    d.arm()
    for n in (1, 3, 4, 6, 7):
        assert burst(d, n, T0, ALERT)[0] == (NOTHING, None), n
    r, t = burst(d, 2, T0, ALERT)
    assert r == (DURESS, haptics.DURESS_CANCEL) and d.active
    # forced to cancel again after the duress: it feels cancelled, the alert goes on
    assert burst(d, 5, ticks_add(t, 10), ALERT)[0] == (NOTHING, haptics.CANCEL) and d.active
    d.end()
    assert not d.active


def test_presses_before_arming_never_count():
    d = Duress()
    for k in range(3):  # the gesture that started the alert
        d.press(ticks_add(T0, k * 300))
    d.arm()
    d.press(ticks_add(T0, 900))
    d.press(ticks_add(T0, 1200))
    assert d.poll(ticks_add(T0, 2400), ALERT) == (DURESS, haptics.DURESS_CANCEL)  # 2, not 5


def test_idle_decides_nothing():
    d = Duress()
    assert d.decide(2, IDLE) == (NOTHING, None) and d.decide(5, IDLE) == (NOTHING, None)


def test_configuration_checks():
    assert check({}) == (5, 2, 1200)
    assert check({"cancel_presses": 6, "duress_presses": 4, "press_gap_ms": 800}) == (6, 4, 800)
    bad = [{"cancel_presses": 3}, {"duress_presses": 3}, {"cancel_presses": 4, "duress_presses": 5},
           {"duress_presses": 1}, {"cancel_presses": 13}, {"press_gap_ms": 100}, {"cancel_presses": "5"},
           {"duress_presses": True},
           {"gestures": [{"action": "alert", "presses": 2, "within_ms": 2000}]},  # 2 is now an alert
           {"gestures": [{"action": "alert", "presses": 5, "within_ms": 4000}]}]
    for cfg in bad:
        try:
            check(cfg)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % cfg)
    assert check({"gestures": [{"action": "alert", "hold_ms": 2000}]}) == (5, 2, 1200)


def test_cancelled_text_fits_one_segment():
    for wearer in ("", "Marie", "Françoise-Éléonore", "Иван Иванович Петров", "x" * 40):
        for lang in ("fr", "en"):
            t = cancelled_text(wearer, lang)
            assert fits_one_segment(t), t
    assert "Marie" in cancelled_text("Marie")
