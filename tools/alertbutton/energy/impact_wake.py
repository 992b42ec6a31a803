"""The impact wake (issue 22) over real recordings: `python -m alertbutton.energy.impact_wake MOBIFALL
SISFALL [--thresholds 750,1000,...] [--boot-ms 1000] [--subjects tune|eval|all] [--jobs 2] [--freeze]
[--sleep-hz 25] [--json]`.

Every MobiFall trial and every SisFall trial (MMA8451Q, +-8 g like the device's LIS3DH) runs in the
MicroPython VM through the simulated LIS3DH and the firmware's FallMonitor
(tools/alertbutton/energy/impact_wake_vm.py): awake all along, and in the impact wake mode, where the
chip alone decides when the MCU wakes. Prints per threshold the wakes per hour of each activity, the
falls confirmed against the awake baseline (and which are lost), and the activity trials alarmed.
Subjects: `tune` is the subset the threshold was frozen on (TUNE_MOBIFALL, TUNE_SISFALL), `eval` the
others (docs/fall-detection.md, *The impact wake*).
"""
import json
import os
import sys
import tempfile
import threading

from alertbutton import vm
from alertbutton.falls import mobifall, sisfall

HERE = os.path.dirname(os.path.abspath(__file__))
THRESHOLDS = (750, 1000, 1250)  # the grid tried on the tuning subjects (1000 frozen: firmware.fall.monitor)
BOOT_MS = 1000
TUNE_MOBIFALL = (1, 2, 4, 5, 6, 7, 9)  # the first 7 of the 18 MobiFall subjects in ../shared/data
TUNE_SISFALL = ("SA01", "SA02", "SA03", "SA04", "SA05", "SA06", "SA07", "SA08")  # 8 of 23


def load(mobifall_dir, sisfall_dir, which="all"):
    """[(name, dataset, code, is_fall, samples at 50 Hz mg)] of the chosen subjects."""
    out = []
    if mobifall_dir:
        for t in mobifall.list_trials(mobifall_dir):
            tune = t.subject in TUNE_MOBIFALL
            if which == "all" or (which == "tune") == tune:
                out.append(("%s_%d_%d" % (t.code, t.subject, t.trial), "mobifall", t.code, t.is_fall,
                            mobifall.load_mg(t.path, 50)))
    if sisfall_dir:
        for t in sisfall.list_trials(sisfall_dir):
            tune = t.subject in TUNE_SISFALL
            if which == "all" or (which == "tune") == tune:
                out.append((t.name, "sisfall", t.code, t.is_fall, sisfall.load_mg(t, 50)))
    return out


def _run_chunk(trials, thresholds, boot_ms, sleep_hz, baseline, out, models, freeze):
    with tempfile.TemporaryDirectory(prefix="impactwake-") as tmp:
        path = os.path.join(tmp, "in.json")
        with open(path, "w") as f:
            json.dump({"trials": [(t[0], t[4]) for t in trials], "thresholds": list(thresholds),
                       "boot_ms": boot_ms, "sleep_hz": sleep_hz, "baseline": baseline, "freeze": freeze,
                       "models": dict((k, [int(v) for v in m]) for k, m in (models or {}).items())}, f)
        proc = vm.run(script=os.path.join(HERE, "impact_wake_vm.py"), args=(path,), timeout=36000,
                      cwd=tmp, heapsize="64M")
    if proc.returncode != 0:
        out.append(RuntimeError("impact-wake VM failed: %s" % (proc.stderr or proc.stdout)[-2000:]))
        return
    out.extend(json.loads(ln[4:]) for ln in proc.stdout.splitlines() if ln.startswith("RES "))


def run(trials, thresholds=THRESHOLDS, boot_ms=BOOT_MS, sleep_hz=25, baseline=True, jobs=1, models=None,
        freeze=False):
    """One dict per trial (see the VM script), in the order of trials; jobs VMs side by side."""
    chunks = [trials[k::jobs] for k in range(jobs)]
    outs = [[] for _ in chunks]
    th = [threading.Thread(target=_run_chunk, args=(c, thresholds, boot_ms, sleep_hz, baseline, o, models, freeze))
          for c, o in zip(chunks, outs)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    res = {}
    for o in outs:
        for r in o:
            if isinstance(r, Exception):
                raise r
            res[r["name"]] = r
    return [res[t[0]] for t in trials]


def summary(trials, res, thresholds):
    """Per threshold: wakes per hour of activity by code, falls (confirmed awake / in the impact wake /
    lost), activity trials alarmed awake and in the impact wake."""
    rows = {}
    for ths in thresholds:
        k = str(ths)
        by_code = {}
        falls = {"trials": 0, "awake": 0, "impact": 0, "lost": [], "gained": [], "no_wake": []}
        adl = {"trials": 0, "alarmed_awake": 0, "alarmed_impact": 0, "hours": 0.0, "wakes": 0,
               "awake_s": 0.0}
        for t, r in zip(trials, res):
            name, ds, code, is_fall = t[:4]
            im = r["impact"][k]
            if is_fall:
                falls["trials"] += 1
                a = bool(r.get("awake"))
                b = bool(im["fell"])
                falls["awake"] += a
                falls["impact"] += b
                if a and not b:
                    falls["lost"].append(name)
                    if not im["wakes"]:
                        falls["no_wake"].append(name)
                if b and not a:
                    falls["gained"].append(name)
                continue
            h = r["samples"] / 50.0 / 3600.0
            c = by_code.setdefault("%s %s" % (ds, code), [0, 0.0])
            c[0] += len(im["wakes"])
            c[1] += h
            adl["trials"] += 1
            adl["alarmed_awake"] += bool(r.get("awake"))
            adl["alarmed_impact"] += bool(im["fell"])
            adl["hours"] += h
            adl["wakes"] += len(im["wakes"])
            adl["awake_s"] += im["awake_samples"] / 50.0
        rows[ths] = {"falls": falls, "adl": adl,
                     "wakes_per_hour": dict((c, round(v[0] / v[1], 1) if v[1] else None)
                                            for c, v in sorted(by_code.items()))}
    return rows


def report(rows, thresholds):
    lines = []
    for ths in thresholds:
        s = rows[ths]
        f, a = s["falls"], s["adl"]
        lines.append("threshold %d mg: falls confirmed awake %d / %d, impact wake %d (lost %d%s%s); "
                     "activity trials alarmed awake %d / %d, impact wake %d; %.0f wakes in %.2f h of "
                     "activity (%.0f /h), %.0f s awake" % (
                         ths, f["awake"], f["trials"], f["impact"], len(f["lost"]),
                         (": " + ", ".join(f["lost"])) if f["lost"] else "",
                         ("; never woke: " + ", ".join(f["no_wake"])) if f["no_wake"] else "",
                         a["alarmed_awake"], a["trials"], a["alarmed_impact"], a["wakes"], a["hours"],
                         a["wakes"] / a["hours"] if a["hours"] else 0, a["awake_s"]))
        lines.append("  wakes/h by activity: " + ", ".join("%s %s" % (c, v) for c, v in s["wakes_per_hour"].items()))
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)

    def opt(name, default):
        if name in argv:
            k = argv.index(name)
            v = argv[k + 1]
            del argv[k:k + 2]
            return v
        return default
    thresholds = tuple(int(v) for v in opt("--thresholds", ",".join(map(str, THRESHOLDS))).split(","))
    boot = int(opt("--boot-ms", BOOT_MS))
    which = opt("--subjects", "all")
    jobs = int(opt("--jobs", "1"))
    sleep_hz = int(opt("--sleep-hz", "25"))
    freeze = "--freeze" in argv  # the FIFO frozen at the impact (stream-to-FIFO) instead of streaming
    argv = [a for a in argv if a != "--freeze"]
    as_json = "--json" in argv
    argv = [a for a in argv if a != "--json"]
    if which not in ("tune", "eval", "all"):
        raise SystemExit("--subjects must be tune, eval or all")
    if sleep_hz not in (10, 25, 50):
        raise SystemExit("--sleep-hz must be 10, 25 or 50")
    if len(argv) != 2:
        raise SystemExit("usage: impact_wake MOBIFALL SISFALL [options] (a path may be '-' to skip it)")
    mf, sf = (None if a == "-" else a for a in argv)
    trials = load(mf, sf, which)
    res = run(trials, thresholds, boot, sleep_hz, jobs=jobs, freeze=freeze)
    rows = summary(trials, res, thresholds)
    print("%d trials (%s subjects), boot %d ms, LIS3DH at %d Hz asleep, FIFO %s" % (
        len(trials), which, boot, sleep_hz, "frozen at the impact" if freeze else "streaming"))
    print(report(rows, thresholds))
    if as_json:
        print(json.dumps(dict((str(k), v) for k, v in rows.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
