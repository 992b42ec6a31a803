# Runs INSIDE the MicroPython VM (started by tools/alertbutton/energy/fall_wake.py): does a fall that
# starts while the MCU deep-sleeps still reach the detector? Per trial and per boot time:
#  1. the firmware runs awake on the trace's still start (first sample repeated for lead_s): the fall
#     monitor reads the simulated LIS3DH's FIFO and keeps the still posture;
#  2. it goes to deep sleep as the power task does: FallMonitor.sleep_mode(False) sets INT1 to the
#     activity interrupt and the chip to sleep_hz, the posture goes to "RTC memory" (a variable: RAM
#     is dropped with the objects);
#  3. the trace streams into the chip (the world at 50 Hz, the chip samples at its ODR) until the chip
#     raises INT1 on the simulated pin (GPIO39);
#  4. boot_ms more samples go in while the ESP32 boots (stream mode: the FIFO keeps the last 32);
#  5. a NEW driver (keep_fifo: the chip kept sampling) and a NEW FallMonitor start: resume(posture),
#     the first batch at once (the monitor task's first FIFO read), then batches of 25 samples (the
#     light-sleep watermark) until the trace ends + 4 s still.
# Baseline: the same monitor awake all along. The detector and the monitor are the firmware's own.
# argv[1]: JSON {"trials": [[name, [[x, y, z], ...]], ...], "boot_ms": [...], "lead_s": s, "seed": true,
# "sleep_hz": 25 (null: the firmware's SLEEP_HZ)}
# (seed false: resume() without the saved posture, to show what the seeding is worth)
# stdout: one "RES <json>" line per trial (wake_batch_us: the VM's time for the first batch after the
# wake, the upsampling one), then "PYSTONE <n>" if asked.
import json
import sys
from time import ticks_diff, ticks_us

import machine
from lis3dh_sim import SimLIS3DH

from drivers.lis3dh import LIS3DH
from vm_alert import IdleAlert as _Alert
from firmware.fall.detector import FallDetector
from firmware.fall.monitor import FallMonitor, SLEEP_HZ

INT1 = 39


MODEL = [None]  # the trial's integer model (argv JSON "models"), None: the shipped one


def _monitor(chip, keep, sleep_hz=50):
    acc = LIS3DH(chip, range_g=8, rate_hz=50, keep_fifo=keep)
    det = None if MODEL[0] is None else FallDetector(rate_hz=acc.rate_hz, model=MODEL[0])
    return acc, FallMonitor(acc, _Alert(), lambda *a, **k: None, sleep_hz=sleep_hz, detector=det)


def _stream(chip, fm, samples, i, fell_at):
    """Push samples[i:] in 25-sample steps, one monitor batch after each; first fall index or None."""
    while i < len(samples):
        for s in samples[i:i + 25]:
            chip.push_mg(*s)
        i += 25
        if fm.batch() and fell_at is None:
            fell_at = i
    return fell_at


def awake(samples):
    chip = SimLIS3DH(int1_pin=None)
    _, fm = _monitor(chip, False)
    return _stream(chip, fm, samples, 0, None)


def asleep(samples, lead, boot_ms, seed=True, sleep_hz=50):
    pin = machine.Pin(INT1, machine.Pin.IN)
    chip = SimLIS3DH(int1_pin=INT1)
    acc, fm = _monitor(chip, False, sleep_hz)
    i = 0
    while i < lead:  # awake and still
        for s in samples[i:i + 25]:
            chip.push_mg(*s)
        i += 25
        fm.batch()
    posture = fm.sleep_mode(False)
    assert fm.int1 == "activity" and pin.value() == 0, "INT1 high before the sleep"
    assert chip.odr_hz() == sleep_hz
    acc = fm = None  # deep sleep: RAM is lost, the chip and RTC memory are not
    wake = None
    while i < len(samples):
        chip.push_mg(*samples[i])
        i += 1
        if pin.value():
            wake = i
            break
    if wake is None:
        return {"wake": None, "fell": None, "posture": posture}
    for s in samples[i:i + boot_ms // 20]:  # the boot: the chip keeps sampling
        chip.push_mg(*s)
    i += boot_ms // 20
    acc, fm = _monitor(chip, True, sleep_hz)
    assert acc.kept_fifo and acc.odr_hz == sleep_hz
    fm.resume(posture if seed else None)
    assert pin.value() == 0  # the latched activity interrupt is cleared
    i = min(i, len(samples))
    t0 = ticks_us()
    fell = i if fm.batch() else None  # the monitor task's first read: the whole FIFO
    us = ticks_diff(ticks_us(), t0)
    assert chip.odr_hz() == 50  # back to the detector's rate
    return {"wake": wake, "fell": _stream(chip, fm, samples, i, fell), "posture": posture, "wake_batch_us": us}


def main():
    with open(sys.argv[1]) as f:
        P = json.load(f)
    lead = int(P["lead_s"] * 50)
    hz = P.get("sleep_hz") or SLEEP_HZ
    models = P.get("models") or {}
    for name, tr in P["trials"]:
        MODEL[0] = tuple(models[name]) if name in models else None
        tr = [tuple(s) for s in tr]
        samples = [tr[0]] * lead + tr + [tr[-1]] * 200
        out = {"name": name, "awake": awake(samples), "asleep": {}, "sleep_hz": hz}
        for b in P["boot_ms"]:
            out["asleep"][str(b)] = asleep(samples, lead, b, P.get("seed", True), hz)
        print("RES", json.dumps(out))
    if P.get("pystone"):  # the VM's speed, to scale the wake batch's time to an ESP32
        import pystone
        print("PYSTONE", pystone.main(P["pystone"]))


main()
