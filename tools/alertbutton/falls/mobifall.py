"""MobiFall v2.0 reader (host side): lists trials, reads accelerometer files and resamples them onto
the device's fixed sample rate in integer milli-g, the unit the firmware fall detector consumes.

Layout: ROOT/subN/FALLS|ADL/CODE/CODE_acc_N_T.txt; data lines after '@DATA' are
"timestamp_ns, x, y, z" in m/s^2 including gravity, ~87-100 Hz with irregular gaps.
"""
import os
import re

G = 9.80665  # m/s^2 per g (standard gravity)
FALL_CODES = ("FOL", "FKL", "BSC", "SDL")
ADL_CODES = ("STD", "WAL", "JOG", "JUM", "STU", "STN", "SCH", "CSI", "CSO")
_NAME = re.compile(r"^([A-Z]{3})_acc_(\d+)_(\d+)\.txt$")


class Trial:
    """One recording: path, subject id, code (e.g. 'FOL'), trial number, is_fall."""

    def __init__(self, path, subject, code, trial):
        self.path = path
        self.subject = subject
        self.code = code
        self.trial = trial
        self.is_fall = code in FALL_CODES

    def __repr__(self):
        return "Trial(%s s%d #%d)" % (self.code, self.subject, self.trial)


def parse_name(path):
    """(code, subject, trial) from a file name like FOL_acc_5_2.txt, or None."""
    m = _NAME.match(os.path.basename(path))
    if not m:
        return None
    return m.group(1), int(m.group(2)), int(m.group(3))


def list_trials(root, subjects=None, codes=None):
    """Every accelerometer trial under root (sorted), optionally filtered by subject ids / codes.
    root may also be a single trial file."""
    if os.path.isfile(root):
        paths = [root]
    else:
        paths = []
        for dirpath, _dirs, files in os.walk(root):
            paths.extend(os.path.join(dirpath, f) for f in files)
    out = []
    for p in sorted(paths):
        parsed = parse_name(p)
        if not parsed:
            continue
        code, subject, trial = parsed
        if code not in FALL_CODES and code not in ADL_CODES:
            continue
        if subjects is not None and subject not in subjects:
            continue
        if codes is not None and code not in codes:
            continue
        out.append(Trial(p, subject, code, trial))
    out.sort(key=lambda t: (t.subject, not t.is_fall, t.code, t.trial))
    return out


def read_acc(path):
    """(t_seconds, x, y, z) lists, m/s^2, time from the first sample; duplicates/backsteps dropped."""
    ts, xs, ys, zs = [], [], [], []
    started = False
    last = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not started:
                started = line.startswith("@DATA")
                continue
            if not line or line[0] == "#":
                continue
            parts = line.split(",")
            if len(parts) < 4:
                continue
            t = int(parts[0])
            if last is not None and t <= last:
                continue  # keep time strictly increasing for interpolation
            last = t
            ts.append(t)
            xs.append(float(parts[1]))
            ys.append(float(parts[2]))
            zs.append(float(parts[3]))
    if not ts:
        raise ValueError("no samples in %s" % path)
    t0 = ts[0]
    return [(t - t0) * 1e-9 for t in ts], xs, ys, zs


def resample(t, cols, rate_hz):
    """Linear interpolation of each column onto a uniform grid at rate_hz starting at t[0].

    Linear (not band-limited) on purpose: the device's accelerometer also just samples; a 10 ms
    source period is well above 50 Hz Nyquist needs for the slow posture/stillness features, and
    it keeps short impact peaks (at most a little smoothing of a single-sample spike)."""
    if rate_hz <= 0:
        raise ValueError("rate must be > 0")
    n = int((t[-1] - t[0]) * rate_hz) + 1
    out = [[0.0] * n for _ in cols]
    j = 0
    last = len(t) - 1
    for i in range(n):
        ti = t[0] + i / rate_hz
        while j < last - 1 and t[j + 1] < ti:
            j += 1
        t1, t2 = t[j], t[j + 1] if last else t[j]
        w = 0.0 if t2 == t1 else min(1.0, max(0.0, (ti - t1) / (t2 - t1)))
        for c, col in enumerate(cols):
            out[c][i] = col[j] + (col[min(j + 1, last)] - col[j]) * w
    return out


def load_mg(path, rate_hz=50):
    """Trial resampled at rate_hz as a list of (x, y, z) integer milli-g tuples."""
    t, xs, ys, zs = read_acc(path)
    rx, ry, rz = resample(t, (xs, ys, zs), rate_hz)
    k = 1000.0 / G
    return [(int(round(a * k)), int(round(b * k)), int(round(c * k))) for a, b, c in zip(rx, ry, rz)]


def magnitude_mg(samples):
    """Vector magnitude of each (x, y, z) sample (float milli-g)."""
    return [(x * x + y * y + z * z) ** 0.5 for x, y, z in samples]


def impact_index(samples):
    """Index of the data's impact: the peak acceleration magnitude of the trial (first if tied)."""
    mags = magnitude_mg(samples)
    best = 0
    for i, m in enumerate(mags):
        if m > mags[best]:
            best = i
    return best
