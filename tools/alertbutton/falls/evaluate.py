"""`alertbutton fall-eval DIR`: the firmware fall detector, run inside the MicroPython VM, over
MobiFall-layout trials (DIR/subN/FALLS|ADL/CODE/*_acc_*.txt). Prints one JSON object.

Host side: read + resample (mobifall.py) into one compact int16 file; VM side: one process runs
firmware.fall_detector over every trial and reports alarms per trial; host side again: metrics.

Counting rules: a fall trial is detected if the detector fires (EV_FALL) at least once; an ADL trial
is a false positive if it fires at all; false alarms per hour = all alarms in ADL trials / their
recorded duration; latency = first alarm minus the data's impact time (the trial's peak |a|).
Trials are extended by `--pad` seconds holding their final posture (mean of the last 0.5 s) so a
candidate near the end of a short ADL recording is still decided: this can only add alarms.
"""
import json
import os
import struct
import sys
import tempfile
import time

from alertbutton import pystone, vm
from alertbutton.falls import mobifall

# Subject-wise split (see docs/fall-detection.md). Subjects with ADL recordings (2 4 5 7 9 11) and
# falls-only subjects (1 6 12 13 15 16 17 18 20 21 29 31) were each sorted and assigned alternately.
TUNE_SUBJECTS = (1, 2, 5, 9, 12, 15, 17, 20, 29)
TEST_SUBJECTS = (4, 6, 7, 11, 13, 16, 18, 21, 31)
ESP32_PYSTONES = 1660  # MicroPython pystones/s on an ESP32 at 240 MHz (project assumption)

_MAGIC = b"FALL"
_PYSTONE_DIR = os.path.dirname(os.path.abspath(pystone.__file__))  # imported by the VM script

# Runs inside the VM. argv: data file, rate, file holding the params literal, cpu flag, pystone loops,
# batch (samples per FallDetector.feed() window, the device's FIFO wake; 1: update() per sample).
VM_SCRIPT = r"""
import sys, array, time, gc
from firmware.fall_detector import FallDetector, EV_FALL
path = sys.argv[1]
rate = int(sys.argv[2])
with open(sys.argv[3]) as pf:  # a file: this VM build crashes on argv strings of a few hundred bytes
    params = eval(pf.read())
cpu = sys.argv[4] == "1"
det = FallDetector(rate_hz=rate, **params)
f = open(path, "rb")
if f.read(4) != b"FALL":
    raise ValueError("bad data file")
hdr = bytearray(8)
buf = None
busy_us = 0
loop_us = 0
dec_us = []
samples = 0
batch = int(sys.argv[6])
def noop(x, y, z):
    return 0
class NoFeed:
    event = 0
    impact_n = 0
    def feed(self, buf, end, k):
        return end
nofeed = NoFeed()
def batches(d, buf, n, alarms):
    b0 = 0
    while b0 < n:
        end = b0 + batch if b0 + batch < n else n
        k = b0
        while k < end:
            k = d.feed(buf, end, k)
            if d.event == EV_FALL:
                alarms.append(k - 1)
                alarms.append(d.impact_n)
        b0 = end
while True:
    if f.readinto(hdr) < 8:
        break
    tid = int.from_bytes(hdr[0:4], "little")
    n = int.from_bytes(hdr[4:8], "little")
    if buf is None or len(buf) < 3 * n:
        buf = array.array("h", bytes(6 * n))
    mv = memoryview(buf)
    f.readinto(mv[0:3 * n])
    det.reset()
    upd = det.update
    alarms = []
    gc.collect()
    t0 = time.ticks_us()
    if batch > 1:  # FIFO batches through feed(), as FallMonitor.batch() on the device
        batches(det, buf, n, alarms)
    else:
        j = 0
        for i in range(n):
            if upd(buf[j], buf[j + 1], buf[j + 2]) == EV_FALL:
                alarms.append(i)
                alarms.append(det.impact_n)
            j += 3
    busy_us += time.ticks_diff(time.ticks_us(), t0)
    if cpu and batch > 1:  # same loops, a no-op instead of feed(): the loops' own cost
        t0 = time.ticks_us()
        batches(nofeed, buf, n, alarms)
        loop_us += time.ticks_diff(time.ticks_us(), t0)
    elif cpu:  # same loop, same indexing, a call to a no-op instead of update(): the loop's own cost
        t0 = time.ticks_us()
        j = 0
        for i in range(n):
            if noop(buf[j], buf[j + 1], buf[j + 2]) == EV_FALL:
                alarms.append(i)
            j += 3
        loop_us += time.ticks_diff(time.ticks_us(), t0)
    if cpu:
        det.reset()  # again, timing the calls that take a decision (features computed)
        j = 0
        for i in range(n):
            t0 = time.ticks_us()
            ev = upd(buf[j], buf[j + 1], buf[j + 2])
            dt = time.ticks_diff(time.ticks_us(), t0)
            if ev >= 2:  # EV_FALL or EV_REJECT
                dec_us.append(dt)
            j += 3
    samples += n
    print("R", tid, det.decisions, " ".join(str(a) for a in alarms))
if cpu:
    import pystone
    ps = pystone.main(int(sys.argv[5]))
    dec_us.sort()
    med = dec_us[len(dec_us) // 2] if dec_us else 0
    p95 = dec_us[len(dec_us) * 95 // 100] if dec_us else 0
    print("C", samples, busy_us, loop_us, int(ps), med, p95, len(dec_us))
"""


def _parse_subjects(text):
    if not text:
        return None
    return set(int(s) for s in text.replace(" ", "").split(",") if s)


def select_subjects(args):
    if getattr(args, "subjects", None):
        return _parse_subjects(args.subjects)
    split = getattr(args, "split", "all")
    if split == "tune":
        return set(TUNE_SUBJECTS)
    if split == "test":
        return set(TEST_SUBJECTS)
    return None


def parse_params(items):
    """['peak_mg=2000', ...] -> {'peak_mg': 2000}; integers only (the detector is integer-only)."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError("--param expects NAME=VALUE, got %r" % item)
        k, v = item.split("=", 1)
        out[k.strip()] = int(v)
    return out


class Loaded:
    """A trial resampled for the detector: samples (with padding), real length, impact index."""

    def __init__(self, trial, samples, n_real, impact):
        self.trial = trial
        self.samples = samples
        self.n_real = n_real
        self.impact = impact


def load(root, rate, subjects=None, pad_s=3.0):
    out = []
    for tr in mobifall.list_trials(root, subjects=subjects):
        s = mobifall.load_mg(tr.path, rate)
        impact = mobifall.impact_index(s)
        n_real = len(s)
        tail = s[-max(1, rate // 2):]
        hold = tuple(int(round(sum(v[c] for v in tail) / len(tail))) for c in range(3))
        s = s + [hold] * int(pad_s * rate)
        out.append(Loaded(tr, s, n_real, impact))
    return out


def write_data(path, loaded):
    with open(path, "wb") as f:
        f.write(_MAGIC)
        for tid, ld in enumerate(loaded):
            f.write(struct.pack("<II", tid, len(ld.samples)))
            flat = [v for xyz in ld.samples for v in xyz]
            f.write(struct.pack("<%dh" % len(flat), *flat))


BATCH = 25  # samples per FIFO wake on the device (firmware/fall_monitor.py _WATERMARK)


def run_vm(loaded, rate, params, cpu=False, pystone_loops=20000, timeout=3600, batch=BATCH):
    """Alarms per trial [(alarm_index, impact_index), ...], decisions per trial, cpu tuple or None.
    batch > 1 feeds FallDetector.feed() windows of that many samples (the device's path), 1 calls
    update() per sample."""
    with tempfile.TemporaryDirectory(prefix="falleval-") as tmp:
        data = os.path.join(tmp, "trials.bin")
        script = os.path.join(tmp, "fall_eval_vm.py")
        write_data(data, loaded)
        with open(script, "w") as f:
            f.write(VM_SCRIPT)
        ppath = os.path.join(tmp, "params.txt")
        with open(ppath, "w") as f:
            f.write(repr(params))
        proc = vm.run(script=script, args=(data, str(rate), ppath, "1" if cpu else "0",
                                           str(pystone_loops), str(batch)),
                      extra_path=(_PYSTONE_DIR,), heapsize="8M", timeout=timeout, cwd=tmp)
    if proc.returncode != 0:
        raise RuntimeError("VM failed (%d): %s" % (proc.returncode, (proc.stderr or proc.stdout)[-2000:]))
    alarms = [None] * len(loaded)
    decisions = [0] * len(loaded)
    cpu_out = None
    for line in proc.stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "R":
            tid = int(parts[1])
            decisions[tid] = int(parts[2])
            vals = [int(v) for v in parts[3:]]
            alarms[tid] = list(zip(vals[0::2], vals[1::2]))
        elif parts[0] == "C":
            cpu_out = tuple(int(v) for v in parts[1:9])
    if any(a is None for a in alarms):
        raise RuntimeError("VM did not report every trial:\n" + proc.stdout[-2000:] + proc.stderr[-2000:])
    return alarms, decisions, cpu_out


def detector_module():
    """firmware.fall_detector imported into CPython (the repo root holds the device tree)."""
    if vm.REPO not in sys.path:
        sys.path.insert(0, vm.REPO)
    from firmware import fall_detector
    return fall_detector


def run_host(loaded, rate, params):
    """Same as run_vm but with the firmware module in CPython (for tuning; same code)."""
    fd = detector_module()
    EV_FALL = fd.EV_FALL
    det = fd.FallDetector(rate_hz=rate, **params)
    alarms, decisions = [], []
    for ld in loaded:
        det.reset()
        upd = det.update
        got = []
        for i, (x, y, z) in enumerate(ld.samples):
            if upd(x, y, z) == EV_FALL:
                got.append((i, det.impact_n))
        alarms.append(got)
        decisions.append(det.decisions)
    return alarms, decisions


def _median(vals):
    v = sorted(vals)
    if not v:
        return None
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2.0


def metrics(loaded, alarms, rate):
    """The JSON-ready result dict from per-trial alarms."""
    falls = detected = adl = adl_alarmed = adl_alarms = 0
    adl_samples = 0
    latencies = []
    per_type = {}
    missed, false_trials = [], []
    for ld, al in zip(loaded, alarms):
        tr = ld.trial
        pt = per_type.setdefault(tr.code, {"trials": 0, "with_alarm": 0, "alarms": 0})
        pt["trials"] += 1
        pt["alarms"] += len(al)
        if al:
            pt["with_alarm"] += 1
        name = os.path.basename(tr.path)
        if tr.is_fall:
            falls += 1
            if al:
                detected += 1
                lat = (al[0][0] - ld.impact) / rate
                latencies.append(lat)
                pt.setdefault("latencies", []).append(lat)
            else:
                missed.append(name)
        else:
            adl += 1
            adl_samples += ld.n_real
            pt["seconds"] = pt.get("seconds", 0) + ld.n_real / rate
            adl_alarms += len(al)
            if al:
                adl_alarmed += 1
                false_trials.append(name)
    for code, pt in per_type.items():
        pt["fraction_with_alarm"] = round(pt["with_alarm"] / pt["trials"], 4)
        if "latencies" in pt:
            pt["median_latency_s"] = round(_median(pt.pop("latencies")), 3)
        if "seconds" in pt:
            pt["seconds"] = round(pt["seconds"], 1)
    hours = adl_samples / rate / 3600.0
    return {
        "falls": falls,
        "detected": detected,
        "adl_trials": adl,
        "adl_trials_with_alarm": adl_alarmed,
        "sensitivity": round(detected / falls, 4) if falls else None,
        "specificity": round(1 - adl_alarmed / adl, 4) if adl else None,
        "false_alarms_per_hour": round(adl_alarms / hours, 3) if hours else None,
        "median_latency_s": round(_median(latencies), 3) if latencies else None,
        "max_latency_s": round(max(latencies), 3) if latencies else None,
        "adl_alarms": adl_alarms,
        "adl_hours": round(hours, 4),
        "per_type": dict(sorted(per_type.items())),
        "missed_falls": missed,
        "adl_trials_alarmed": false_trials,
    }


def cpu_report(cpu, rate, esp32_pystones=ESP32_PYSTONES):
    samples, busy_us, loop_us, pystones, dec_med, dec_p95, decisions = cpu
    per_update_us = max(0, busy_us - loop_us) / max(1, samples)
    scale = pystones / float(esp32_pystones)
    esp_us = per_update_us * scale
    return {
        "samples": samples,
        "vm_us_per_update": round(per_update_us, 3),
        "vm_us_per_sample_incl_loop": round(busy_us / max(1, samples), 3),
        "vm_pystones_per_s": pystones,
        "esp32_pystones_per_s": esp32_pystones,
        "esp32_us_per_update": round(esp_us, 1),
        "esp32_core_percent_at_rate": round(esp_us * rate / 1e4, 3),
        "decisions": decisions,
        "vm_us_decision_median": dec_med,
        "vm_us_decision_p95": dec_p95,
        "esp32_ms_decision_median": round(dec_med * scale / 1000.0, 1),
        "esp32_ms_decision_p95": round(dec_p95 * scale / 1000.0, 1),
        "rate_hz": rate,
    }


# -- tuning and cross-validation (host CPython, same firmware module) ------------------------------
TUNE_GRID = {
    "peak_mg": (1700, 1800, 1900, 2000, 2100, 2200),
    "swing_mg": (400, 500, 600, 700, 800, 900, 1000),
    "posture_deg": (20, 30, 40, 50),
    "still_mg": (30, 40, 60, 80, 100, 130),
}
FA_WEIGHT = 3  # objective: falls detected - 3 x ADL trials with an alarm


def grid_alarms(loaded, rate, base=None, progress=None):
    """Every TUNE_GRID point run over every trial (full detector runs: thresholds also decide
    whether a later impact gets examined). Returns [(params, alarms per trial)]."""
    import itertools
    keys = sorted(TUNE_GRID)
    out = []
    for combo in itertools.product(*(TUNE_GRID[k] for k in keys)):
        params = dict(base or {})
        params.update(zip(keys, combo))
        out.append((params, run_host(loaded, rate, params)[0]))
        if progress:
            progress(len(out))
    return out


def select(grid, loaded, train):
    """Index of the grid point with the best objective on the trials whose subject is in `train`
    (first in grid order on ties)."""
    best, best_i = None, 0
    for gi, (_params, alarms) in enumerate(grid):
        det = fp = 0
        for ld, al in zip(loaded, alarms):
            if ld.trial.subject in train and al:
                if ld.trial.is_fall:
                    det += 1
                else:
                    fp += 1
        score = det - FA_WEIGHT * fp
        if best is None or score > best:
            best, best_i = score, gi
    return best_i


def cross_validate(grid, loaded, folds, rate):
    """Tune on all subjects but the fold's, apply to the fold; pooled held-out metrics."""
    subjects = set(ld.trial.subject for ld in loaded)
    held = [None] * len(loaded)
    chosen = []
    for fold in folds:
        gi = select(grid, loaded, subjects - set(fold))
        chosen.append({"test_subjects": sorted(fold), "params": grid[gi][0]})
        for ti, ld in enumerate(loaded):
            if ld.trial.subject in fold:
                held[ti] = grid[gi][1][ti]
    keep = [i for i, h in enumerate(held) if h is not None]
    return metrics([loaded[i] for i in keep], [held[i] for i in keep], rate), chosen


def cross_validate_model(loaded, folds, rate, params, kind=None):
    """Like cross_validate, for the learnt second stage: the model is retrained (fall_train) on the
    candidates of all subjects but the fold's, then the firmware detector with that model runs over
    the fold's trials. Pooled held-out metrics."""
    from alertbutton.falls import train as fall_train
    cands = fall_train.candidates(loaded, rate, params)
    subjects = set(ld.trial.subject for ld in loaded)
    held_l, held_a, chosen = [], [], []
    for fold in folds:
        train_s = subjects - set(fold)
        model, info = fall_train.train(cands, set(i for i, ld in enumerate(loaded)
                                                  if ld.trial.subject in train_s),
                                       kind=kind, groups=_groups(loaded), types=_types(loaded))
        test = [ld for ld in loaded if ld.trial.subject in fold]
        held_l += test
        held_a += run_host(test, rate, dict(params, model=model))[0]
        chosen.append({"test_subjects": sorted(fold), "model": list(model)})
    return metrics(held_l, held_a, rate), chosen


def _kind():
    from alertbutton.falls import train as fall_train
    return fall_train.KIND


def _groups(loaded):
    return [ld.trial.subject for ld in loaded]


def _types(loaded):
    return [ld.trial.code for ld in loaded]


def fit_model(root, rate, params, subjects, pad_s, kind=None):
    """The second stage retrained on `subjects` only (loaded here, apart from the evaluated trials)."""
    from alertbutton.falls import train as fall_train
    fit_on = load(root, rate, set(subjects), pad_s)
    if not fit_on:
        raise ValueError("no trials of subjects %s to fit on" % sorted(subjects))
    cands = fall_train.candidates(fit_on, rate, params)
    return fall_train.train(cands, set(range(len(fit_on))), kind=kind, groups=_groups(fit_on),
                            types=_types(fit_on))[0]


def trained_on(params, fit_subjects=None):
    """Subjects the evaluated decision was fitted on: the --fit subjects, the shipped model's, or the
    tuning split for the threshold rule's defaults (None if unknown: overridden thresholds)."""
    if fit_subjects is not None:
        return sorted(fit_subjects)
    if "model" not in params:
        if vm.REPO not in sys.path:
            sys.path.insert(0, vm.REPO)
        from firmware import fall_model
        return sorted(getattr(fall_model, "SUBJECTS", ()))
    if params.get("model") is None and set(params) == {"model"}:
        return sorted(TUNE_SUBJECTS)
    return None


def train_model(loaded, rate, params, out_path, command, kind=None):
    """Train the second stage on every loaded trial and write it as a firmware module."""
    from alertbutton.falls import train as fall_train
    cands = fall_train.candidates(loaded, rate, params)
    model, info = fall_train.train(cands, set(range(len(loaded))), kind=kind, groups=_groups(loaded),
                                   types=_types(loaded))
    subjects = sorted(set(ld.trial.subject for ld in loaded))
    base = dict((k, v) for k, v in params.items() if k != "model")
    fall_train.write_module(out_path, model, subjects, rate, base, info, command)
    training = metrics(loaded, run_host(loaded, rate, dict(params, model=model))[0], rate)
    return {"trained_on_subjects": subjects, "model": list(model), "written": out_path,
            "info": info, "training (not held-out)": training}


def add_arguments(p):
    p.add_argument("dir", help="MobiFall-layout folder (subN/FALLS|ADL/CODE/*_acc_*.txt) or one file")
    p.add_argument("--rate", type=int, default=50, help="device sample rate in Hz (default 50)")
    p.add_argument("--split", choices=("all", "tune", "test"), default="all",
                   help="subjects: all found, the tuning split or the held-out test split")
    p.add_argument("--subjects", help="comma-separated subject ids (overrides --split)")
    p.add_argument("--pad", type=float, default=3.0,
                   help="seconds of held final posture appended to each trial (default 3)")
    p.add_argument("--param", action="append", metavar="NAME=INT",
                   help="override a FallDetector constructor argument (repeatable)")
    p.add_argument("--cpu", action="store_true",
                   help="also time the detector (feed() per --batch, or update()) and run pystone in the "
                        "same VM; adds a 'cpu' key")
    p.add_argument("--batch", type=int, default=BATCH,
                   help="samples per FallDetector.feed() call in the VM, as one FIFO wake on the device "
                        "(default %d; 1: update() per sample)" % BATCH)
    p.add_argument("--esp32-pystones", type=int, default=ESP32_PYSTONES,
                   help="pystones/s of the ESP32 reference (default %d)" % ESP32_PYSTONES)
    p.add_argument("--host", action="store_true",
                   help="run the firmware module in CPython instead of the VM (quick checks)")
    p.add_argument("--tune", action="store_true",
                   help="grid-search the decision thresholds on the selected subjects (CPython)")
    p.add_argument("--cv", choices=("split", "loso"),
                   help="cross-validate the tuning (CPython): 'split' = tune on one half of the "
                        "subjects, test on the other, both ways; 'loso' = leave one subject out")
    p.add_argument("--rule", action="store_true",
                   help="threshold rule only (FallDetector(model=None)): no learnt second stage; "
                        "with --tune/--cv, grid-search the rule's thresholds")
    p.add_argument("--train-model", metavar="OUT.py",
                   help="train the second-stage model on the selected subjects and write it as a "
                        "firmware module (e.g. firmware/fall_model.py)")
    p.add_argument("--second-stage", choices=("experts", "logistic", "stumps"),
                   help="model kind trained by --cv, --fit and --train-model (default: the shipped "
                        "kind, fall_train.KIND)")
    p.add_argument("--explore", action="store_true",
                   help="score every second-stage variant tried (prototype features, stump ensembles) "
                        "by leave-one-subject-out, plus a nested estimate of picking the best (CPython)")
    p.add_argument("--fit", metavar="tune|test|IDS",
                   help="retrain the second stage on these subjects first (a split or comma-separated "
                        "ids), then evaluate the selected subjects with it in the VM (--split test "
                        "--fit tune: the designated held-out row, independent of the shipped model)")


def run(args):
    try:
        params = parse_params(args.param)
        if args.rule or args.tune:
            params["model"] = None
        detector_module().FallDetector(rate_hz=args.rate, **params)  # reject bad names/values early
        if not 1 <= args.batch <= 1000:
            raise ValueError("--batch must be 1..1000")
    except (TypeError, ValueError) as e:
        sys.stderr.write("fall-eval: %s\n" % e)
        return 2
    subjects = select_subjects(args)
    t0 = time.time()
    loaded = load(args.dir, args.rate, subjects, args.pad)
    if not loaded:
        sys.stderr.write("no *_acc_*.txt trials under %s\n" % args.dir)
        return 2
    if args.train_model:
        cmd = "alertbutton fall-eval DIR --train-model %s %s" % (
            os.path.relpath(args.train_model, vm.REPO) if os.path.isabs(args.train_model) else args.train_model,
            ("--subjects " + args.subjects) if args.subjects else "--split " + args.split)
        if args.second_stage:
            cmd += " --second-stage " + args.second_stage
        try:
            out = train_model(loaded, args.rate, params, args.train_model, cmd, args.second_stage)
        except ValueError as e:
            sys.stderr.write("fall-eval: %s\n" % e)
            return 2
        sys.stderr.write("%d trials in %.1f s\n" % (len(loaded), time.time() - t0))
        print(json.dumps(out, indent=1))
        return 0
    if args.explore:
        from alertbutton.falls import explore as fall_explore
        out = fall_explore.run(loaded, args.rate, params)
        sys.stderr.write("%d trials in %.1f s\n" % (len(loaded), time.time() - t0))
        print(json.dumps(out, indent=1))
        return 0
    if args.cv and not args.rule:
        subjects = sorted(set(ld.trial.subject for ld in loaded))
        if args.cv == "loso":
            folds = [(s,) for s in subjects]
        else:
            folds = [tuple(s for s in TEST_SUBJECTS if s in subjects),
                     tuple(s for s in TUNE_SUBJECTS if s in subjects)]
        try:
            res, chosen = cross_validate_model(loaded, folds, args.rate, params, args.second_stage)
        except ValueError as e:  # a fold without falls or non-falls to train on
            sys.stderr.write("fall-eval: %s\n" % e)
            return 2
        out = {"cv": args.cv, "rate_hz": args.rate, "held_out": res, "folds": chosen,
               "second_stage": "%s retrained in every fold" % (args.second_stage or _kind())}
        sys.stderr.write("%d trials in %.1f s\n" % (len(loaded), time.time() - t0))
        print(json.dumps(out, indent=1))
        return 0
    if args.tune or args.cv:
        subjects = sorted(set(ld.trial.subject for ld in loaded))
        grid = grid_alarms(loaded, args.rate, params)
        if args.tune:
            gi = select(grid, loaded, set(subjects))
            out = {"tuned_on_subjects": subjects, "params": grid[gi][0], "grid_points": len(grid),
                   "training": metrics(loaded, grid[gi][1], args.rate)}
        else:
            if args.cv == "loso":
                folds = [(s,) for s in subjects]
            else:
                folds = [tuple(s for s in TEST_SUBJECTS if s in subjects),
                         tuple(s for s in TUNE_SUBJECTS if s in subjects)]
            res, chosen = cross_validate(grid, loaded, folds, args.rate)
            out = {"cv": args.cv, "rate_hz": args.rate, "held_out": res, "folds": chosen,
                   "grid_points": len(grid)}
        sys.stderr.write("%d trials, %d grid points in %.1f s\n" % (len(loaded), len(grid), time.time() - t0))
        print(json.dumps(out, indent=1))
        return 0
    fit_subjects = None
    if args.fit:
        if args.rule:
            sys.stderr.write("fall-eval: --fit trains the learnt model: not with --rule\n")
            return 2
        try:
            fit_subjects = (set(TUNE_SUBJECTS) if args.fit == "tune" else set(TEST_SUBJECTS)
                            if args.fit == "test" else _parse_subjects(args.fit))
            params["model"] = fit_model(args.dir, args.rate, params, fit_subjects, args.pad,
                                        args.second_stage)
        except ValueError as e:
            sys.stderr.write("fall-eval: %s\n" % e)
            return 2
    cpu = None
    if args.host:
        alarms, _ = run_host(loaded, args.rate, params)
    else:
        alarms, _, cpu = run_vm(loaded, args.rate, params, cpu=args.cpu, batch=args.batch)
    out = metrics(loaded, alarms, args.rate)
    out["rate_hz"] = args.rate
    out["subjects"] = sorted(set(ld.trial.subject for ld in loaded))
    fitted = trained_on(params, fit_subjects)
    out["params"] = dict(params, model=list(params["model"])) if params.get("model") else params
    out["decision_fitted_on_subjects"] = fitted
    # held-out only if no evaluated subject was used to fit the decision (unknown: not claimed)
    out["held_out"] = fitted is not None and not set(fitted) & set(out["subjects"])
    out["engine"] = "cpython" if args.host else "micropython"
    if not args.host:
        out["batch"] = args.batch
    if cpu:
        out["cpu"] = cpu_report(cpu, args.rate, args.esp32_pystones)
        c = out["cpu"]
        sys.stderr.write("cpu: %.2f us/update in the VM (%d pystones/s) -> %.0f us on an ESP32 "
                         "(%d pystones/s) = %.2f%% of a core at %d Hz\n" % (
                             c["vm_us_per_update"], c["vm_pystones_per_s"], c["esp32_us_per_update"],
                             c["esp32_pystones_per_s"], c["esp32_core_percent_at_rate"], args.rate))
    sys.stderr.write("%d trials in %.1f s\n" % (len(loaded), time.time() - t0))
    print(json.dumps(out, indent=1))
    return 0
