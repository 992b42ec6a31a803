"""Second stage of the fall detector: a small logistic model over the features the firmware computes
once per candidate, trained here on the host (CPython, no numpy) and run on the device in integer
arithmetic (train on the host, infer on the device, as emlearn does).

    candidates(loaded, rate, params)  every candidate the firmware examines, with its features
    train(cands, subjects)            logistic regression on the candidates of those subjects only
    model_tuple(...)                  the integer model the firmware takes (FallDetector(model=...))
    write_module(path, model, ...)    firmware/fall_model.py with a header saying how and from what

Labels: in a fall trial the candidate whose impact peak lies within 1 s of the data's impact (its
peak |a|) is a fall; other candidates of fall trials are left out (a stumble before, getting up
after); every candidate of an activity trial is a non-fall.

`alertbutton fall-eval DIR --train-model OUT.py` trains on the selected subjects and writes the
module; `--cv split|loso` retrains inside every fold; `--fit tune` retrains on the tuning split
before evaluating other subjects in the VM (see fall_eval.py).
"""
import math

# features used by the model (firmware F_* indices) and the range each is clipped to before use
# (keeps every integer product small on the device and tames heavy tails). The posture change is a
# gate (GATES), not a model input.
USE = (
    ("peak", 0, 1000, 8000),
    ("swing", 1, 0, 4000),
    ("still", 3, 0, 400),
    ("dip", 4, 0, 1000),
    ("drop", 5, 0, 4000),
    ("area", 6, 0, 4000),
    ("post", 7, 0, 1000),
    ("long", 8, 0, 180),
    ("nimp", 9, 0, 20),
)
GATES = (30, 150)  # min posture change (deg), max stillness (mg): the physical premise of a fall
FA_WEIGHT = 3  # threshold objective, as the rule's grid search: falls detected - 3 x ADL trials alarmed
_SCALE_BITS = 24  # sum of |w| * range stays below 2**24: safe small ints on a 32-bit MicroPython


def candidates(loaded, rate, params=None):
    """[(trial index, impact sample, label 1/0/None, features tuple)] for every candidate the
    firmware detector examines when nothing is ever confirmed (so every later impact is examined)."""
    from alertbutton.fall_eval import detector_module
    fd = detector_module()
    params = dict(params or {})
    params.pop("model", None)

    class Recorder(fd.FallDetector):
        def accept(self, f=None):
            if f is None:
                self.seen.append((self.impact_n, tuple(self.features)))
                return False
            return fd.FallDetector.accept(self, f)

    det = Recorder(rate_hz=rate, **params)
    out = []
    for ti, ld in enumerate(loaded):
        det.reset()
        det.seen = []
        upd = det.update
        for x, y, z in ld.samples:
            upd(x, y, z)
        for imp, feats in det.seen:
            if ld.trial.is_fall:
                label = 1 if abs(imp - ld.impact) <= rate else None
            else:
                label = 0
            out.append((ti, imp, label, feats))
    return out


def _x(feats, use):
    row = []
    for _name, idx, lo, hi in use:
        v = feats[idx]
        row.append(lo if v < lo else (hi if v > hi else v))
    return row


def _solve(A, b):
    """Gaussian elimination with partial pivoting (small dense systems)."""
    n = len(b)
    M = [row[:] + [bv] for row, bv in zip(A, b)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[p] = M[p], M[c]
        piv = M[c][c]
        for r in range(c + 1, n):
            f = M[r][c] / piv
            if f:
                for k in range(c, n + 1):
                    M[r][k] -= f * M[c][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (M[r][n] - sum(M[r][k] * x[k] for k in range(r + 1, n))) / M[r][r]
    return x


def fit_logistic(X, y, l2=1.0, iters=25):
    """L2-regularised, class-balanced logistic regression by Newton's method on standardised
    columns; returns (bias, weights) per raw unit."""
    n, d = len(X), len(X[0])
    mu = [sum(r[j] for r in X) / n for j in range(d)]
    sd = [max(1e-9, math.sqrt(sum((r[j] - mu[j]) ** 2 for r in X) / n)) for j in range(d)]
    Z = [[1.0] + [(r[j] - mu[j]) / sd[j] for j in range(d)] for r in X]
    pos = sum(y)
    cw = [(n / (2.0 * pos)) if t else (n / (2.0 * (n - pos))) for t in y]  # falls are few
    D = d + 1
    w = [0.0] * D
    for _ in range(iters):
        g = [l2 * w[j] if j else 0.0 for j in range(D)]
        H = [[(l2 if (i == j and i) else 0.0) for j in range(D)] for i in range(D)]
        for z, t, c in zip(Z, y, cw):
            s = sum(wj * zj for wj, zj in zip(w, z))
            p = 1.0 / (1.0 + math.exp(-s)) if s > -30 else 0.0
            e = (p - t) * c
            h = p * (1 - p) * c
            for i in range(D):
                g[i] += e * z[i]
                hz = h * z[i]
                Hi = H[i]
                for j in range(i, D):
                    Hi[j] += hz * z[j]
        for i in range(D):
            for j in range(i):
                H[i][j] = H[j][i]
        step = _solve(H, g)
        w = [wj - sj for wj, sj in zip(w, step)]
        if max(abs(sj) for sj in step) < 1e-6:
            break
    raw_w = [w[j + 1] / sd[j] for j in range(d)]
    raw_b = w[0] - sum(raw_w[j] * mu[j] for j in range(d))
    return raw_b, raw_w


def _int_model(raw_b, raw_w, use):
    span = sum(abs(wj) * (hi - lo) for wj, (_n, _i, lo, hi) in zip(raw_w, use)) + abs(raw_b)
    scale = (1 << _SCALE_BITS) / span
    return scale, [int(round(wj * scale)) for wj in raw_w], int(round(raw_b * scale))


def int_score(model, feats):
    """Same integer arithmetic as the firmware (FallDetector.score), gates not applied."""
    bias, rows = model[0], model[3:]
    s = bias
    for k in range(0, len(rows), 4):
        idx, w, lo, hi = rows[k:k + 4]
        v = feats[idx]
        v = lo if v < lo else (hi if v > hi else v)
        s += w * v
    return s


def model_tuple(bias, iw, gates=(0, 16000), use=None):
    out = [bias, gates[0], gates[1]]
    for wj, (_n, idx, lo, hi) in zip(iw, use or USE):
        out.extend((idx, wj, lo, hi))
    return tuple(out)


def _gated(f, gates):
    return f[2] >= gates[0] and f[3] <= gates[1]  # F_POSTURE, F_STILL


def train(cands, trials, l2=1.0, gates=GATES, use=USE):
    """Model trained on the candidates of the trial indices `trials` only (the caller picks the
    subjects): candidates that pass the gates (posture change, stillness) are the training set;
    the bias is then moved so that the decision (score >= 0) maximises falls detected -
    FA_WEIGHT x activity trials alarmed on those trials. Returns (model tuple, info dict)."""
    sel = [(ti, lab, f) for ti, _imp, lab, f in cands if ti in trials and _gated(f, gates)]
    X = [_x(f, use) for ti, lab, f in sel if lab is not None]
    y = [lab for ti, lab, f in sel if lab is not None]
    if not X or sum(y) == 0 or sum(y) == len(y):
        raise ValueError("need fall and non-fall candidates to train")
    raw_b, raw_w = fit_logistic(X, y, l2=l2)
    scale, iw, ib = _int_model(raw_b, raw_w, use)
    m0 = model_tuple(0, iw, gates, use)
    # trial-level threshold: a fall trial counts if any of its candidates fires (as in fall-eval)
    best_fall, best_adl = {}, {}
    for ti, lab, f in sel:
        s = int_score(m0, f)
        d = best_fall if lab is None or lab == 1 else best_adl
        if s > d.get(ti, -(1 << 40)):
            d[ti] = s
    thr_cands = sorted(set(best_fall.values()) | set(best_adl.values()))
    best = None
    for t in thr_cands:
        det = sum(1 for v in best_fall.values() if v >= t)
        fp = sum(1 for v in best_adl.values() if v >= t)
        score = det - FA_WEIGHT * fp
        if best is None or score >= best[0]:  # ties: the highest threshold with the best score
            best = (score, t)
    t = best[1]
    lower = [v for v in thr_cands if v < t]
    if lower:  # halfway down to the next lower score: a margin on both sides
        t = t - (t - lower[-1]) // 2
    model = model_tuple(-t, iw, gates, use)
    info = {"candidates": len(X), "fall_candidates": sum(y), "float_bias": raw_b,
            "float_weights": dict(zip([u[0] for u in use], raw_w)), "scale": scale,
            "training_objective": best[0]}
    return model, info


def write_module(path, model, subjects, rate, params, info, command):
    names = dict((u[1], u[0]) for u in USE)
    subs = " ".join(str(s) for s in sorted(subjects))
    lines = [
        "# GENERATED by tools/alertbutton/fall_train.py -- do not edit by hand.",
        "# Command: %s" % command,
        "# Logistic model (second stage of firmware/fall_detector.py), trained on MobiFall v2.0 subjects",
        "# %s, rate %d Hz," % (subs, rate),
        "# detector parameters %r; %d candidates, %d of them falls." % (
            params, info["candidates"], info["fall_candidates"]),
        "# No figure measured on these subjects with this model is held-out: the held-out estimate is",
        "# `fall-eval --cv loso` (retrained in every fold), see docs/fall-detection.md.",
        "# Integer inference: score = BIAS + sum(w * clip(feature, lo, hi)); fall if score >= 0.",
        "# Rows: (feature index, weight, lo, hi).",
        "",
        "# fall-eval marks any result on these subjects as not held-out",
        "SUBJECTS = %r" % (tuple(sorted(subjects)),),
        "RATE_HZ = %d" % rate,
        "",
        "MODEL = (",
        "    %d,  # bias (decision threshold folded in)" % model[0],
    ]
    lines.append("    %d, %d,  # gates: min posture change (deg), max stillness (mg)" % (model[1], model[2]))
    rows = model[3:]
    for k in range(0, len(rows), 4):
        idx, w, lo, hi = rows[k:k + 4]
        lines.append("    %d, %d, %d, %d,  # %s" % (idx, w, lo, hi, names.get(idx, "?")))
    lines.append(")")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
