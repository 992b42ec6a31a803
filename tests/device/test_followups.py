# firmware/alert/followups.py with synthetic time: every schedule is replayed on a fake ticks clock, also
# across the ticks wraparound, and compared with the expected minute marks.
from time import ticks_add, ticks_diff

from firmware.alert.followups import FollowupPolicy, FIX, PERIODIC, DEFAULTS

S = 1000
MIN = 60 * S
# ticks values just before the wraparound (of this port's ticks period: 2**30 ms on the ESP32, wider
# on the unix port; ticks_add(0, -x) is x ms before the wrap on either): every test runs from these
STARTS = (0, 123456, ticks_add(0, -90 * S), ticks_add(0, -31 * MIN), ticks_add(0, -1))


def at(t0, ms):
    return ticks_add(t0, ms)


def replay(p, t0, until_ms, step_ms=5 * S, events=None):
    """Call due() every step_ms from t0 to t0+until_ms; events: {ms: fn(p, now)} applied before due().
    Returns [(ms_since_t0, contact, reason)]."""
    out = []
    events = events or {}
    ms = 0
    while ms <= until_ms:
        now = at(t0, ms)
        if ms in events:
            events[ms](p, now)
        for c, why in p.due(now):
            out.append((ms, c, why))
        ms += step_ms
    return out


def periodic_marks(out, contact=0):
    return [ms // S for ms, c, why in out if c == contact and why == PERIODIC]


def test_defaults_are_the_issue_numbers():
    assert DEFAULTS["followup_fresh_s"] == 60 and DEFAULTS["followup_acc_m"] == 50
    assert DEFAULTS["update_first_s"] == 120 and DEFAULTS["update_first_window_s"] == 600
    assert DEFAULTS["update_moving_s"] == 600 and DEFAULTS["update_still_s"] == 1800
    assert DEFAULTS["battery_floor_pct"] == 10


def test_periodic_every_2_min_then_every_10_min_while_moving():
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, True, 5)
        p.on_motion(True)
        out = replay(p, t0, 45 * MIN)
        assert periodic_marks(out) == [120, 240, 360, 480, 600, 1200, 1800, 2400], (t0, out)
        for c in range(5):  # every contact on the same marks, nothing else
            assert periodic_marks(out, c) == periodic_marks(out)
        assert all(why == PERIODIC for _, _, why in out)


def test_every_30_min_while_still():
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, True, 2)
        p.on_motion(False)  # still from the start: the first 10 min stay every 2 min
        out = replay(p, t0, 70 * MIN)
        assert periodic_marks(out) == [120, 240, 360, 480, 600, 2400, 4200], (t0, out)


def test_unknown_motion_counts_as_moving():
    p = FollowupPolicy()
    p.start(0, True, 1)
    assert periodic_marks(replay(p, 0, 25 * MIN)) == [120, 240, 360, 480, 600, 1200]


def test_motion_change_moves_the_next_update():
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, True, 1)
        p.on_motion(False)
        # still after the first window: next would be at 40 min; starts moving at 15 min -> 20 min
        ev = {15 * MIN: lambda p, now: p.on_motion(True), 25 * MIN: lambda p, now: p.on_motion(False)}
        out = replay(p, t0, 60 * MIN, events=ev)
        assert periodic_marks(out) == [120, 240, 360, 480, 600, 1200, 3000], (t0, out)


def test_fix_followup_once_per_contact_when_first_sms_had_no_fresh_fix():
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, False, 3)
        ev = {
            10 * S: lambda p, now: p.on_fix(now, 0, 80),  # fresh but 80 m: not good enough
            20 * S: lambda p, now: p.on_fix(now, 200, 10),  # precise but 200 s old: not fresh
            40 * S: lambda p, now: p.on_fix(now, 1, 12),  # the one (the issue's "fix after 40 s")
            50 * S: lambda p, now: p.on_fix(now, 0, 5),  # later fixes add nothing
        }
        out = replay(p, t0, 11 * MIN, step_ms=S, events=ev)
        fixes = [(ms, c) for ms, c, why in out if why == FIX]
        assert fixes == [(40 * S, 0), (40 * S, 1), (40 * S, 2)], (t0, out)
        assert periodic_marks(out) == [120, 240, 360, 480, 600]


def test_no_fix_followup_when_first_sms_had_a_fresh_fix():
    p = FollowupPolicy()
    p.start(0, True, 2)
    p.on_fix(5 * S, 0, 5)
    out = replay(p, 0, 3 * MIN, step_ms=S)
    assert [why for _, _, why in out] == [PERIODIC, PERIODIC]


def test_per_contact_freshness():
    # the fix arrived while the first SMS went out: contacts 0-1 got a stale position, 2-4 a fresh one
    p = FollowupPolicy()
    p.start(0, [False, False, True, True, True], 5)
    p.on_fix(30 * S, 0, 20)
    assert p.due(30 * S) == [(0, FIX), (1, FIX)]
    assert p.due(31 * S) == []


def test_fix_and_periodic_together_make_one_sms():
    p = FollowupPolicy()
    p.start(0, False, 2)
    p.on_fix(120 * S, 0, 10)
    assert p.due(120 * S) == [(0, FIX), (1, FIX)]  # the 2-min slot is served by the 'fix' SMS
    assert p.due(121 * S) == []
    assert p.due(240 * S) == [(0, PERIODIC), (1, PERIODIC)]


def test_freshness_and_accuracy_limits_are_inclusive_and_configurable():
    p = FollowupPolicy()
    assert p.fresh(60) and not p.fresh(61) and not p.fresh(None) and not p.fresh(-1)
    p.start(0, False, 1)
    p.on_fix(0, 60, 50)
    assert p.due(0) == [(0, FIX)]
    p = FollowupPolicy({"followup_fresh_s": 10, "followup_acc_m": 20})
    p.start(0, False, 1)
    p.on_fix(0, 11, 5)
    p.on_fix(0, 5, 21)
    assert p.due(1) == []
    p.on_fix(2 * S, 10, 20)
    assert p.due(2 * S) == [(0, FIX)]


def test_ack_stops_periodic_for_that_contact_only():
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, True, 3)
        out = replay(p, t0, 11 * MIN, events={5 * MIN: lambda p, now: p.ack(1)})
        assert periodic_marks(out, 0) == [120, 240, 360, 480, 600]
        assert periodic_marks(out, 1) == [120, 240]
        assert periodic_marks(out, 2) == [120, 240, 360, 480, 600]


def test_fix_followup_still_goes_to_a_contact_who_acknowledged():
    p = FollowupPolicy()
    p.start(0, False, 2)
    p.ack(0)
    p.on_fix(30 * S, 0, 10)
    assert p.due(30 * S) == [(0, FIX), (1, FIX)]
    p = FollowupPolicy({"followup_fix_after_ack": False})
    p.start(0, False, 2)
    p.ack(0)
    p.on_fix(30 * S, 0, 10)
    assert p.due(30 * S) == [(1, FIX)]


def test_battery_floor_stops_and_resumes_periodic():
    p = FollowupPolicy()
    p.start(0, True, 1)
    ev = {3 * MIN: lambda p, now: p.battery(10), 7 * MIN: lambda p, now: p.battery(14),
          9 * MIN: lambda p, now: p.battery(15)}
    out = replay(p, 0, 25 * MIN, events=ev)
    # floor reached at 3 min (10 %); 14 % is not enough to resume (hysteresis), 15 % at 9 min is
    assert periodic_marks(out) == [120, 540, 1140], out
    p.battery(None)  # unknown reading: no change
    assert not p.battery_low


def test_battery_floor_keeps_the_one_fix_followup():
    p = FollowupPolicy()
    p.start(0, False, 1)
    p.battery(5)
    assert p.needs_fix()  # the 'fix' follow-up is still owed
    p.on_fix(50 * S, 0, 10)
    assert p.due(50 * S) == [(0, FIX)]
    assert not p.needs_fix() and p.finished()
    assert p.next_deadline(60 * S) is None


def test_all_acknowledged_with_the_pin_means_finished():
    p = FollowupPolicy()
    p.start(0, True, 2)
    assert p.needs_fix() and not p.finished()
    p.ack(0, confirmed=True)
    p.ack(1, confirmed=True)
    assert not p.needs_fix() and p.finished()
    assert replay(p, 0, 30 * MIN) == []


def test_five_forged_oks_slow_the_followups_but_never_silence_them():
    # before: five "OK" from the contacts' (spoofable) numbers stopped every follow-up
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, True, 5)
        ev = {3 * MIN: lambda p, now: [p.ack(c) for c in range(5)]}
        out = replay(p, t0, 95 * MIN, events=ev)
        for c in range(5):
            assert periodic_marks(out, c) == [120, 1920, 3720, 5520], (t0, c, out)  # 30 min after the last
        assert p.needs_fix() and not p.finished()


def test_a_confirmed_ack_stops_its_contact_and_plain_acks_of_the_rest_keep_them_going():
    p = FollowupPolicy()
    p.start(0, True, 3)
    ev = {1 * MIN: lambda p, now: p.ack(0, confirmed=True),
          3 * MIN: lambda p, now: (p.ack(1), p.ack(2))}
    out = replay(p, 0, 40 * MIN, events=ev)
    assert periodic_marks(out, 0) == []
    assert periodic_marks(out, 1) == periodic_marks(out, 2) == [120, 1920]
    p.ack(1, confirmed=True)  # a later confirmed ack is never downgraded by a plain one
    p.ack(1)
    assert p._acked[1] == 2


def test_stop_ends_everything():
    p = FollowupPolicy()
    p.start(0, False, 2)
    p.stop()
    p.on_fix(1, 0, 5)
    assert p.due(10 * MIN) == [] and p.next_deadline(0) is None and not p.needs_fix()
    assert not p.finished()


def test_late_caller_gets_one_update_not_a_burst():
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, True, 1)
        # nobody called due() for 7 min (device busy): one update, then every 2 min from then
        assert p.due(at(t0, 7 * MIN)) == [(0, PERIODIC)]
        assert p.due(at(t0, 7 * MIN + S)) == []
        assert p.next_deadline(at(t0, 7 * MIN + S)) == at(t0, 9 * MIN)
        # a little late (30 s): the grid is kept (9 min); 11 min is past the first window: 19 min
        assert p.due(at(t0, 9 * MIN + 30 * S)) == [(0, PERIODIC)]
        assert p.next_deadline(at(t0, 10 * MIN)) == at(t0, 19 * MIN)


def test_next_deadline_and_sleep():
    for t0 in STARTS:
        p = FollowupPolicy()
        assert p.next_deadline(t0) is None and p.sleep_ms(t0) is None
        p.start(t0, False, 2)
        assert p.next_deadline(t0) == at(t0, 2 * MIN)
        assert p.sleep_ms(at(t0, 30 * S)) == 90 * S
        p.on_fix(at(t0, 40 * S), 0, 10)
        assert p.next_deadline(at(t0, 40 * S)) == at(t0, 40 * S)  # 'fix' follow-ups due now
        assert p.sleep_ms(at(t0, 40 * S)) == 0
        p.due(at(t0, 40 * S))
        assert p.sleep_ms(at(t0, 40 * S)) == 80 * S
        assert p.sleep_ms(at(t0, 3 * MIN)) == 0  # overdue: 0, never negative


def test_long_alert_runs_for_days_across_the_wraparound():
    # 14 days with the wearer still, starting 2 h before the ticks wrap (the ESP32's ticks wrap every
    # ~12.4 days, so a real long alert crosses it)
    p = FollowupPolicy()
    t0 = ticks_add(0, -2 * 60 * MIN)
    p.start(t0, True, 1)
    p.on_motion(False)
    now = t0
    n = 0
    last = None
    for _ in range(14 * 24 * 2 + 10):  # poll every 30 min
        for c, why in p.due(now):
            n += 1
            if last is not None and n > 6:
                assert ticks_diff(now, last) == 30 * MIN, n
            last = now
        now = ticks_add(now, 30 * MIN)
    assert n >= 14 * 24 * 2 - 2, n


def test_bad_input_raises_value_error():
    for cfg in ({"update_first_s": 5}, {"update_still_s": 0}, {"followup_acc_m": -1},
                {"battery_floor_pct": 20, "battery_resume_pct": 10}, {"update_moving_s": "x"}):
        try:
            FollowupPolicy(cfg)
        except ValueError:
            pass
        else:
            raise AssertionError(cfg)
    p = FollowupPolicy()
    p.start(0, True, 2)
    for bad in (2, -1):
        try:
            p.ack(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(bad)
    try:
        p.start(0, True, 99)
    except ValueError:
        pass
    else:
        raise AssertionError("99 contacts")


def test_export_and_restore_keep_the_schedule_across_a_reset():
    # the board is off for a while: ticks start anywhere after it, the time off is not counted
    import json
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, False, 3)
        p.ack(1, confirmed=True)
        out = replay(p, t0, 5 * MIN)
        d = p.export(at(t0, 5 * MIN))
        d = json.loads(json.dumps(d))  # as written to and read from flash
        for t1 in STARTS:
            q = FollowupPolicy()
            q.restore(d, t1)
            # same marks as the policy that never stopped, counted from the restore
            rest = replay(q, t1, 6 * MIN)
            # the last slot was at 4 min: the next at 6, i.e. 1 min after the restore
            assert periodic_marks(rest, 0) == [60, 180, 300], (t0, t1, rest)
            assert periodic_marks(rest, 1) == []  # the confirmed ack survived
            assert q.needs_fix()  # the fix follow-up is still owed
            q.on_fix(t1, 0, 5)
            assert sorted(c for c, why in q.due(t1) if why == FIX) == [0, 1, 2]
        assert out  # the first 5 minutes had their marks
    for bad in (None, {}, {"n": 2, "ack": [0], "need": [0, 0]}, {"n": "x"}):
        try:
            FollowupPolicy().restore(bad, 0)
            raise AssertionError("accepted %r" % (bad,))
        except ValueError:
            pass


def test_a_duress_is_told_to_every_contact_at_once_even_after_acknowledgements():
    from firmware.alert.followups import DURESS
    for t0 in STARTS:
        p = FollowupPolicy()
        p.start(t0, True, 3)
        p.ack(0, confirmed=True)
        p.ack(1)
        assert p.due(at(t0, 30 * S)) == []
        p.duress()
        assert p.next_deadline(at(t0, 31 * S)) == at(t0, 31 * S)
        assert p.due(at(t0, 31 * S)) == [(0, DURESS), (1, DURESS), (2, DURESS)]
        assert p.due(at(t0, 32 * S)) == []  # once
        q = FollowupPolicy()
        p.duress()
        q.restore(p.export(at(t0, 33 * S)), 0)  # owed at a reset: still owed after it
        assert [c for c, why in q.due(0) if why == DURESS] == [0, 1, 2]
