"""Falls that start in deep sleep (issue 8): `python -m alertbutton.energy_fall_wake [DATA]`.

Each MobiFall fall trial (resampled to 50 Hz, milli-g) runs in the MicroPython VM through the simulated
LIS3DH and the firmware's FallMonitor twice: awake all along, and starting from deep sleep (INT1
activity wake, boot_ms of samples lost to the boot except the FIFO's last 32, then the still posture
saved before the sleep seeds the detector: tools/alertbutton/energy_fall_wake_vm.py). Prints, per
boot time, how many falls the detector still confirms. The boot time is the unknown: it must be
measured on the ESP32 (docs/power.md).
"""
import json
import os
import sys
import tempfile

from alertbutton import mobifall, vm

HERE = os.path.dirname(os.path.abspath(__file__))
BOOT_MS = (0, 300, 640, 1000)
LEAD_S = 3.0


def run(trials, boot_ms=BOOT_MS, lead_s=LEAD_S, seed=True, timeout=900):
    """trials: [(name, [(x, y, z) mg at 50 Hz])]; returns one dict per trial (see the VM script)."""
    with tempfile.TemporaryDirectory(prefix="fallwake-") as tmp:
        path = os.path.join(tmp, "in.json")
        with open(path, "w") as f:
            json.dump({"trials": trials, "boot_ms": list(boot_ms), "lead_s": lead_s, "seed": seed}, f)
        proc = vm.run(script=os.path.join(HERE, "energy_fall_wake_vm.py"), args=(path,), timeout=timeout,
                      cwd=tmp, heapsize="16M")
    if proc.returncode != 0:
        raise RuntimeError("fall-wake VM failed: %s" % (proc.stderr or proc.stdout)[-2000:])
    return [json.loads(ln[4:]) for ln in proc.stdout.splitlines() if ln.startswith("RES ")]


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
    seed = "--no-seed" not in argv
    argv = [a for a in argv if a != "--no-seed"]
    root = argv[0] if argv else os.path.join(vm.REPO, "tests", "data", "mobifall")
    res = run(load(root), seed=seed)
    s = summary(res)
    print("%d fall trials from %s; detected awake all along: %d%s" % (
        s["trials"], root, s["awake"], "" if seed else " (no posture seeding)"))
    for b in BOOT_MS:
        r = s[b]
        print("deep sleep, boot %4d ms: INT1 woke %d, detected %d%s" % (
            b, r["woke"], r["detected"], ("; lost: " + ", ".join(r["lost"][:12])) if r["lost"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
