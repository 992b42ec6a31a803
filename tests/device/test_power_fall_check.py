# Issue 22, the MCU term: a fall candidate under check light-sleeps between LIS3DH FIFO watermarks,
# with a timer wake at the decision's FIFO read, instead of keeping the MCU active; never a deep sleep
# while the detector is under way (its state is in RAM); the decision comes when it would awake.
# The firmware's FallMonitor + FallDetector + LIS3DH driver on the simulated chip, fed in real time at
# 50 Hz (also while the fake board light-sleeps), and the power task with fake hardware.
import asyncio
from time import sleep_ms, ticks_add, ticks_diff, ticks_ms

from drivers.lis3dh import LIS3DH
from lis3dh_sim import SimLIS3DH
from firmware.fall.detector import FallDetector
from firmware.fall.monitor import FallMonitor
from firmware.power import policy as power
from firmware.power.policy import ACTIVE, DEEP, LIGHT, W_ACCEL, W_TIMER, Accounting
from test_power import FakeApp, FakeHw

S = 1000
STAND = 150  # samples standing (3 s) before the impact
IMPACT = ((1200, 300, 2600), (2100, -900, 1900), (1500, 200, 1300))


def world(i):
    """The wearer at sample i (50 Hz): standing, a hard impact, then lying on her side, nearly still."""
    if i < STAND:
        return (10 if i & 1 else -10, 0, 1000)
    if i < STAND + len(IMPACT):
        return IMPACT[i - STAND]
    return (990 + (6 if i & 1 else -6), 40, 60)


class LiveChip(SimLIS3DH):
    """The simulated LIS3DH sampling world() at 50 Hz in real time: every bus access first pushes the
    samples due by now (so the FIFO and INT1 are right whenever the firmware looks)."""

    def __init__(self):
        SimLIS3DH.__init__(self, int1_pin=None)
        self.t0 = None
        self.fed = 0
        self.impact_t = None  # ticks of the impact's first sample

    def start(self):
        self.t0 = ticks_ms()

    def pump(self):
        if self.t0 is None:
            return
        due = ticks_diff(ticks_ms(), self.t0) // 20
        while self.fed < due:
            if self.fed == STAND:
                self.impact_t = ticks_add(self.t0, self.fed * 20)
            self.push_mg(*world(self.fed))
            self.fed += 1

    def readfrom_mem_into(self, addr, reg, buf):
        self.pump()
        return SimLIS3DH.readfrom_mem_into(self, addr, reg, buf)


class SleepingHw(FakeHw):
    """A light sleep that lasts: until the timer, or until the chip's INT1 rises (the watermark)."""

    def __init__(self, chip, *a):
        FakeHw.__init__(self, *a)
        self.chip = chip
        self.sleeps = []  # (ms asked, mask, ms slept, source)

    def lightsleep(self, ms, mask):
        t0 = ticks_ms()
        why = "timer"
        while ticks_diff(ticks_ms(), t0) < ms:
            self.chip.pump()
            if mask & W_ACCEL and self.chip.int1:
                why = "accel"
                break
            sleep_ms(2)
        self.slept = ("light", ms, mask)
        self.sleeps.append((ms, mask, ticks_diff(ticks_ms(), t0), why))
        return why


class Followups:
    def on_motion(self, moving):
        pass


def rig(**power_cfg):
    chip = LiveChip()
    hw = SleepingHw(chip, "deepsleep", "timer", Accounting(0, {"modem": "sleep", "mcu": DEEP}).dump(0, {"ms": 1000}))
    cfg = {"low_power": True, "wake_ms": 0}
    cfg.update(power_cfg)
    app = FakeApp(hw, cfg)
    app.alert.followups = Followups()
    app.alert.kind = None
    app.fall = FallMonitor(LIS3DH(chip, rate_hz=50), app.alert, app.log, cfg={"fall_cancel_s": 1})
    return chip, hw, app


def awake_decision_ms():
    """The same samples through a bare detector: ms from the impact's first sample to its decision
    sample (what an MCU awake all along decides at, before the FIFO read's margin)."""
    det = FallDetector(rate_hz=50)
    for i in range(STAND + 400):
        x, y, z = world(i)
        if det.update(x, y, z) in (2, 3):  # EV_FALL, EV_REJECT
            return (i - STAND) * 20
    raise AssertionError("the bare detector never decided")


async def test_a_candidate_under_check_light_sleeps_on_the_watermark_until_its_decision():
    from firmware.power import task as power_task
    chip, hw, app = rig()
    pt = power_task.start(app)
    pt.task.cancel()  # stepped by hand here; the monitor's own task runs
    fm = app.fall
    chip.start()
    mon = fm.start()
    t_end = ticks_add(ticks_ms(), 9 * S)
    decided = None
    states = []
    while ticks_diff(t_end, ticks_ms()) > 0 and decided is None:
        if fm.det.phase or fm.det.decisions:  # after the impact she lies still: a deep sleep would be due
            pt.policy._motion_t = ticks_add(ticks_ms(), -60 * S)
        else:
            pt.policy.motion(ticks_ms())  # before it she moves: FIFO light sleep
        checking = fm.det.phase != 0
        await pt._step()
        await asyncio.sleep_ms(0)
        if checking and not fm.det.decisions:
            states.append((pt.last[0], pt.last[3]))
        if fm.det.decisions:
            decided = ticks_ms()
    mon.cancel()
    assert decided is not None and chip.impact_t is not None, (fm.det.phase, states, pt.last)
    # during the check: light sleep on the FIFO watermark, with the detector's rate kept, never deep,
    # never active but for a due read (before: ("active", "fall_check") all along)
    assert states and all(why == "fall_check" and st in (LIGHT, ACTIVE) for st, why in states), states
    light = [s for s in states if s[0] == LIGHT]
    assert len(light) >= 3 and len(light) >= len(states) - 2, states
    assert chip.regs[0x22] & 0x04 and chip.odr_hz() == 50  # INT1 = watermark at the detector's rate
    check = [s for s in hw.sleeps if s[1] & W_ACCEL and s[1] & W_TIMER]
    assert check and any(s[3] == "accel" for s in check), hw.sleeps  # woken by the watermark
    # the decision when an awake MCU takes it: its sample + the read's margin, and the bus/loop slack
    late = ticks_diff(decided, chip.impact_t) - awake_decision_ms()
    assert 0 <= late <= 30 + 120, late
    power._installed = None


async def test_the_timer_wake_is_the_decision_read_never_a_deep_sleep():
    from firmware.power import task as power_task
    chip, hw, app = rig()
    pt = power_task.start(app)
    pt.task.cancel()
    fm = app.fall
    chip.start()
    sleep_ms((STAND + 10) * 20)  # awake reads of the FIFO as the monitor makes them
    fm.batch()
    due = fm.det.decision_due_ms()  # from the sample just read
    assert due > 500, fm.det.phase
    pt.policy._motion_t = ticks_add(ticks_ms(), -60 * S)  # still for a minute
    hw.lightsleep = lambda ms, mask: (setattr(hw, "slept", ("light", ms, mask)), "timer")[1]
    await pt._step()
    assert pt.last[0] == LIGHT and pt.last[3] == "fall_check", pt.last
    ms, mask = hw.slept[1], hw.slept[2]
    assert mask & W_ACCEL and mask & W_TIMER and due <= ms <= due + 30, (ms, due)  # + the read's margin
    assert pt.acc.counts.get("deep_sleeps", 0) == 0
    power._installed = None


async def test_fifo_watermarks_alone_are_not_motion_the_verdicts_are():
    # a FIFO watermark wake is the chip's FIFO filling, still or not: it must not keep "moving" alive
    # (before: every watermark called policy.motion, so after any movement the MCU never deep-slept
    # again); the monitor's 5 s moving verdicts do (App._power_motion), the activity interrupt too
    from firmware.power import task as power_task
    from test_power import FakeFall, Slept
    for verdicts in (True, False):
        hw = FakeHw("deepsleep", "accel", Accounting(0, {"modem": "sleep", "mcu": DEEP}).dump(0, {"ms": 1000}))
        hw.lightsleep = lambda ms, mask: (sleep_ms(min(ms, 100)), "accel")[1]  # watermarks every 0.1 s
        app = FakeApp(hw, {"low_power": True, "wake_ms": 0, "still_s": 1})
        app.fall = FakeFall()
        pt = power_task.start(app)  # woken by INT1 (the activity interrupt): she moves
        pt.task.cancel()
        await pt._step()
        assert pt.last[0] == LIGHT and pt.last[3] == "motion", pt.last  # FIFO light sleep
        deep = False
        t0 = ticks_ms()
        while ticks_diff(ticks_ms(), t0) < 2500 and not deep:
            if verdicts:
                pt.policy.motion(ticks_ms())  # the monitor says she moves (App._power_motion)
            try:
                await pt._step()
            except Slept:
                deep = True
        assert deep is not verdicts, (verdicts, pt.last)  # still after still_s: the deep sleep comes
        power._installed = None


async def test_with_the_impact_wake_a_check_light_sleeps_on_the_watermark_then_the_impact_interrupt():
    # power.fall_wake "impact": the check of a candidate light-sleeps on the FIFO watermark at the
    # detector's rate (not the impact interrupt at 25 Hz: the detector needs every sample), then the
    # next sleep after the decision is deep again with INT1 the impact interrupt
    from firmware.power import task as power_task
    from test_power import Slept
    chip, hw, app = rig(fall_wake="impact")
    pt = power_task.start(app)
    pt.task.cancel()
    fm = app.fall
    chip.start()
    sleep_ms((STAND + 10) * 20)
    fm.batch()  # the read after the impact wake: a candidate under check
    assert fm.checking()
    mon = fm.start()  # the monitor's own loop from here
    seen = []
    t_end = ticks_add(ticks_ms(), 6 * S)
    deep = False
    while ticks_diff(t_end, ticks_ms()) > 0 and not deep:
        checking = fm.det.phase != 0 and not fm.det.decisions
        try:
            await pt._step()
        except Slept:
            deep = True
        await asyncio.sleep_ms(0)
        if checking and pt.last[0] == LIGHT:
            seen.append((pt.last[3], chip.regs[0x22] & 0x44, chip.odr_hz()))
    mon.cancel()
    assert seen and all(s == ("fall_check", 0x04, 50) for s in seen), seen  # watermark only, 50 Hz
    assert fm.det.decisions and deep and hw.slept[0] == "deep", (fm.det.decisions, pt.last)
    assert chip.regs[0x22] & 0x44 == 0x40 and chip.odr_hz() == 25  # the impact interrupt again
    power._installed = None
