# Fall monitor: FIFO batches -> detector and the moving/still verdict for the follow-up policy.
import asyncio
from firmware.fall_monitor import FallMonitor


class FakeAccel:
    rate_hz = 50

    def __init__(self, gen):
        self.gen = gen
        self.t = 0

    def read_fifo(self, out):
        for k in range(20):
            out[3 * k], out[3 * k + 1], out[3 * k + 2] = self.gen(self.t)
            self.t += 1
        return 20


class Policy:
    def __init__(self):
        self.seen = []

    def on_motion(self, moving):
        self.seen.append(moving)


class Alert:
    state = "idle"

    def __init__(self):
        self.followups = Policy()


def run(gen, batches=30):
    alert = Alert()
    fm = FallMonitor(FakeAccel(gen), alert, lambda *a, **k: None)
    for _ in range(batches):
        fm.batch()
    return alert.followups.seen


def test_still_then_walking():
    assert run(lambda t: (0, 0, 1000)) == [False]
    walk = lambda t: (0, 300 if (t // 12) % 2 else -300, 1000 + (250 if (t // 6) % 2 else -250))
    assert run(walk) == [True]


def test_verdict_only_on_change():
    seq = lambda t: (0, 0, 1000) if t < 500 else (0, 400 * ((t // 5) % 2), 1300)
    assert run(seq, batches=60) == [False, True]


def test_every_verdict_reaches_the_motion_listeners():
    alert = Alert()
    fm = FallMonitor(FakeAccel(lambda t: (0, 0, 1000)), alert, lambda *a, **k: None)
    got = []
    fm.motion_listeners.append(got.append)
    for _ in range(3):
        fm._motion(0, 250)
    assert got == [False, False, False] and alert.followups.seen == [False]  # policy only on change


class SleepAccel(FakeAccel):
    def __init__(self, gen):
        FakeAccel.__init__(self, gen)
        self.calls = []

    def int1_fifo(self, n):
        self.calls.append(("fifo", n))

    def int1_activity(self, mg, ms):
        self.calls.append(("activity", mg, ms))

    def int_source(self):
        self.calls.append("clear")
        return 0, 0


def test_still_posture_and_int1_for_each_sleep():
    acc = SleepAccel(lambda t: (30, -200, 975) if t < 40 else (300 * ((t // 3) % 2), 500, 900))
    fm = FallMonitor(acc, Alert(), lambda *a, **k: None)
    assert fm.sleep_mode(False) is None  # no still batch seen yet
    fm.batch()
    fm.batch()  # still: the batch mean is the posture
    assert fm.posture() == [30, -200, 975]
    fm.batch()
    fm.batch()  # moving: the posture stays the last still one
    assert fm.posture() == [30, -200, 975]
    assert fm.sleep_mode(True) == [30, -200, 975]
    assert fm.sleep_mode(True) and fm.sleep_mode(False) == [30, -200, 975]
    # set once per change; the latched activity is cleared before every still sleep
    assert acc.calls == [("activity", 250, 40), "clear", ("fifo", 25), ("activity", 250, 40), "clear"]
    fm2 = FallMonitor(SleepAccel(lambda t: (0, 0, 1000)), Alert(), lambda *a, **k: None)
    fm2.resume([30, -200, 975])
    assert fm2.det.n > 0 and fm2.posture() == [30, -200, 975]  # the detector got its pre-fall history


def test_batch_stats_match_a_plain_computation_and_allocate_nothing():
    import micropython
    from array import array
    from rng import Rng
    from firmware.fall_monitor import _stats
    r = Rng(7)
    buf = array("h", bytes(6 * 32))
    out = array("i", bytes(20))
    for trial in range(50):
        n = 1 + r.below(32)
        for i in range(3 * n):
            buf[i] = r.below(16001) - 8000
        _stats(buf, n, out)
        dev = jerk = 0
        s = [0, 0, 0]
        for k in range(n):
            x, y, z = buf[3 * k], buf[3 * k + 1], buf[3 * k + 2]
            dev += min(abs(x * x + y * y + z * z - 1000000), 1 << 24)
            if k:
                jerk += abs(x - buf[3 * k - 3]) + abs(y - buf[3 * k - 2]) + abs(z - buf[3 * k - 1])
            s[0] += x
            s[1] += y
            s[2] += z
        assert list(out) == [dev, jerk] + s, (n, list(out), dev, jerk, s)

    class Fixed:  # the driver's contract without allocating: copies a preallocated batch
        rate_hz = 50

        def read_fifo(self, dst):
            for i in range(75):
                dst[i] = buf[i]
            return 25

    fm = FallMonitor(Fixed(), Alert(), lambda *a, **k: None)
    for i in range(10):
        fm.batch()  # up to the first 5 s verdict, which is logged (a change: allowed to allocate)
    micropython.heap_lock()
    try:
        for i in range(20):
            fm.batch()
    finally:
        micropython.heap_unlock()


class TraceAccel:
    """Serves a recorded trace 25 samples per FIFO read (the device's watermark)."""
    rate_hz = 50

    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def read_fifo(self, dst):
        n = min(25, len(self.buf) // 3 - self.pos)
        for i in range(3 * n):
            dst[i] = self.buf[3 * self.pos + i]
        self.pos += n
        return n


def test_batch_confirms_the_fall_in_the_batch_update_would():
    from test_fall_detector import fall_trace, per_sample_events
    from firmware.fall_detector import FallDetector, EV_FALL
    buf = fall_trace(seed=41).samples()
    want = [e[0] // 25 for e in per_sample_events(FallDetector(), buf) if e[1] == EV_FALL]
    fm = FallMonitor(TraceAccel(buf), Alert(), lambda *a, **k: None)
    got = [b for b in range((len(buf) // 3 + 24) // 25) if fm.batch()]
    assert want and got == want, (got, want)
    assert fm.det.n == len(buf) // 3 - 1 and fm.samples == len(buf) // 3


def test_quiet_batches_allocate_nothing():
    import micropython
    from test_fall_detector import Trace
    t = Trace(42)
    t.walk(4.0)
    t.still(4.0)
    fm = FallMonitor(TraceAccel(t.samples()), Alert(), lambda *a, **k: None)
    fm.batch()
    micropython.heap_lock()
    try:
        for _ in range(8):  # 225 samples, before the 5 s verdict (logged: allowed to allocate)
            fm.batch()
    finally:
        micropython.heap_unlock()
    assert fm.det.n == 9 * 25 - 1 and fm.det.phase == 0
