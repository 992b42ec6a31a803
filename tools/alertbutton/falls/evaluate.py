"""The firmware fall detector, run inside the MicroPython VM (or in CPython), over MobiFall-layout
trials (DIR/subN/FALLS|ADL/CODE/*_acc_*.txt), and the metrics of its alarms (`alertbutton fall-eval`,
command.py; train.py and explore.py build on this module).

Host side: read + resample (mobifall.py) into one compact int16 file; VM side: one process runs
firmware.fall.detector over every trial and reports alarms per trial; host side again: metrics.

Counting rules: a fall trial is detected if the detector fires (EV_FALL) at least once; an ADL trial
is a false positive if it fires at all; false alarms per hour = all alarms in ADL trials / their
recorded duration; latency = first alarm minus the data's impact time (the trial's peak |a|).
Trials are extended by `--pad` seconds holding their final posture (mean of the last 0.5 s) so a
candidate near the end of a short ADL recording is still decided: this can only add alarms.
"""
import os
import struct
import sys
import tempfile

from alertbutton import pystone, vm
from alertbutton.falls import mobifall, sisfall

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
from firmware.fall.detector import FallDetector, EV_FALL
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


class Loaded:
    """A trial resampled for the detector: samples (with padding), real length, impact index."""

    def __init__(self, trial, samples, n_real, impact):
        self.trial = trial
        self.samples = samples
        self.n_real = n_real
        self.impact = impact


def dataset_of(root):
    """'sisfall' for a SisFall-layout folder (SUBJECT.tar.xz or SUBJECT/ folders), else 'mobifall'."""
    return "sisfall" if sisfall.is_layout(root) else "mobifall"


def load(root, rate, subjects=None, pad_s=3.0, sensor=None):
    """Every trial of root (MobiFall or SisFall layout, found out from the folder) resampled at rate
    in integer milli-g, padded by pad_s seconds of its final posture. sensor: SisFall's accelerometer
    (adxl345 or mma8451q; refused for MobiFall, which has one)."""
    if dataset_of(root) == "sisfall":
        trials = sisfall.list_trials(root, subjects=subjects, sensor=sensor or sisfall.DEFAULT_SENSOR)
        read = sisfall.load_mg
    else:
        if sensor is not None:
            raise ValueError("--sensor is for SisFall folders: MobiFall has one accelerometer")
        trials = mobifall.list_trials(root, subjects=subjects)
        read = lambda tr, r: mobifall.load_mg(tr.path, r)  # noqa: E731
    out = []
    for tr in trials:
        s = read(tr, rate)
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


BATCH = 25  # samples per FIFO wake on the device (firmware/fall/monitor.py _WATERMARK)


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
    """firmware.fall.detector imported into CPython (the repo root holds the device tree)."""
    if vm.REPO not in sys.path:
        sys.path.insert(0, vm.REPO)
    from firmware.fall import detector as fall_detector
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


def trained_on(params, fit_subjects=None, dataset="mobifall"):
    """Subjects of `dataset` the evaluated decision was fitted on: the --fit subjects, the shipped
    model's (SUBJECTS: MobiFall, SISFALL_SUBJECTS: SisFall), or the tuning split for the threshold
    rule's defaults (None if unknown: overridden thresholds)."""
    if fit_subjects is not None:
        return sorted(fit_subjects)
    if "model" not in params:
        if vm.REPO not in sys.path:
            sys.path.insert(0, vm.REPO)
        from firmware.fall import model as fall_model
        name = "SISFALL_SUBJECTS" if dataset == "sisfall" else "SUBJECTS"
        return sorted(getattr(fall_model, name, ()))
    if dataset == "sisfall":
        return None  # thresholds tuned on MobiFall subjects only: nothing of SisFall's was seen
    if params.get("model") is None and set(params) == {"model"}:
        return sorted(TUNE_SUBJECTS)
    return None
