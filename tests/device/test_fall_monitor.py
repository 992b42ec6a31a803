# Fall monitor: FIFO batches -> detector and the moving/still verdict for the follow-up policy.
import asyncio
from firmware.fall.monitor import FallMonitor


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

    def int1_source(self):
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
    from firmware.fall.monitor import _stats
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
    from firmware.fall.detector import FallDetector, EV_FALL
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


class RateAccel(SleepAccel):
    """A driver with a settable output rate: read_fifo gives n samples of gen at the current ODR."""

    def __init__(self, gen, n=20):
        SleepAccel.__init__(self, gen)
        self.odr_hz = 50
        self.n = n

    def read_fifo(self, out):
        self.calls.append(("read", self.odr_hz))
        for k in range(self.n):
            out[3 * k], out[3 * k + 1], out[3 * k + 2] = self.gen(self.t)
            self.t += 1
        return self.n

    def set_odr(self, hz):
        self.calls.append(("odr", hz))
        self.odr_hz = hz


class SpyDetector:
    event = 0

    def __init__(self):
        self.got = []

    def update(self, x, y, z):
        self.got.append((x, y, z))
        return 0

    def feed(self, buf, n, k):
        for j in range(k, n):
            self.got.append((buf[3 * j], buf[3 * j + 1], buf[3 * j + 2]))
        return n

    def decision_due_ms(self):
        return -1  # no candidate


def test_sleep_rate_fifo_read_empty_before_each_rate_change_and_upsampled():
    acc = RateAccel(lambda t: (10 * t, -7 * t, 1000), n=4)
    det = SpyDetector()
    fm = FallMonitor(acc, Alert(), lambda *a, **k: None, detector=det)
    fm.sleep_mode(False)  # still: the FIFO is read at 50 Hz first, then 25 Hz, then INT1 (1 sample = 40 ms)
    assert acc.calls == [("read", 50), ("odr", 25), ("activity", 250, 40), "clear"]
    assert det.got == [(0, 0, 1000), (10, -7, 1000), (20, -14, 1000), (30, -21, 1000)]
    fm.sleep_mode(False)  # already at 25 Hz: nothing read, nothing changed
    assert acc.calls[4:] == ["clear"]
    del det.got[:]
    del acc.calls[:]
    assert not fm.batch()  # the wake: 4 samples at 25 Hz -> 7 at 50 Hz, then 50 Hz again
    assert acc.calls == [("read", 25), ("odr", 50)]
    assert det.got == [(40, -28, 1000), (45, -32, 1000), (50, -35, 1000), (55, -39, 1000),
                       (60, -42, 1000), (65, -46, 1000), (70, -49, 1000)], det.got
    del acc.calls[:]
    fm.batch()
    assert acc.calls == [("read", 50)]  # the detector's rate: as awake, no interpolation
    assert len(det.got) == 11
    fm.sleep_mode(True)  # moving: the detector's rate, the watermark
    assert acc.calls[1:] == [("fifo", 25)]
    acc.odr_hz = 25  # a wake by activity then a sleep while moving before any batch: back to 50 first
    fm.sleep_mode(True)
    assert acc.calls[2:] == [("read", 25), ("odr", 50), ("fifo", 25)]
    fm50 = FallMonitor(RateAccel(lambda t: (0, 0, 1000)), Alert(), lambda *a, **k: None, sleep_hz=50)
    fm50.sleep_mode(False)
    assert fm50.accel.calls == [("activity", 250, 40), "clear"]  # sleep_hz 50: the old behaviour


def test_upsampling_at_10hz_and_a_fall_found_in_the_drain_is_not_lost():
    acc = RateAccel(lambda t: (0, 0, 1000 + 50 * t), n=3)
    acc.odr_hz = 10
    det = SpyDetector()
    fm = FallMonitor(acc, Alert(), lambda *a, **k: None, detector=det)
    fm.batch()
    assert [g[2] for g in det.got] == [1000, 1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080, 1090, 1100]
    assert acc.calls[-1] == ("odr", 50)

    class FallDet(SpyDetector):
        def update(self, x, y, z):
            SpyDetector.update(self, x, y, z)
            return 2 if len(self.got) == 3 else 0  # EV_FALL on the third sample

        def feed(self, buf, n, k):
            self.event = 0
            while k < n:
                k += 1
                if self.update(buf[3 * k - 3], buf[3 * k - 2], buf[3 * k - 1]) == 2:
                    self.event = 2
                    return k
            return n

    fm = FallMonitor(RateAccel(lambda t: (0, 0, 1000), n=4), Alert(), lambda *a, **k: None, detector=FallDet())
    fm.sleep_mode(False)  # the drain before the rate change confirms a fall
    assert fm.batch()  # handed to the next batch: the fall window opens then
    assert not fm.batch()


class BusyAlert(Alert):
    alert_id = 7

    def __init__(self, state, kind):
        Alert.__init__(self)
        self.state, self.kind = state, kind
        self.triggers = []

    def trigger(self, source, kind="alert", only=None, duress=False):
        self.triggers.append((source, kind, duress))
        return True


async def test_a_fall_during_a_test_alert_still_alerts_and_during_a_real_one_is_logged():
    # issue 19 item 7: a technician's test alert must not swallow a real fall
    for kind, want in (("test", [("fall", "fall", False)]), ("alert", [])):
        alert = BusyAlert("dispatching", kind)
        log = []
        fm = FallMonitor(FakeAccel(lambda t: (0, 0, 1000)), alert, lambda ev, **kw: log.append(ev))
        fm.cancel_ms = 20
        await fm._fall()
        assert alert.triggers == want, (kind, alert.triggers, log)
        assert ("fall_during_alert" in log) == (kind == "alert")


def test_impact_wake_keeps_the_detector_clock_across_the_boot():
    # the chip, not the MCU, decides the wake: the FIFO frozen at the impact, then the boot's samples
    # bridged so that the detector's sample count (its clock) matches what the chip took
    from lis3dh_sim import SimLIS3DH
    from drivers.lis3dh import LIS3DH
    chip = SimLIS3DH(int1_pin=None)
    fm = FallMonitor(LIS3DH(chip), Alert(), lambda *a, **k: None)
    for _ in range(4):
        for _ in range(25):
            chip.push_mg(0, 0, 1000)
        fm.batch()
    posture = fm.impact_mode(1000, 0, True)
    assert posture == [0, 0, 992]  # 1000 mg read in 16 mg digits
    assert fm.int1 == "impact" and chip.odr_hz() == 25 and chip.regs[0x2E] & 0xE0 == 0xE0
    for _ in range(100):
        chip.push_mg(0, 0, 1000)
    chip.push_mg(2600, 0, 1000)
    chip.push_mg(2600, 0, 1000)
    assert chip.int1 == 1
    for _ in range(50):  # a 1 s boot: 25 chip samples the frozen FIFO does not take
        chip.push_mg(0, 0, 1000)
    fm2 = FallMonitor(LIS3DH(chip, keep_fifo=True), Alert(), lambda *a, **k: None)
    n0 = fm2.det.n
    fm2.resume_impact(posture, 1000)
    seeded = 2500 * 50 // 1000
    assert (fm2.det.n - n0) & 0x1FFFFFFF == seeded + 1 + 31 * 2  # 32 samples at 25 Hz, interpolated to 50
    assert chip.int1 == 0 and chip.odr_hz() == 50 and chip.regs[0x2E] & 0xC0 == 0x80
    for _ in range(25):
        chip.push_mg(0, 0, 1000)
    fm2.batch()
    assert (fm2.det.n - n0) & 0x1FFFFFFF == seeded + 63 + 50 + 25  # the boot's 50 samples bridged
    assert fm2.det.phase  # the impact (2.6 g) is a candidate under check, on the right clock


def test_impact_wake_in_stream_mode_has_no_gap():
    from lis3dh_sim import SimLIS3DH
    from drivers.lis3dh import LIS3DH
    chip = SimLIS3DH(int1_pin=None)
    fm = FallMonitor(LIS3DH(chip), Alert(), lambda *a, **k: None)
    fm.impact_mode(1000, 0, False)
    assert chip.regs[0x2E] & 0xC0 == 0x80 and chip.regs[0x22] & 0x40  # stream, INT1 = generator 1
    for _ in range(200):
        chip.push_mg(0, 0, 1000)
    fm2 = FallMonitor(LIS3DH(chip, keep_fifo=True), Alert(), lambda *a, **k: None)
    n0 = fm2.det.n
    fm2.resume_impact(None, 0)
    assert (fm2.det.n - n0) & 0x1FFFFFFF == 63 and not chip.regs[0x22] & 0x40
    for _ in range(25):
        chip.push_mg(0, 0, 1000)
    fm2.batch()
    assert (fm2.det.n - n0) & 0x1FFFFFFF == 63 + 25
