# The simulated board's accelerometer keeps sampling while the MCU light-sleeps (issue 22: low power on
# in every scenario). The trace feed is an asyncio task, which cannot run while the VM sleeps: without
# the sleep pump, an impact during a light sleep raised no INT1 (the sleep ran to its end) and the
# catch-up afterwards overflowed the 32-level FIFO, so the fall was lost. The real LIS3DH samples at its
# ODR and raises INT1 whatever the MCU does: a simulator artifact, not a firmware bug.
import array
import asyncio
import os
import time

import machine
from drivers.lis3dh import LIS3DH
from lis3dh_sim import SimLIS3DH

_TRACE = "sim_accel_sleep_test.txt"


from boards import sim


class _Board(sim.Board):
    def __init__(self):  # only the accelerometer of the simulated board, no wiring file, no modem
        pass


def _write_trace():
    with open(_TRACE, "w") as f:
        for i in range(150):  # 3 s at 50 Hz: still, an impact at 1.0 s (5 samples of 3 g), still
            f.write("0 0 1000\n" if not 50 <= i < 55 else "2500 0 2000\n")


async def test_an_impact_during_a_light_sleep_wakes_it_and_stays_in_the_fifo():
    _write_trace()
    b = _Board()
    b.wiring = {"accel": _TRACE, "accel_start_s": 0}
    b._accel_chip = chip = SimLIS3DH(int1_pin=None)
    acc = LIS3DH(chip, range_g=8, rate_hz=50)
    acc.int1_activity(250, 40)  # the power task's INT1 while she is still
    feed = asyncio.create_task(b._accel_feed())
    try:
        await asyncio.sleep_ms(0)  # the feed starts
        t0 = time.ticks_ms()
        machine.lightsleep(4000)
        slept = time.ticks_diff(time.ticks_ms(), t0)
        assert chip.int1, ("no INT1 during the sleep", slept, chip.pushed)
        assert 900 <= slept < 2500, slept  # woken by the impact at ~1.0 s, not at the sleep's end
        buf = array.array("h", bytes(6 * 32))
        n = acc.read_fifo(buf)
        xs = [buf[3 * k] for k in range(n)]
        assert max(xs) > 2000, xs  # the impact's samples are in the FIFO when the MCU wakes
    finally:
        feed.cancel()
        await asyncio.sleep_ms(0)
        if getattr(b, "_accel_pump", None) in getattr(machine, "_SLEEP_PUMPS", ()):
            machine._SLEEP_PUMPS.remove(b._accel_pump)
        os.remove(_TRACE)
