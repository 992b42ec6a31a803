"""Falls that start in deep sleep (issue 8): `python -m alertbutton.energy.fall_wake [DATA]`.

Each MobiFall fall trial (resampled to 50 Hz, milli-g) runs in the MicroPython VM through the simulated
LIS3DH and the firmware's FallMonitor twice: awake all along, and starting from deep sleep (INT1
activity wake, boot_ms of samples lost to the boot except the FIFO's last 32, then the still posture
saved before the sleep seeds the detector: tools/alertbutton/energy/fall_wake_vm.py). Prints, per
boot time, how many falls the detector still confirms. The boot time is the unknown: it must be
measured on the ESP32 (docs/power.md).
"""
import json
import os
import sys
import tempfile

from alertbutton import pystone, vm
from alertbutton.falls import mobifall

HERE = os.path.dirname(os.path.abspath(__file__))
PYSTONE_DIR = os.path.dirname(os.path.abspath(pystone.__file__))  # imported by the VM code
BOOT_MS = (0, 300, 640, 1000)
LEAD_S = 3.0


def run(trials, boot_ms=BOOT_MS, lead_s=LEAD_S, seed=True, timeout=900, sleep_hz=None, models=None):
    """trials: [(name, [(x, y, z) mg at 50 Hz])]; returns one dict per trial (see the VM script).
    models: {name: integer model tuple} to run a trial with another model than the shipped one (the
    held-out model of its subject: protocol.run(wake=True)); a trial not in it gets the shipped one."""
    with tempfile.TemporaryDirectory(prefix="fallwake-") as tmp:
        path = os.path.join(tmp, "in.json")
        with open(path, "w") as f:
            json.dump({"trials": trials, "boot_ms": list(boot_ms), "lead_s": lead_s, "seed": seed,
                       "sleep_hz": sleep_hz,
                       "models": dict((k, [int(v) for v in m]) for k, m in (models or {}).items())}, f)
        proc = vm.run(script=os.path.join(HERE, "fall_wake_vm.py"), args=(path,), timeout=timeout,
                      cwd=tmp, heapsize="16M", extra_path=(PYSTONE_DIR,))
    if proc.returncode != 0:
        raise RuntimeError("fall-wake VM failed: %s" % (proc.stderr or proc.stdout)[-2000:])
    return [json.loads(ln[4:]) for ln in proc.stdout.splitlines() if ln.startswith("RES ")]


def wake_batch_ms(trials, loops=5000, repeats=3):
    """ESP32 ms of the first FIFO batch after a deep-sleep wake (the whole FIFO, upsampled to the
    detector's rate), mean over the trials at a 0 ms boot; the VM's time scaled by pystones to
    MicroPython's 160 MHz ESP32, as battery_life.measure_cpu_ms does. The lowest of `repeats` VM runs:
    a batch is ~0.1 ms in the VM, so one preemption of a loaded machine would dominate a run."""
    from alertbutton.energy.battery_life import esp32_scale
    best = None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="fallwake-") as tmp:
            path = os.path.join(tmp, "in.json")
            with open(path, "w") as f:
                json.dump({"trials": trials, "boot_ms": [0], "lead_s": LEAD_S, "seed": True, "pystone": loops}, f)
            proc = vm.run(script=os.path.join(HERE, "fall_wake_vm.py"), args=(path,), timeout=900,
                          cwd=tmp, heapsize="16M", extra_path=(PYSTONE_DIR,))
        lines = proc.stdout.splitlines()
        ps = [float(ln.split()[1]) for ln in lines if ln.startswith("PYSTONE ")]
        if proc.returncode != 0 or not ps:
            raise RuntimeError("fall-wake VM failed: %s" % (proc.stderr or proc.stdout)[-2000:])
        us = [json.loads(ln[4:])["asleep"]["0"].get("wake_batch_us") for ln in lines if ln.startswith("RES ")]
        us = [u for u in us if u is not None]
        ms = sum(us) / len(us) * esp32_scale(ps[0]) / 1000.0
        best = ms if best is None else min(best, ms)
    return best


def load(root):
    return [("%s_%d_%d" % (t.code, t.subject, t.trial), mobifall.load_mg(t.path, 50))
            for t in mobifall.list_trials(root) if t.is_fall]


def summary(res, boot_ms=BOOT_MS):
    awake = sum(1 for r in res if r["awake"] is not None)
    rows = {"trials": len(res), "awake": awake}
    for b in boot_ms:
        a = [r["asleep"][str(b)] for r in res]
        rows[b] = {"woke": sum(1 for x in a if x["wake"] is not None),
                   "detected": sum(1 for x in a if x["fell"] is not None),
                   "lost": [r["name"] for r, x in zip(res, a) if r["awake"] is not None and x["fell"] is None]}
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    argv0 = list(argv)
    argv = [a for a in argv if a != "--cpu"]
    seed = "--no-seed" not in argv
    argv = [a for a in argv if a != "--no-seed"]
    sleep_hz = None  # the firmware's FallMonitor default (SLEEP_HZ)
    if "--sleep-hz" in argv:  # the LIS3DH rate while the MCU deep-sleeps (10, 25 or 50)
        k = argv.index("--sleep-hz")
        sleep_hz = int(argv[k + 1])
        if sleep_hz not in (10, 25, 50):
            raise SystemExit("--sleep-hz must be 10, 25 or 50")
        del argv[k:k + 2]
    root = argv[0] if argv else os.path.join(vm.REPO, "tests", "data", "mobifall")
    trials = load(root)
    res = run(trials, seed=seed, sleep_hz=sleep_hz)
    s = summary(res)
    print("%d fall trials from %s; detected awake all along: %d; LIS3DH at %d Hz in deep sleep%s" % (
        s["trials"], root, s["awake"], res[0]["sleep_hz"], "" if seed else " (no posture seeding)"))
    for b in BOOT_MS:
        r = s[b]
        print("deep sleep, boot %4d ms: INT1 woke %d, detected %d%s" % (
            b, r["woke"], r["detected"], ("; lost: " + ", ".join(r["lost"][:12])) if r["lost"] else ""))
    if "--cpu" in argv0:
        print("first FIFO batch after the wake: %.2f ms of ESP32 (VM time scaled by pystones)" % wake_batch_ms(trials))
    return 0


if __name__ == "__main__":
    sys.exit(main())
