"""Second stage of the fall detector: a small logistic model over the features the firmware computes
once per candidate, trained here on the host (scikit-learn's LogisticRegression since issue 24) and run on the device in integer
arithmetic (train on the host, infer on the device, as emlearn does).

    candidates(loaded, rate, params)  every candidate the firmware examines, with its features
    train(cands, trials, types=...)   the shipped kind on the candidates of those trials only: a
                                      logistic model for every fall OR a backward-fall expert
                                      (train_experts); kind="logistic" / "stumps" for the others
    model_tuple(...)                  the integer model the firmware takes (FallDetector(model=...))
    write_module(path, model, ...)    firmware/fall/model.py with a header saying how and from what

Labels: in a fall trial the candidate whose impact peak lies within 1 s of the data's impact (its
peak |a|) is a fall; other candidates of fall trials are left out (a stumble before, getting up
after); every candidate of an activity trial is a non-fall.

`alertbutton fall-eval DIR --train-model OUT.py` trains on the selected subjects and writes the
module; `--cv split|loso` retrains inside every fold; `--fit tune` retrains on the tuning split
before evaluating other subjects in the VM (see command.py).
"""

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
# stump ensembles may also split on the rotation features (firmware F_ROTPRE .. F_VVEL)
STUMP_USE = USE + (
    ("rotpre", 10, 0, 180),
    ("rotpath", 11, 0, 2000),
    ("over", 12, -180, 180),
    ("vvel", 13, 0, 2000),
)
FEATURE_NAMES = dict((u[1], u[0]) for u in STUMP_USE)
# experts: the logistic model over USE for every fall, OR a logistic expert for the backward falls
# (MobiFall BSC: falling backwards while sitting down, the fall that looks most like sitting down
# in a pocket) over USE + the rotation features, its threshold set so that it only adds falls
EXPERT_TYPES = ("BSC",)
EXPERT_USE = STUMP_USE
KIND = "experts"  # the shipped second stage (docs/fall-detection.md: why)
STUMP_ROUNDS = 20
STUMP_LR = 0.3
STUMP_SCALE = 4096  # integer leaf values per logit unit
GATES = (30, 150)  # min posture change (deg), max stillness (mg): the physical premise of a fall
FA_WEIGHT = 3  # threshold objective, as the rule's grid search: falls detected - 3 x ADL trials alarmed
_SCALE_BITS = 24  # sum of |w| * range stays below 2**24: safe small ints on a 32-bit MicroPython


def candidates(loaded, rate, params=None, decided=None):
    """[(trial index, impact sample, label 1/0/None, features tuple)] for every candidate the
    firmware detector examines when nothing is ever confirmed (so every later impact is examined).
    `decided`, if a list, receives the sample index of each candidate's decision."""
    from alertbutton.falls.evaluate import detector_module
    fd = detector_module()
    params = dict(params or {})
    params.pop("model", None)

    class Recorder(fd.FallDetector):
        def _fall(self):  # the decision on the features just computed: record them, never confirm
            self.seen.append((self.impact_n, self.n, tuple(self.features)))
            return False

    det = Recorder(rate_hz=rate, **params)
    det.rotation = True  # record every feature, whatever the shipped model uses
    out = []
    for ti, ld in enumerate(loaded):
        det.reset()
        det.seen = []
        upd = det.update
        for x, y, z in ld.samples:
            upd(x, y, z)
        for imp, n, feats in det.seen:
            if ld.trial.is_fall:
                label = 1 if abs(imp - ld.impact) <= rate else None
            else:
                label = 0
            out.append((ti, imp, label, feats))
            if decided is not None:
                decided.append(n)
    return out


def _x(feats, use):
    row = []
    for _name, idx, lo, hi in use:
        v = feats[idx]
        row.append(lo if v < lo else (hi if v > hi else v))
    return row


def fit_logistic(X, y, l2=1.0, iters=None):
    """L2-regularised, class-balanced logistic regression (scikit-learn's LogisticRegression on
    standardised columns, C = 1 / l2: the same objective the hand-written Newton solver had);
    returns (bias, weights) per raw unit."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    mu = X.mean(axis=0)
    sd = np.maximum(X.std(axis=0), 1e-9)
    n, pos = len(y), int(y.sum())
    cw = np.where(y == 1, n / (2.0 * pos), n / (2.0 * (n - pos)))  # falls are few
    lr = LogisticRegression(C=1.0 / l2, max_iter=2000, tol=1e-10)
    lr.fit((X - mu) / sd, y, sample_weight=cw)
    raw_w = [float(w) for w in lr.coef_[0] / sd]
    raw_b = float(lr.intercept_[0] - np.dot(lr.coef_[0] / sd, mu))
    return raw_b, raw_w


def _int_model(raw_b, raw_w, use):
    span = sum(abs(wj) * (hi - lo) for wj, (_n, _i, lo, hi) in zip(raw_w, use)) + abs(raw_b)
    scale = (1 << _SCALE_BITS) / span
    return scale, [int(round(wj * scale)) for wj in raw_w], int(round(raw_b * scale))


def int_score(model, feats):
    """Same integer arithmetic as the firmware (FallDetector.score), gates not applied; a tuple
    of experts scores as its best expert."""
    if isinstance(model[0], (tuple, list)):
        return max(int_score(m, feats) for m in model)
    bias, rows = model[0], model[3:]
    s = bias
    for k in range(0, len(rows), 4):
        idx, w, lo, hi = rows[k:k + 4]
        if idx < 0:  # stump row: (~idx, threshold, if_le, if_gt)
            s += lo if feats[~idx] <= w else hi
            continue
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


def train(cands, trials, l2=1.0, gates=GATES, use=None, kind=None, groups=None, types=None):
    """Second stage trained on the candidates of the trial indices `trials` only: the logistic
    model (train_logistic), boosted stumps (train_stumps, needs `groups`: subject per trial
    index) or the logistic model plus a backward-fall expert (train_experts, needs `types`: the
    activity or fall code per trial index). kind None: the shipped kind (KIND)."""
    kind = kind or KIND
    if kind == "experts":
        if types is None:
            raise ValueError("experts need the code of every trial (types)")
        return train_experts(cands, trials, types, l2, gates, use or USE)
    if kind == "stumps":
        if groups is None:
            raise ValueError("stumps need the subject of every trial (groups)")
        return train_stumps(cands, trials, groups, gates, use or STUMP_USE)
    if kind != "logistic":
        raise ValueError("unknown second stage %r" % kind)
    return train_logistic(cands, trials, l2, gates, use or USE)


def train_logistic(cands, trials, l2=1.0, gates=GATES, use=USE):
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
    objective, t = choose_threshold(trial_max([(ti, lab, int_score(m0, f)) for ti, lab, f in sel]))
    model = model_tuple(-t, iw, gates, use)
    info = {"kind": "logistic", "candidates": len(X), "fall_candidates": sum(y), "float_bias": raw_b,
            "float_weights": dict(zip([u[0] for u in use], raw_w)), "scale": scale,
            "training_objective": objective}
    return model, info


def train_experts(cands, trials, types, l2=1.0, gates=GATES, use=USE, expert_use=EXPERT_USE,
                  expert_types=EXPERT_TYPES):
    """The logistic model over every fall (train_logistic), and an expert: a logistic model over
    `expert_use` trained on the falls of `expert_types` against the activities. A candidate is a
    fall if either scores >= 0. The expert's threshold maximises the same objective (falls
    detected - FA_WEIGHT x activity trials alarmed) for the pair on the training trials, ties
    going to the highest threshold, with no margin below it: the expert is kept only if it
    detects training falls the general model misses without alarming more activity trials than
    they are worth, and it fires no lower than the weakest of those falls. Returns
    (model, info): a tuple of two integer models, or the general model alone."""
    from alertbutton.falls.mobifall import FALL_CODES
    general, info = train_logistic(cands, trials, l2, gates, use)
    mine = set(ti for ti in trials if types[ti] in expert_types or types[ti] not in FALL_CODES)
    info = dict(info, kind="experts", expert_types=list(expert_types), expert_kept=False,
                general_objective=info["training_objective"])
    try:
        expert, einfo = train_logistic(cands, mine, l2, gates, expert_use)
    except ValueError:  # no such fall to learn from: the general model alone
        return general, info
    raw = (0,) + expert[1:]  # the expert's weights, bias left to choose with the general model
    sel = [(ti, lab, int_score(general, f) >= 0, int_score(raw, f))
           for ti, _imp, lab, f in cands if ti in trials and _gated(f, gates)]
    top = max(s for _ti, _l, _g, s in sel)
    sure = top + 1  # stands for "the general model fires": counted at every threshold
    # no margin below the weakest fall the expert adds: it must stay a narrow addition
    objective, t = choose_threshold(trial_max([(ti, lab, sure if g else s) for ti, lab, g, s in sel]),
                                    margin=False)
    info.update(training_objective=objective,
                expert={"candidates": einfo["candidates"], "fall_candidates": einfo["fall_candidates"],
                        "float_weights": einfo["float_weights"], "scale": einfo["scale"]})
    if t > top:  # the expert adds nothing on the training trials
        return general, info
    info["expert_kept"] = True
    return (general, (-t,) + raw[1:]), info


def trial_max(scored):
    """[(trial, label, score)] -> ({fall trial: its best score}, {activity trial: its best score}):
    a fall trial counts if any of its candidates fires, an activity trial is alarmed if any does."""
    best_fall, best_adl = {}, {}
    for ti, lab, s in scored:
        d = best_fall if lab is None or lab == 1 else best_adl
        if s > d.get(ti, -(1 << 40)):
            d[ti] = s
    return best_fall, best_adl


def choose_threshold(best, fa_weight=FA_WEIGHT, margin=True):
    """(objective, threshold) maximising falls detected - fa_weight x activity trials alarmed over
    trial_max() scores; ties: the highest such threshold, then (margin) halfway down to the next
    lower score (a margin on both sides)."""
    best_fall, best_adl = best
    thr_cands = sorted(set(best_fall.values()) | set(best_adl.values()))
    top = None
    for t in thr_cands:
        det = sum(1 for v in best_fall.values() if v >= t)
        fp = sum(1 for v in best_adl.values() if v >= t)
        score = det - fa_weight * fp
        if top is None or score >= top[0]:
            top = (score, t)
    t = top[1]
    lower = [v for v in thr_cands if v < t]
    if lower and margin:
        t = t - (t - lower[-1]) / 2 if isinstance(t, float) else t - (t - lower[-1]) // 2
    return top[0], t


def fit_stumps(X, y, rounds=20, lr=0.3):
    """Gradient-boosted stumps on the class-balanced logistic loss (scikit-learn's
    GradientBoostingClassifier, max_depth 1; with balanced weights its initial log-odds is 0),
    integer cuts on integer features: [(column, threshold, value if <=, value if >)]."""
    import numpy as np
    from sklearn.ensemble import GradientBoostingClassifier
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n, pos = len(y), int(y.sum())
    cw = np.where(y == 1, n / (2.0 * pos), n / (2.0 * (n - pos)))
    gb = GradientBoostingClassifier(n_estimators=rounds, learning_rate=lr, max_depth=1, random_state=0)
    gb.fit(X, y, sample_weight=cw)
    out = []
    for (tree,) in gb.estimators_:
        t = tree.tree_
        if t.node_count < 3:
            continue  # no split: a constant (0 with balanced weights)
        left, right = t.children_left[0], t.children_right[0]
        # sklearn compares float32(x) <= threshold: for integer features x <= floor(threshold)
        out.append((int(t.feature[0]), int(np.floor(t.threshold[0])), lr * float(t.value[left][0][0]),
                    lr * float(t.value[right][0][0])))
    return out


def stump_tuple(bias, stumps, gates, use):
    """Integer model: leaf values at a fixed STUMP_SCALE per logit unit (so scores of models fitted
    on different subjects are comparable when the threshold is chosen out of fold)."""
    out = [bias, gates[0], gates[1]]
    for j, t, vl, vr in stumps:
        out.extend((~use[j][1], int(t), int(round(vl * STUMP_SCALE)), int(round(vr * STUMP_SCALE))))
    return tuple(out)


def train_stumps(cands, trials, groups, gates=GATES, use=None, rounds=STUMP_ROUNDS, lr=STUMP_LR):
    """Boosted stumps on the gated candidates of `trials`. An ensemble fits its training set
    perfectly, so the decision threshold is chosen on out-of-fold scores: each training subject
    scored by the stumps fitted on the other training subjects (falls detected - FA_WEIGHT x
    activity trials alarmed, as for the logistic model). Returns (model tuple, info dict)."""
    use = use or STUMP_USE
    sel = [(ti, lab, f) for ti, _imp, lab, f in cands if ti in trials and _gated(f, gates)]

    def fit(keep):
        rows = [(lab, f) for ti, lab, f in sel if lab is not None and keep(ti)]
        y = [lab for lab, f in rows]
        if not rows or sum(y) == 0 or sum(y) == len(y):
            raise ValueError("need fall and non-fall candidates to train")
        return stump_tuple(0, fit_stumps([[f[u[1]] for u in use] for lab, f in rows], y, rounds, lr),
                           gates, use)
    subjects = sorted(set(groups[ti] for ti, lab, f in sel))
    scored = []
    for g in subjects:
        try:
            m = fit(lambda ti: groups[ti] != g)
        except ValueError:  # the others alone hold no falls (or no non-falls): g is not scored
            continue
        scored += [(ti, lab, int_score(m, f)) for ti, lab, f in sel if groups[ti] == g]
    if not scored:
        raise ValueError("stumps need two subjects or more with falls and non-falls")
    objective, t = choose_threshold(trial_max(scored))
    m = fit(lambda ti: True)
    model = (m[0] - t,) + m[1:]
    info = {"kind": "stumps", "rounds": rounds, "lr": lr,
            "candidates": sum(1 for ti, lab, f in sel if lab is not None),
            "fall_candidates": sum(1 for ti, lab, f in sel if lab == 1),
            "out_of_fold_objective": objective}
    return model, info


def _model_lines(model, indent):
    names = FEATURE_NAMES
    lines = ["%s%d,  # bias (decision threshold folded in)" % (indent, model[0]),
             "%s%d, %d,  # gates: min posture change (deg), max stillness (mg)" % (indent, model[1], model[2])]
    rows = model[3:]
    for k in range(0, len(rows), 4):
        idx, w, lo, hi = rows[k:k + 4]
        lines.append("%s%d, %d, %d, %d,  # %s" % (indent, idx, w, lo, hi,
                                                 names.get(idx if idx >= 0 else ~idx, "?")))
    return lines


def write_module(path, model, subjects, rate, params, info, command):
    subs = " ".join(str(s) for s in sorted(subjects))
    kind = info.get("kind")
    experts = isinstance(model[0], (tuple, list))
    lines = [
        "# GENERATED by tools/alertbutton/falls/train.py -- do not edit by hand.",
        "# Command: %s" % command,
        "# %s (second stage of firmware/fall/detector.py)," % (
            {"stumps": "Boosted stumps", "experts": "Logistic model + backward-fall expert"}.get(
                kind, "Logistic model")),
        "# trained on MobiFall v2.0 subjects %s, rate %d Hz," % (subs, rate),
        "# detector parameters %r; %d candidates, %d of them falls." % (
            params, info["candidates"], info["fall_candidates"]),
        "# No figure measured on these subjects with this model is held-out: the held-out estimate is",
        "# `fall-eval --cv loso` (retrained in every fold), see docs/fall-detection.md.",
        "# Integer inference: score = BIAS + one term per row; fall if score >= 0 (and the gates pass).",
        "# Rows: (feature index, weight, lo, hi): w * clip(feature, lo, hi);",
        "#       (~feature index, threshold, if_le, if_gt): a stump.",
    ]
    if experts:
        lines.append("# Two experts: a fall if either scores >= 0 (the second, trained on %s falls "
                     "against activities," % "/".join(info.get("expert_types", ())))
        lines.append("# only fires where it added training falls without alarming activities).")
    lines += [
        "",
        "# fall-eval marks any result on these subjects as not held-out",
        "SUBJECTS = %r" % (tuple(sorted(subjects)),),
        "RATE_HZ = %d" % rate,
        "",
        "MODEL = (",
    ]
    if experts:
        for label, m in zip(("every fall", "backward-fall expert"), model):
            lines.append("    (  # %s" % label)
            lines += _model_lines(m, "        ")
            lines.append("    ),")
    else:
        lines += _model_lines(model, "    ")
    lines.append(")")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
