# Gesture recognition with exact synthetic timings, bounce noise included, inside the MicroPython VM.
from button_bench import TRIPLE_OR_HOLD
from firmware.wearer.gestures import ButtonLogic, validate, DEFAULT_GESTURES


class Rng:  # small deterministic LCG: the same noise on every run
    def __init__(self, seed):
        self.s = seed

    def below(self, n):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return self.s % n


def bouncy(t, pressed, rng, max_ms=25):
    """Edges of one contact change with up to max_ms of bounce, ending on the `pressed` level."""
    edges = []
    n = rng.below(6)
    tt = t
    lvl = pressed
    for _ in range(n * 2):
        edges.append((tt, lvl))
        tt += 1 + rng.below(max(1, max_ms // (2 * n + 1)))
        lvl = not lvl
    edges.append((tt, pressed))
    return edges


def presses(spec, rng, bounce=True):
    """spec: list of (press_time_ms, duration_ms)."""
    edges = []
    for t, d in spec:
        edges += bouncy(t, True, rng) if bounce else [(t, True)]
        edges += bouncy(t + d, False, rng) if bounce else [(t + d, False)]
    return edges


def run(edges, end_ms, gestures=TRIPLE_OR_HOLD):
    fired = []
    logic = ButtonLogic(gestures, on_gesture=lambda a, t: fired.append((a, t, now[0])))
    now = [0]
    i = 0
    edges = sorted(edges, key=lambda e: e[0])
    for t in range(end_ms):
        now[0] = t
        while i < len(edges) and edges[i][0] <= t:
            logic.edge(edges[i][0], edges[i][1])
            i += 1
        logic.poll(t)
    return fired


def test_three_presses_alert_once_with_bounce():
    for seed in range(50):
        rng = Rng(seed)
        f = run(presses([(100, 120), (500, 150), (900, 100)], rng), 4000)
        assert [a for a, _, _ in f] == ["alert"], (seed, f)
        # recognised within 100 ms of the third press
        assert f[0][2] - 900 <= 100, f


def test_single_press_never_alerts():
    for seed in range(50):
        assert run(presses([(100, 150)], Rng(seed)), 5000) == []


def test_two_presses_do_not_alert():
    assert run(presses([(100, 150), (600, 150)], Rng(1)), 5000) == []


def test_three_presses_too_slow_do_not_alert():
    # first to third press start: 2600 ms > 2500 ms
    assert run(presses([(0, 100), (1300, 100), (2600, 100)], Rng(2)), 6000) == []


def test_three_presses_at_window_edge_alert():
    f = run(presses([(0, 100), (1200, 100), (2490, 100)], Rng(3)), 6000)
    assert len(f) == 1


def test_bounce_noise_alone_is_not_a_press():
    rng = Rng(7)
    edges = []
    t = 10
    for _ in range(100):  # glitches shorter than 30 ms, returning to released
        w = 1 + rng.below(28)
        edges += [(t, True), (t + w, False)]
        t += w + 31 + rng.below(200)
    presses_seen = []
    logic = ButtonLogic(TRIPLE_OR_HOLD, on_gesture=lambda a, t: presses_seen.append(a), on_press=presses_seen.append)
    i = 0
    for now in range(t + 100):
        while i < len(edges) and edges[i][0] <= now:
            logic.edge(*edges[i])
            i += 1
        logic.poll(now)
    assert presses_seen == []


def test_hold_19s_never_alerts_and_2s_alerts():
    for seed in range(30):
        assert run(presses([(100, 1900)], Rng(seed)), 5000) == [], seed
        f = run(presses([(100, 2100)], Rng(seed)), 5000)
        assert len(f) == 1 and f[0][0] == "alert"
        assert 2100 <= f[0][2] <= 2100 + 60, f  # fires while still held, at ~2 s


def test_glitch_during_hold_keeps_the_hold():
    edges = [(100, True), (1000, False), (1010, True)]  # 10 ms glitch mid-hold
    f = run(edges + [(2600, False)], 4000)
    assert len(f) == 1 and 2100 <= f[0][2] <= 2140


def test_four_presses_alert_once():
    f = run(presses([(0, 80), (300, 80), (600, 80), (900, 80)], Rng(4)), 4000)
    assert len(f) == 1


def test_late_learned_release_after_threshold_is_a_hold():
    # Poll only rarely: release at 2050 ms learned at 2200 ms still counts as a hold.
    logic_fired = []
    logic = ButtonLogic(TRIPLE_OR_HOLD, on_gesture=lambda a, t: logic_fired.append(t))
    logic.edge(0, True)
    logic.poll(40)
    logic.edge(2050, False)
    logic.poll(2200)
    assert logic_fired == [2050], logic_fired


def test_poll_reports_next_deadline():
    logic = ButtonLogic(TRIPLE_OR_HOLD)
    assert logic.poll(0) == -1
    logic.edge(10, True)
    assert logic.poll(20) == 20  # settle remaining
    assert logic.poll(40) == 1970  # hold deadline: 2000 - 30


def test_validate_refuses_gestures_that_fire_on_one_press():
    for bad in ([{"action": "alert", "presses": 1, "within_ms": 1000}],
                [{"action": "alert", "hold_ms": 200}],
                [{"presses": 3, "within_ms": 2500}], [], [{"action": "alert"}]):
        try:
            validate(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)


def test_button_isr_allocates_nothing():
    import micropython
    import machine
    from drivers.button import ButtonEdges
    pin = machine.Pin(99, machine.Pin.IN, machine.Pin.PULL_UP)
    edges = ButtonEdges(pin)
    got = []
    # _drive runs the handler with the heap locked: an allocation would raise MemoryError
    for i in range(200):
        pin._drive(i % 2)
        if i % 50 == 49:
            edges.drain(lambda t, p, busy: got.append(p))
    edges.drain(lambda t, p, busy: got.append(p))
    assert len(got) == 200 and edges.dropped == 0
    micropython.heap_lock()
    try:
        for _ in range(10):
            edges._isr(pin)
    finally:
        micropython.heap_unlock()


def test_button_isr_overflow_counts_drops():
    import machine
    from drivers.button import ButtonEdges
    pin = machine.Pin(98, machine.Pin.IN, machine.Pin.PULL_UP)
    edges = ButtonEdges(pin)
    for i in range(100):
        pin._drive(i % 2)
    assert edges.dropped == 100 - 63


def test_gap_ms_bounds_each_press_gap():
    g = [{"action": "alert", "presses": 4, "gap_ms": 700}]
    ok = presses([(0, 120), (600, 120), (1250, 120), (1900, 120)], Rng(5))
    assert len(run(ok, 5000, g)) == 1  # every start at most 700 ms after the previous
    slow = presses([(0, 120), (600, 120), (1350, 120), (1900, 120)], Rng(5))
    assert run(slow, 5000, g) == []  # one gap of 750 ms
    # a window alone would take it: 4 presses within 3 s
    assert len(run(slow, 5000, [{"action": "alert", "presses": 4, "within_ms": 3000}])) == 1


def test_min_press_ms_ignores_short_contacts():
    g = [{"action": "alert", "presses": 3, "gap_ms": 700, "min_press_ms": 100}]
    hits = [(i * 550, 60) for i in range(10)]  # a strap hitting it at every step: 60 ms contacts
    assert run(presses(hits, Rng(6), bounce=False), 8000, g) == []
    firm = [(0, 150), (450, 150), (900, 150)]
    f = run(presses(firm, Rng(6)), 4000, g)
    assert len(f) == 1
    assert 1000 <= f[0][2] <= 1000 + 40, f  # counted once the third press has lasted 100 ms
    held = [(0, 150), (450, 150), (900, 3000)]  # the third still held: counted at 100 ms, not at its release
    f = run(presses(held, Rng(6)), 5000, g)
    assert len(f) == 1 and f[0][2] <= 1000 + 40, f


def test_validate_new_keys():
    for bad in ([{"action": "alert", "presses": 3}],
                [{"action": "alert", "presses": 3, "gap_ms": 100}],
                [{"action": "alert", "presses": 3, "gap_ms": 700, "min_press_ms": 2000}],
                [{"action": "alert", "presses": 3, "gap_ms": "700"}]):
        try:
            validate(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)
    validate([{"action": "alert", "presses": 4, "gap_ms": 700, "min_press_ms": 100}])


def test_console_syntax_for_gaps_and_minimum():
    from firmware.settings.config import parse_gesture
    assert parse_gesture(["alert", "presses", "4", "gap", "700", "min", "100", "hold", "4000"]) == (
        "alert", [{"action": "alert", "presses": 4, "gap_ms": 700, "min_press_ms": 100},
                  {"action": "alert", "hold_ms": 4000}])
    # the default, as a technician types it
    assert parse_gesture("alert presses 5 gap 700 min 100 max 400".split()) == ("alert", list(DEFAULT_GESTURES))
    for bad in (["alert", "presses", "4"], ["alert", "presses", "4", "min", "100"],
                ["alert", "presses", "4", "gap", "700", "gap", "600"]):
        try:
            parse_gesture(bad)
        except ValueError as e:
            assert "gap MS" in str(e)
            continue
        raise AssertionError("accepted %r" % bad)


def test_max_press_ms_restarts_the_count():
    g = [{"action": "alert", "presses": 4, "gap_ms": 700, "min_press_ms": 100, "max_press_ms": 400}]
    taps = [(0, 150), (450, 150), (900, 150), (1350, 150)]
    f = run(presses(taps, Rng(8)), 4000, g)
    assert len(f) == 1 and 1500 <= f[0][2] <= 1500 + 45, f  # counted at the fourth release
    squeeze = [(0, 150), (450, 600), (1200, 150), (1650, 150), (2100, 150)]  # a 600 ms press among them
    assert run(presses(squeeze, Rng(8)), 5000, g) == []  # 3 taps after the long one: not 4
    assert len(run(presses(squeeze + [(2550, 150)], Rng(8)), 6000, g)) == 1  # the 4th tap after it


def test_the_default_gesture_five_firm_taps():
    taps = [(i * 450, 150) for i in range(5)]
    for seed in range(30):
        f = run(presses(taps, Rng(seed)), 5000, DEFAULT_GESTURES)
        assert [a for a, _, _ in f] == ["alert"], (seed, f)
        assert f[0][2] - (1800 + 150) <= 60, f  # at the fifth release, once settled
    for bad in ([(i * 450, 150) for i in range(4)],  # four taps
                [(i * 800, 150) for i in range(5)],  # 800 ms apart
                [(0, 150), (450, 150), (900, 600), (1350 + 200, 150), (1800 + 200, 150)],  # a squeeze
                [(i * 550, 60) for i in range(10)],  # strap hits
                [(0, 8000)]):  # a long press
        assert run(presses(bad, Rng(3)), 12000, DEFAULT_GESTURES) == [], bad
