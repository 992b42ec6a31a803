# Runs INSIDE the MicroPython VM (started by tools/alertbutton/energy/impact_wake.py): the impact wake of
# issue 22 over whole recordings, falls and activities. Per trial and per impact threshold:
#  - awake baseline: the firmware's FallMonitor reads the simulated LIS3DH's FIFO all along (50 Hz):
#    the falls it confirms;
#  - impact wake: 3 s still first (the posture), then FallMonitor.impact_mode(): the chip at the sleep
#    rate, INT1 = generator 1 (high-passed axes beyond the threshold, latched), the FIFO in
#    stream-to-FIFO. The MCU's RAM is dropped (deep sleep). The trace streams into the chip until INT1
#    rises (a wake), boot_ms more samples go in while the ESP32 boots (the frozen FIFO takes none), then
#    a NEW driver (keep_fifo) and a NEW FallMonitor: resume_impact(posture) reads the FIFO up to the
#    impact, then 25-sample batches at 50 Hz until the detector is idle again (a decision or no
#    candidate), then impact_mode() and deep sleep again. Wakes counted, falls confirmed.
# argv[1]: JSON {"trials": [[name, [[x, y, z], ...]], ...], "thresholds": [mg, ...], "boot_ms": ms,
# "sleep_hz": 25, "lead_s": 3, "models": {name: [ints]}}
# stdout: one "RES <json>" line per trial.
import json
import sys

import machine
from lis3dh_sim import SimLIS3DH

from drivers.lis3dh import LIS3DH
from vm_alert import IdleAlert as _Alert
from firmware.fall.detector import FallDetector
from firmware.fall.monitor import FallMonitor

INT1 = 39
MODEL = [None]


def _monitor(chip, keep, sleep_hz):
    acc = LIS3DH(chip, range_g=8, rate_hz=50, keep_fifo=keep)
    det = None if MODEL[0] is None else FallDetector(rate_hz=acc.rate_hz, model=MODEL[0])
    return acc, FallMonitor(acc, _Alert(), lambda *a, **k: None, sleep_hz=sleep_hz, detector=det)


def awake(samples, lead):
    """The falls the monitor confirms awake all along, and how many samples after the still lead it
    spent checking a candidate (FallMonitor.found() after a batch: the MCU is kept active then)."""
    chip = SimLIS3DH(int1_pin=None)
    _, fm = _monitor(chip, False, 25)
    fell = []
    check = 0
    i = 0
    while i < len(samples):
        for s in samples[i:i + 25]:
            chip.push_mg(*s)
        i += 25
        if fm.batch():
            fell.append(i)
        if i > lead and fm.found():
            check += 25
    return fell, check


def impact(samples, lead, ths, boot, sleep_hz, freeze):
    pin = machine.Pin(INT1, machine.Pin.IN)
    chip = SimLIS3DH(int1_pin=INT1)
    acc, fm = _monitor(chip, False, sleep_hz)
    i = 0
    while i < lead:  # awake and still: the posture
        for s in samples[i:i + 25]:
            chip.push_mg(*s)
        i += 25
        fm.batch()
    wakes = []
    fell = []
    awake_n = 0
    n = len(samples)
    while i < n:
        posture = fm.impact_mode(ths, 0, freeze)
        if pin.value():
            raise RuntimeError("INT1 high before the sleep")
        acc = fm = None  # deep sleep: RAM is lost, the chip and RTC memory are not
        while i < n:
            chip.push_mg(*samples[i])
            i += 1
            if pin.value():
                break
        if not pin.value():
            break
        wakes.append(i)
        i2 = min(n, i + boot // 20)
        for s in samples[i:i2]:  # the boot: the chip samples on, the frozen FIFO takes none of it
            chip.push_mg(*s)
        awake_n += i2 - i
        i = i2
        acc, fm = _monitor(chip, True, sleep_hz)
        if not acc.kept_fifo:
            raise RuntimeError("FIFO lost at the wake")
        if fm.resume_impact(posture, boot if freeze else 0):
            fell.append(i)
        while i < n:  # awake until the detector is idle again
            for s in samples[i:i + 25]:
                chip.push_mg(*s)
            awake_n += min(25, n - i)
            i += 25
            if fm.batch():
                fell.append(i)
            if not fm.found():
                break
    return {"wakes": wakes, "fell": fell, "awake_samples": awake_n}


def main():
    with open(sys.argv[1]) as f:
        P = json.load(f)
    lead = int(P.get("lead_s", 3) * 50)
    hz = P.get("sleep_hz") or 25
    models = P.get("models") or {}
    for name, tr in P["trials"]:
        MODEL[0] = tuple(models[name]) if name in models else None
        tr = [tuple(s) for s in tr]
        samples = [tr[0]] * lead + tr + [tr[-1]] * 150
        out = {"name": name, "samples": len(tr), "impact": {}}
        if P.get("baseline", True):
            out["awake"], out["awake_check_samples"] = awake(samples, lead)
        for t in P["thresholds"]:
            out["impact"][str(t)] = impact(samples, lead, t, P.get("boot_ms", 1000), hz,
                                             P.get("freeze", True))
        print("RES", json.dumps(out))


main()
