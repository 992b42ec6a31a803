# Issue 22 deliverable 3: GNSS only when it can change something. The standby fix is refreshed once it
# is older than the refresh age AND the accelerometer says she moved (LIS3DH generator 2 on the INT1
# pin: drivers/lis3dh.py int2_motion, firmware/location/motion_watch.py), never on a fixed period while
# she is still. Here: the firmware's PowerPolicy + GnssPower + MotionWatch on the real driver and the
# simulated chip, a minute at a time over a virtual day (also across the ticks wrap); then the power
# task's wiring (the watch armed for a deep sleep, read at the wake, a timer wake when the fix ages).
import math
from time import ticks_add, ticks_ms

from drivers.lis3dh import LIS3DH
from lis3dh_sim import SimLIS3DH
from firmware.location.gnss_power import GnssPower
from firmware.location.motion_watch import MotionWatch
from firmware.power.policy import DEEP, W_ACCEL, Accounting, PowerPolicy

S = 1000
MIN = 60 * S
STARTS = (0, ticks_add(0, -90 * MIN), ticks_add(0, -1))
LOW = {"low_power": True, "boot_awake_s": 0}
AGE_S = 1800


def feed(chip, kind, k):
    """Half a second of the world at 50 Hz: still (gravity on z, +-20 mg of noise), walking (2 Hz
    steps, 800 mg vertical swings) or fidget (one slow 150 mg lean)."""
    for i in range(25):
        t = (k * 25 + i) / 50.0
        if kind == "walk":
            chip.push_mg(30, 0, 1000 + int(800 * math.sin(2 * math.pi * 2.0 * t)))
        elif kind == "fidget":
            chip.push_mg(int(150 * math.sin(math.pi * i / 25)), 0, 1000)
        else:
            chip.push_mg(20 if i & 1 else -20, 0, 1000)


def day(t0, plan, minutes=24 * 60, fixes=True):
    """The firmware's GNSS refresh gate minute by minute (the power task's order: read the watch,
    ask the GNSS policy, arm or take off the watch for the coming sleep). plan(m) -> the world's
    minute. fixes: a fix comes a minute after power-on, else never (indoors: the refresh times out).
    Returns (the minutes a GNSS refresh started, the minutes the watch was armed)."""
    pol = PowerPolicy(LOW)
    gp = GnssPower({"gnss_refresh": [[0, AGE_S]]}, now=t0)  # the boot refresh starts at once
    chip = SimLIS3DH(int1_pin=None)
    acc = LIS3DH(chip, rate_hz=50)
    acc.int1_activity(250, 40)  # generator 1 as the fall monitor sets it while still
    watch = MotionWatch(acc)
    starts, armed, on = [], 0, False
    for m in range(minutes):
        now = ticks_add(t0, m * MIN)
        if watch.armed and watch.fired():
            pol.moved(now)
        gp.standby_ok = pol.refresh_useful()
        if on and fixes:
            gp.on_fix(now)  # a fix a minute after power-on
        want = gp.want_on(now)
        if want and not on:
            starts.append(m)
            pol.gnss_fix(now)  # PowerTask._track: a refresh starts
        on = want
        w = pol.watch_in_ms(now, gp.watch_age_s() * S)
        if w == 0:
            watch.arm()
            armed += 1
        else:
            watch.disarm()
        feed(chip, plan(m), m)
        del chip.writes[:]  # the simulated chip's write log: not needed here, and it grows
    return starts, armed


def test_still_all_day_no_refresh_after_the_first():
    for t0 in STARTS:
        starts, armed = day(t0, lambda m: "still")
        assert starts == [0], starts  # the boot refresh only: a still wearer's fix stays where she is
        assert armed == 24 * 60 - 30  # armed from the age on, never fired


def test_fidgeting_in_a_chair_is_not_moving_away():
    starts, armed = day(STARTS[1], lambda m: "fidget" if m % 5 == 0 else "still", 6 * 60)
    assert starts == [0], starts


def test_moves_after_the_age_one_refresh():
    for t0 in STARTS:
        starts, armed = day(t0, lambda m: "walk" if 50 <= m < 60 else "still", 4 * 60)
        assert starts == [0, 51], starts  # the minute after her first steps past the age, once


def test_moves_before_the_age_no_refresh():
    for t0 in STARTS:
        starts, armed = day(t0, lambda m: "walk" if 5 <= m < 25 else "still", 4 * 60)
        assert starts == [0], starts  # she was where the fix was when it aged: nothing moved since


def test_walking_all_day_at_most_one_refresh_per_age():
    starts, armed = day(STARTS[2], lambda m: "walk", 4 * 60)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert starts[0] == 0 and gaps and min(gaps) >= AGE_S // 60, starts


def test_indoors_moving_about_the_refreshes_that_time_out_back_off():
    # she moves about at home all day, the receiver never gets a fix there: without a back-off every
    # age (30 min) would cost a 120 s timeout; the age doubles per timeout in a row, up to 8 x
    starts, armed = day(STARTS[1], lambda m: "walk", 24 * 60, fixes=False)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps[:4] == [61, 121, 241, 241], gaps  # the boot refresh timed out too: 1 h first
    assert len(starts) == 8, starts  # 0, 61, 182, then every 241 min: 8 a day instead of 48


def test_the_back_off_crosses_a_deep_sleep_and_a_fix_ends_it():
    t0 = STARTS[2]
    gp = GnssPower({"gnss_refresh": [[0, AGE_S]], "gnss_refresh_timeout_s": 60}, now=None)
    assert gp.watch_age_s() == AGE_S
    t = t0
    for k in range(5):
        assert gp.want_on(t)
        t = ticks_add(t, 61 * S)
        assert not gp.want_on(t)  # timed out
        t = ticks_add(t, (AGE_S << 3) * S)
    assert gp.misses == 3 and gp.watch_age_s() == AGE_S * 8
    d = gp.carry(t)
    assert d["m"] == 3
    q = GnssPower({"gnss_refresh": [[0, AGE_S]]}, now=None)
    q.resume(d, 5, 10 * S)
    assert q.watch_age_s() == AGE_S * 8
    q.on_fix(5)
    assert q.watch_age_s() == AGE_S and "m" not in q.carry(5)


# ---- the power task's wiring ---------------------------------------------------------------------------

from test_power import FakeApp, FakeFall, FakeHw, Slept, _until_slept  # noqa: E402 (the fakes of test_power)
from firmware.power import policy as power  # noqa: E402


class ChipFall(FakeFall):
    def __init__(self, chip):
        FakeFall.__init__(self)
        self.accel = LIS3DH(chip, rate_hz=50)


async def test_power_task_arms_the_watch_for_a_deep_sleep_once_the_fix_aged_and_reads_it_at_the_wake():
    from firmware.power import task as power_task
    chip = SimLIS3DH(int1_pin=None)
    hw = FakeHw("deepsleep", "timer", Accounting(0, {"modem": "sleep", "mcu": DEEP}).dump(0, {"ms": 1000}))
    # max_deep_s 6 h: the watch's own timer wake, not the battery's 15-min one (issue 22), is under test
    app = FakeApp(hw, {"low_power": True, "wake_ms": 0, "max_deep_s": 21600})
    app.fall = ChipFall(chip)
    app.gnss_policy = GnssPower({"gnss_refresh": [[0, AGE_S]]}, now=None)
    pt = power_task.start(app)
    pt.task.cancel()
    now = ticks_ms()
    pt.policy.gnss_fix(ticks_add(now, -10 * MIN))  # the last refresh 10 min ago
    app.gnss_policy.resume({"r": 10 * MIN}, now, 0)
    assert await _until_slept(pt, hw)
    assert hw.slept[0] == "deep" and 19 * MIN <= hw.slept[1] <= 20 * MIN  # a timer wake when it ages
    assert not chip.regs[0x22] & 0x20 and not pt.watch.armed  # the fix is young: no watch
    pt.policy.gnss_fix(ticks_add(ticks_ms(), -31 * MIN))  # the fix aged (the timer wake)
    assert await _until_slept(pt, hw)
    assert hw.slept[0] == "deep" and hw.slept[2] & W_ACCEL and hw.slept[1] > 60 * MIN  # no GNSS timer
    assert chip.regs[0x22] & 0x20 and chip.regs[0x34] == 0x2A and chip.regs[0x21] & 0x02  # armed
    # asleep: she walks; generator 2 latches; INT1 wakes the MCU
    for k in range(4):
        feed(chip, "walk", k)
    assert chip.int1
    hw2 = FakeHw("deepsleep", "accel", hw.rtc, hw.wall + 3600 * S)
    app2 = FakeApp(hw2, app.cfg["power"])
    app2.fall = ChipFall(chip)
    app2.gnss_policy = GnssPower({"gnss_refresh": [[0, AGE_S]]}, now=None)
    pt2 = power_task.start(app2)
    pt2.task.cancel()
    assert pt2.policy.refresh_useful() and ("moved", {"src": "accel"}) in app2.events
    assert app2.gnss_policy.next_check_ms(ticks_ms()) == 0  # the refresh is due now
    power._installed = None


async def test_a_wake_by_generator_1_alone_is_not_a_move():
    chip, hw, app, pt = armed_task("accel")  # armed_task: the watch armed, generator 2 did not fire
    assert ("moved", {"src": "accel"}) not in app.events
    power._installed = None


# ---- how often the power task reads the latch (INT2_SRC) ------------------------------------------------

class CountingChip(SimLIS3DH):
    """The simulated LIS3DH counting the reads of INT2_SRC (0x35), the motion watch's latch."""

    def __init__(self):
        SimLIS3DH.__init__(self, int1_pin=None)
        self.src2_reads = 0

    def readfrom_mem_into(self, addr, reg, buf):
        if reg & 0x7F == 0x35:
            self.src2_reads += 1
        return SimLIS3DH.readfrom_mem_into(self, addr, reg, buf)


def armed_task(wake="timer"):
    """The power task after a deep-sleep wake (by the timer), the watch armed (its fix 40 min old)."""
    from firmware.power import task as power_task
    chip = CountingChip()
    acc = LIS3DH(chip, rate_hz=50)
    acc.int2_motion()
    x = {"ms": 1000, "mw": 1, "p": {"f": 40 * MIN}}
    hw = FakeHw("deepsleep", wake, Accounting(0, {"modem": "sleep", "mcu": DEEP}).dump(0, x))
    app = FakeApp(hw, {"low_power": True, "wake_ms": 0})
    app.fall = ChipFall(chip)
    app.gnss_policy = GnssPower({"gnss_refresh": [[0, AGE_S]]}, now=None)
    app.gnss_policy.resume({"r": 40 * MIN}, ticks_ms(), 0)
    pt = power_task.start(app)
    pt.task.cancel()
    assert pt.watch.armed and not pt.policy.refresh_useful()
    return chip, hw, app, pt


async def test_awake_steps_read_no_latch_and_a_move_while_awake_is_caught_at_the_next_sleep():
    chip, hw, app, pt = armed_task()
    pt.policy.hold_awake(ticks_ms(), 60 * S, "gesture")  # awake: a gesture window
    n0 = chip.src2_reads
    for k in range(10):
        pt.driver.kick.set()  # the step's wait ends at once
        await pt._step()
        assert pt.last[0] == "active"
    assert chip.src2_reads == n0, chip.src2_reads - n0  # before: one INT2_SRC read per step (10)
    for k in range(4):  # she walks while the MCU is awake: generator 2 latches
        feed(chip, "walk", k)
    pt.policy._awake_until = None  # the window ends: still for a minute, a deep sleep is due
    pt.policy._motion_t = ticks_add(ticks_ms(), -60 * S)
    assert not await _until_slept(pt, hw, limit=1)  # arming it again found the latch: no sleep
    assert ("moved", {"src": "accel"}) in app.events and pt.policy.refresh_useful()
    assert chip.src2_reads == n0 + 1  # that one read was the arming's own
    power._installed = None


async def test_a_fifo_light_sleep_reads_the_latch_once_and_loses_no_move():
    chip, hw, app, pt = armed_task()
    hw.lightsleep = lambda ms, mask: (setattr(hw, "slept", ("light", ms, mask)), "accel")[1]  # watermarks
    n0 = chip.src2_reads
    for k in range(5):  # she moves about (not walking away): FIFO light sleep, the watch armed
        pt.policy.motion(ticks_ms())
        await pt._step()
        assert hw.slept[0] == "light" and pt.watch.armed, (pt.last, hw.slept)
    assert chip.src2_reads - n0 == 5, chip.src2_reads - n0  # before: 3 per sleep (step, arming, wake)
    for k in range(4):  # asleep: she walks, generator 2 latches (and INT1 wakes the MCU)
        feed(chip, "walk", k)
    pt.policy.motion(ticks_ms())
    await pt._step()  # the next sleep's arming reads it: called off, the next decision knows
    assert ("moved", {"src": "accel"}) in app.events and pt.policy.refresh_useful()
    power._installed = None
