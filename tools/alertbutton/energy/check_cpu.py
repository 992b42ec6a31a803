"""ESP32 time a FIFO wake costs more while the fall detector checks a candidate (issue 22, the MCU term).

While a candidate is under check the firmware light-sleeps between FIFO watermarks (firmware/power/task.py
PowerTask._check), but each of those wakes runs the detector's per-sample path (FallDetector.update(),
not the viper loop that stores quiet samples) and, once per candidate, its decision (the features and the
model). This measures that difference in the VM with the firmware's own FallMonitor and detector: the
same batches of a walking-like signal with and without a 2.2 g peak each second (a pocketed phone's
steps above the detector's 1.6 g trigger keep it checking), the time per batch that started with a
candidate under check against the time per batch of the signal without peaks, scaled by pystones to an
ESP32 at MicroPython's 160 MHz as battery_life.measure_cpu_ms does. The I2C read and the wake overhead
are the same in both and are not part of the difference.
"""
import os

from alertbutton.energy.vm_measure import PYSTONE_DIR, vm_floats

HERE = os.path.dirname(os.path.abspath(__file__))  # vm_alert.py, the VM harnesses' idle alert

SCRIPT = r"""
import sys, time, math
from array import array
from firmware.fall.monitor import FallMonitor
from vm_alert import IdleAlert as Alert
n, batch, loops = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


class Accel:  # the FIFO as the driver hands it over (mg triples): the conversion is timed elsewhere
    rate_hz = 50

    def __init__(self, peaks):
        self.t = 0
        self.peaks = peaks
        self.sig = array("h", [int(300 * math.sin(2 * math.pi * k / 25)) for k in range(25)])

    def read_fifo(self, out):
        for k in range(batch):
            t = self.t
            z = 1000 + self.sig[t % 25]
            if self.peaks and t % 50 == 10:
                z = 2200
            out[3 * k], out[3 * k + 1], out[3 * k + 2] = 40, 120, z
            self.t += 1
        return batch


def run(peaks):
    fm = FallMonitor(Accel(peaks), Alert(), lambda *a, **k: None)
    busy = [0, 0]
    count = [0, 0]
    decisions = 0
    for b in range(n):
        k = 1 if fm.det.phase else 0
        t0 = time.ticks_us()
        fm.batch()
        busy[k] += time.ticks_diff(time.ticks_us(), t0)
        count[k] += 1
    return busy, count, fm.det.decisions


idle = run(False)
check = run(True)
import pystone
print("CHECK", idle[0][0], idle[1][0], check[0][1], check[1][1], check[1][0], check[2], pystone.main(loops))
"""


def measure(mcu, scale, batches=400, pystone_loops=5000):
    """{"check_extra_ms": ESP32 ms a FIFO wake costs more when it starts with a candidate under check,
    "checking_frac": the share of the peaked signal's batches that did, "decisions", ...}.
    scale(vm_pystones): VM time to ESP32 time (battery_life.esp32_scale)."""
    batch = int(mcu.get("fifo_samples", 25))
    idle_us, idle_n, chk_us, chk_n, quiet_n, decisions, pystones = vm_floats(
        SCRIPT, "CHECK", (batches, batch, pystone_loops), (PYSTONE_DIR, HERE), "check CPU measurement")
    if not idle_n or not chk_n:
        raise RuntimeError("check CPU measurement: no idle or no checking batch (%r)" % line[0])
    k = scale(pystones)
    idle_ms = idle_us / idle_n * k / 1000.0
    chk_ms = chk_us / chk_n * k / 1000.0
    return {"check_extra_ms": round(max(0.0, chk_ms - idle_ms), 3), "idle_batch_ms": round(idle_ms, 3),
            "check_batch_ms": round(chk_ms, 3), "checking_frac": round(chk_n / (chk_n + quiet_n), 3),
            "decisions": int(decisions), "batches": batches}

