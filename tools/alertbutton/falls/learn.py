"""The fall detector's second stage trained with scikit-learn (host only: the `train` extra) and
exported to the integer model the firmware runs (firmware/fall/detector.py, FallDetector(model=...)).

    extract(root, rate, ...)       every candidate the firmware examines, with its 14 integer features,
                                   cached on disk outside the repository (cache_dir())
    CONFIGS                        the candidate designs: gates x model kind x hyper-parameters
    fit(config, cands, rows)       one scikit-learn estimator on the gated, labelled candidates
    export(config, est, thr, ...)  the integer model whose decisions are exactly sklearn's
                                   (decision >= thr) on every candidate given, or ValueError
    choose(cands, rows)            config and threshold picked by inner group k-fold, repeated (nested use)

Kinds: "logistic" (LogisticRegression on clipped, standardised features: linear rows), "stumps"
(GradientBoostingClassifier, max_depth 1: stump rows), "forest" (RandomForestClassifier, max_depth 1:
stump rows), "trees" (GradientBoostingClassifier, max_depth 2: tree rows). The firmware's integer
model is one bias, two gates (min posture change, max stillness) and rows: (feature, weight, lo, hi)
adds weight x clip(feature, lo, hi); (~feature, threshold, if_le, if_gt) adds one of two ints;
(TREE - feature, threshold, feature_le, threshold_le, feature_gt, threshold_gt, 4 leaves, 0, 0) adds
the leaf its two comparisons reach. Exactness: the export scales to small ints and then
moves the integer bias into the gap between the candidates sklearn accepts and those it refuses; a
model for which no such gap exists at the largest scale is refused (never shipped approximate).

Labels (as train.py): in a fall trial the candidate whose impact peak is within 1 s of the data's
impact (its peak |a|) is the fall, other candidates of that trial are left out of training (they still
count at evaluation: a fall trial is detected if any candidate fires); every candidate of an activity
trial is a non-fall.
"""
import hashlib
import json
import os

import numpy as np

from alertbutton.falls import evaluate, mobifall, sisfall

N_FEATURES = 14
NAMES = ("peak", "swing", "posture", "still", "dip", "drop", "area", "post", "long", "nimp",
         "rotpre", "rotpath", "over", "vvel")
# clip range of each feature for the linear rows (keeps every product a small int on a 32-bit port)
CLIP = ((1000, 8000), (0, 4000), (0, 180), (0, 400), (0, 1000), (0, 4000), (0, 4000), (0, 1000), (0, 180),
        (0, 20), (0, 180), (0, 2000), (-180, 180), (0, 2000))
FEATURE_SETS = {
    "base": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),  # levels, posture, impacts
    "all": tuple(range(N_FEATURES)),  # + the rotation features (computed only if a gate lets through)
}
GATES = ((0, 16000), (10, 300), (20, 200), (30, 150))  # (min posture change deg, max stillness mg)
# threshold objective, per dataset in percentage points, summed over the datasets:
# sensitivity - FA_WEIGHT x fraction of activity trials alarmed (choose_threshold; 3 until the
# second design of issue 24, on pooled counts: docs/fall-detection.md, the log of attempts)
FA_WEIGHT = 2
SCORE_BITS = 28  # |score| < 2**28: small ints on a 32-bit MicroPython (the firmware checks 2**29)
INNER_FOLDS = 3
INNER_REPEATS = 3  # deals of the subjects into the inner folds, averaged (choose)
TREE = evaluate.detector_module().TREE  # a model row whose first int is at or below it is a depth-2 tree
LEAF_THR = 1 << 28  # a tree's child that is a leaf: a split no feature value exceeds (both leaves equal)


def _configs():
    out = []
    for gates in GATES:
        for fs in ("base", "all"):
            for c in (0.1, 1.0):
                out.append({"gates": gates, "kind": "logistic", "features": fs, "C": c})
        out.append({"gates": gates, "kind": "stumps", "features": "all", "n": 40, "lr": 0.2})
        out.append({"gates": gates, "kind": "stumps", "features": "all", "n": 80, "lr": 0.1})
        out.append({"gates": gates, "kind": "forest", "features": "all", "n": 60})
        for leaf in (20, 50):  # depth 2: a split may depend on another (e.g. a soft impact, then lying still)
            out.append({"gates": gates, "kind": "trees", "features": "all", "n": 60, "lr": 0.1, "leaf": leaf})
    return out


CONFIGS = _configs()


def config_name(c):
    if c["kind"] == "logistic":
        extra = "C=%g" % c["C"]
    elif c["kind"] == "stumps":
        extra = "n=%d lr=%g" % (c["n"], c["lr"])
    elif c["kind"] == "trees":
        extra = "n=%d lr=%g leaf=%d" % (c["n"], c["lr"], c["leaf"])
    else:
        extra = "n=%d" % c["n"]
    return "%s/%s %s gates=%d,%d" % (c["kind"], c["features"], extra, c["gates"][0], c["gates"][1])


# -- candidates ---------------------------------------------------------------------------------
def cache_dir():
    base = os.environ.get("ALERTBUTTON_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "alertbutton")
    return os.path.join(base, "fall-candidates")


def _detector_digest():
    fd = evaluate.detector_module()
    with open(fd.__file__.replace(".pyc", ".py"), "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()[:16]


class Cands:
    """Candidates of many trials as numpy arrays, and the trials (light: no samples kept).
    trial[k]: dict(dataset, sensor, subject, group, code, is_fall, name, n_real, impact)."""

    def __init__(self, trials, tix, label, feats, impact_n, decided_n):
        self.trials = trials
        self.tix = np.asarray(tix, dtype=np.int64)
        self.label = np.asarray(label, dtype=np.int64)  # 1 fall, 0 non-fall, -1 left out
        self.X = np.asarray(feats, dtype=np.int64).reshape(-1, N_FEATURES)
        self.impact_n = np.asarray(impact_n, dtype=np.int64)
        self.decided_n = np.asarray(decided_n, dtype=np.int64)

    @staticmethod
    def join(parts):
        trials, tix, lab, X, imp, dec = [], [], [], [], [], []
        for p in parts:
            off = len(trials)
            trials += p.trials
            tix.append(p.tix + off)
            lab.append(p.label)
            X.append(p.X)
            imp.append(p.impact_n)
            dec.append(p.decided_n)
        cat = lambda a: np.concatenate(a) if a else np.zeros(0, dtype=np.int64)  # noqa: E731
        return Cands(trials, cat(tix), cat(lab), np.concatenate(X) if X else np.zeros((0, N_FEATURES)),
                     cat(imp), cat(dec))

    def select_trials(self, keep):
        """Candidates (and trials, renumbered) of the trials for which keep(trial dict) is true."""
        ids = [k for k, t in enumerate(self.trials) if keep(t)]
        new = dict((k, j) for j, k in enumerate(ids))
        m = np.array([t in new for t in self.tix.tolist()], dtype=bool)
        return Cands([self.trials[k] for k in ids], [new[t] for t in self.tix[m].tolist()], self.label[m],
                     self.X[m], self.impact_n[m], self.decided_n[m])


def _group(dataset, subject):
    return ("m%d" % subject) if dataset == "mobifall" else str(subject)


def _extract_loaded(loaded, rate, dataset, sensor):
    from alertbutton.falls import train as fall_train
    decided = []
    raw = fall_train.candidates(loaded, rate, {}, decided=decided)
    trials = [{"dataset": dataset, "sensor": sensor, "subject": ld.trial.subject,
               "group": _group(dataset, ld.trial.subject), "code": ld.trial.code, "is_fall": ld.trial.is_fall,
               "name": os.path.basename(ld.trial.path), "n_real": ld.n_real, "impact": ld.impact}
              for ld in loaded]
    return {"trials": trials, "tix": [c[0] for c in raw], "label": [-1 if c[2] is None else c[2] for c in raw],
            "X": [list(c[3]) for c in raw], "impact_n": [c[1] for c in raw], "decided_n": decided}


def extract(root, rate=50, sensor=None, pad_s=3.0, progress=None):
    """Every candidate of every trial under root (MobiFall or SisFall layout), per subject, from the
    cache when the detector's source, the files and the settings are unchanged."""
    dataset = evaluate.dataset_of(root)
    if dataset == "sisfall":
        sensor = sisfall.sensor_name(sensor or sisfall.DEFAULT_SENSOR)
        subjects = sisfall.subjects_in(root)
    else:
        if sensor is not None:
            raise ValueError("MobiFall has one accelerometer: no sensor to choose")
        subjects = sorted(set(t.subject for t in mobifall.list_trials(root)))
    digest = _detector_digest()
    parts = []
    for s in subjects:
        if dataset == "sisfall":
            files = [t.path for t in sisfall.list_trials(root, subjects={s}, sensor=sensor)]
        else:
            files = [t.path for t in mobifall.list_trials(root, subjects={s})]
        h = hashlib.sha1(("%s %s %s %s %d %r" % (digest, dataset, sensor, s, rate, pad_s)).encode())
        for p in files:
            st = os.stat(p)
            h.update(("%s %d %d" % (p, st.st_size, int(st.st_mtime))).encode())
        path = os.path.join(cache_dir(), "%s-%s-%s-%s.json" % (dataset, sensor or "acc", s, h.hexdigest()[:16]))
        if os.path.exists(path):
            with open(path) as f:
                d = json.load(f)
        else:
            loaded = evaluate.load(root, rate, {s}, pad_s, sensor=sensor if dataset == "sisfall" else None)
            d = _extract_loaded(loaded, rate, dataset, sensor)
            del loaded
            os.makedirs(cache_dir(), exist_ok=True)
            with open(path + ".tmp", "w") as f:
                json.dump(d, f)
            os.replace(path + ".tmp", path)
        if progress:
            progress("%s %s %s: %d trials, %d candidates" % (dataset, sensor or "", s, len(d["trials"]), len(d["tix"])))
        parts.append(Cands(d["trials"], d["tix"], d["label"], d["X"], d["impact_n"], d["decided_n"]))
    return Cands.join(parts)


# -- fitting and export -------------------------------------------------------------------------
def _gated(config, X):
    g = config["gates"]
    return (X[:, 2] >= g[0]) & (X[:, 3] <= g[1])


def _design(config, X):
    cols = FEATURE_SETS[config["features"]]
    Z = X[:, cols].astype(np.float64)
    if config["kind"] == "logistic":
        lo = np.array([CLIP[c][0] for c in cols], dtype=np.float64)
        hi = np.array([CLIP[c][1] for c in cols], dtype=np.float64)
        Z = np.clip(Z, lo, hi)
    return Z


def _balanced(y, dataset=None):
    """Sample weights giving each (dataset, class) cell present an equal share of the total weight:
    MobiFall's 216 falls weigh as much as SisFall's 2,400 fall candidates (two sensors), so the fit
    is not a SisFall model that MobiFall happens to share. dataset None: one dataset."""
    y = np.asarray(y)
    ds = np.zeros(len(y), dtype=np.int64) if dataset is None else np.asarray(dataset)
    cells = [(d, c) for d in np.unique(ds) for c in (0, 1) if ((ds == d) & (y == c)).any()]
    w = np.zeros(len(y), dtype=np.float64)
    for d, c in cells:
        m = (ds == d) & (y == c)
        w[m] = len(y) / (len(cells) * float(m.sum()))
    return w


def _datasets_of(cands):
    """Per candidate: 0 for SisFall, 1 for MobiFall (the trial's dataset)."""
    return np.array([1 if cands.trials[t]["dataset"] == "mobifall" else 0 for t in cands.tix.tolist()],
                    dtype=np.int64)


def _trial_datasets(cands):
    return np.array([1 if t["dataset"] == "mobifall" else 0 for t in cands.trials], dtype=np.int64)


def fit(config, cands, rows):
    """sklearn estimator of `config` on the gated, labelled candidates among `rows` (bool mask)."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    m = rows & _gated(config, cands.X) & (cands.label >= 0)
    y = cands.label[m]
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError("need fall and non-fall candidates to train (%d candidates)" % len(y))
    Z = _design(config, cands.X[m])
    w = _balanced(y, _datasets_of(cands)[m])
    if config["kind"] == "logistic":
        est = make_pipeline(StandardScaler(), LogisticRegression(C=config["C"], max_iter=2000))
        est.fit(Z, y, logisticregression__sample_weight=w)
    elif config["kind"] == "stumps":
        est = GradientBoostingClassifier(n_estimators=config["n"], learning_rate=config["lr"], max_depth=1,
                                         random_state=0)
        est.fit(Z, y, sample_weight=w)
    elif config["kind"] == "trees":
        est = GradientBoostingClassifier(n_estimators=config["n"], learning_rate=config["lr"], max_depth=2,
                                         min_samples_leaf=config["leaf"], random_state=0)
        est.fit(Z, y, sample_weight=w)
    elif config["kind"] == "forest":
        est = RandomForestClassifier(n_estimators=config["n"], max_depth=1, random_state=0, n_jobs=1)
        est.fit(Z, y, sample_weight=w)
    else:
        raise ValueError("unknown kind %r" % config["kind"])
    return est


def decision(config, est, X):
    """sklearn's own score of each candidate (decision_function, or the forest's probability)."""
    Z = _design(config, X)
    if config["kind"] == "forest":
        return est.predict_proba(Z)[:, 1]
    return est.decision_function(Z)


def sk_accept(config, est, thr, X):
    """The decision taken with scikit-learn: gates pass and its score >= thr."""
    return _gated(config, X) & (decision(config, est, X) >= thr)


def _float_rows(config, est):
    """(bias, [(feature, w) linear] or [(feature, threshold, if_le, if_gt) stumps]) in float: the
    sklearn model written as the firmware's sum."""
    cols = FEATURE_SETS[config["features"]]
    if config["kind"] == "logistic":
        sc, lr = est.steps[0][1], est.steps[1][1]
        w = lr.coef_[0] / sc.scale_
        b = float(lr.intercept_[0] - np.dot(w, sc.mean_))
        return b, [(cols[j], float(w[j])) for j in range(len(cols))]
    if config["kind"] == "trees":
        return _float_trees(est, len(cols), cols)
    rows = []
    if config["kind"] == "stumps":
        trees = [e[0] for e in est.estimators_]
        scale = est.learning_rate
        bias = float(est.decision_function(np.zeros((1, len(cols))))[0])  # init + every tree's value at 0
        for t in trees:
            tr = t.tree_
            bias -= scale * float(tr.value[tr.apply(np.zeros((1, len(cols)), dtype=np.float32))[0]][0][0])
    else:  # forest: mean of each tree's P(fall)
        trees = est.estimators_
        scale = 1.0 / len(trees)
        bias = 0.0
    for t in trees:
        tr = t.tree_
        if tr.node_count == 1:  # no split: a constant
            v = tr.value[0][0]
            bias += scale * float(v[0] if config["kind"] == "stumps" else v[1] / v.sum())
            continue
        left, right = tr.children_left[0], tr.children_right[0]
        if config["kind"] == "stumps":
            vl, vr = float(tr.value[left][0][0]), float(tr.value[right][0][0])
        else:
            vl = float(tr.value[left][0][1] / tr.value[left][0].sum())
            vr = float(tr.value[right][0][1] / tr.value[right][0].sum())
        # sklearn compares float32(x) <= threshold: for integer features that is x <= floor(threshold)
        rows.append((cols[tr.feature[0]], int(np.floor(tr.threshold[0])), scale * vl, scale * vr))
    return bias, rows


def _float_trees(est, ncols, cols):
    """Boosted depth-2 trees as (bias, [("tree", f, t, f_le, t_le, f_gt, t_gt, v_ll, v_lr, v_rl, v_rr)]):
    a child that is a leaf becomes a split that always goes left (threshold LEAF_THR, both leaves
    equal), so every tree has the firmware's one shape."""
    scale = est.learning_rate
    zero = np.zeros((1, ncols), dtype=np.float32)
    bias = float(est.decision_function(zero.astype(np.float64))[0])
    rows = []
    for e in est.estimators_:
        tr = e[0].tree_
        bias -= scale * float(tr.value[tr.apply(zero)[0]][0][0])
        if tr.node_count == 1:
            bias += scale * float(tr.value[0][0][0])
            continue
        out = ["tree", cols[tr.feature[0]], int(np.floor(tr.threshold[0]))]
        leaves = []
        for c in (tr.children_left[0], tr.children_right[0]):
            if tr.children_left[c] == -1:
                out += [cols[0], LEAF_THR]
                leaves += [scale * float(tr.value[c][0][0])] * 2
            else:
                if tr.children_left[tr.children_left[c]] != -1 or tr.children_left[tr.children_right[c]] != -1:
                    raise ValueError("trees deeper than 2 have no firmware row")
                out += [cols[tr.feature[c]], int(np.floor(tr.threshold[c]))]
                leaves += [scale * float(tr.value[tr.children_left[c]][0][0]),
                           scale * float(tr.value[tr.children_right[c]][0][0])]
        rows.append(tuple(out + leaves))
    return bias, rows


_rows = evaluate.detector_module().rows  # (start, kind) of each row: the firmware's own walk


def int_score(model, X):
    """The firmware's score (FallDetector._score1) of every row of X, numpy int64."""
    s = np.full(len(X), model[0], dtype=np.int64)
    for k, kind in _rows(model):
        j, a, b, c = model[k:k + 4]
        if kind == "tree":
            f1, t1, f2, t2 = model[k + 2:k + 6]
            ll, lr, rl, rr = model[k + 6:k + 10]
            s += np.where(X[:, TREE - j] <= a, np.where(X[:, f1] <= t1, ll, lr), np.where(X[:, f2] <= t2, rl, rr))
        elif kind == "stump":
            s += np.where(X[:, ~j] <= a, b, c)
        else:
            s += a * np.clip(X[:, j], b, c)
    return s


def _int_accept(model, X):
    return (X[:, 2] >= model[1]) & (X[:, 3] <= model[2]) & (int_score(model, X) >= 0)


def _bound(model):
    b = abs(model[0])
    for k, kind in _rows(model):
        j, a, lo, hi = model[k:k + 4]
        if kind == "tree":
            b += max(abs(v) for v in model[k + 6:k + 10])
        else:
            b += max(abs(lo), abs(hi)) if kind == "stump" else abs(a) * max(abs(lo), abs(hi))
    return b


def export(config, est, thr, X):
    """Integer model (bias, min_posture, max_still, rows...) taking exactly sklearn's decisions
    (sk_accept) on every candidate of X. Raises ValueError if none can be found."""
    b, rows = _float_rows(config, est)
    gates = config["gates"]
    want = sk_accept(config, est, thr, X)
    inside = _gated(config, X)
    sk = decision(config, est, X)
    if config["kind"] == "logistic":
        span = abs(b - thr) + sum(abs(w) * max(abs(CLIP[j][0]), abs(CLIP[j][1])) for j, w in rows)
    elif config["kind"] == "trees":
        span = abs(b - thr) + sum(max(abs(v) for v in r[7:]) for r in rows)
    else:
        span = abs(b - thr) + sum(max(abs(vl), abs(vr)) for _j, _t, vl, vr in rows)
    for bits in range(SCORE_BITS, SCORE_BITS - 12, -1):  # the finest scale that is exact
        S = (1 << bits) / max(span, 1e-12) / 2.0
        if config["kind"] == "logistic":
            body = []
            for j, w in rows:
                body += [j, int(round(w * S)), CLIP[j][0], CLIP[j][1]]
        elif config["kind"] == "trees":
            body = []
            for r in rows:
                body += [TREE - r[1]] + list(r[2:7]) + [int(round(v * S)) for v in r[7:]] + [0, 0]
        else:
            body = []
            for j, t, vl, vr in rows:
                body += [~j, t, int(round(vl * S)), int(round(vr * S))]
        m0 = tuple([0, gates[0], gates[1]] + body)
        s0 = int_score(m0, X)
        acc, rej = s0[inside & want], s0[inside & ~want]
        lo = int(acc.min()) if len(acc) else None  # need s0 + B >= 0 for accepted: B >= -lo
        hi = int(rej.max()) if len(rej) else None  # and s0 + B < 0 for refused: B < -hi
        if lo is not None and hi is not None and hi >= lo:
            continue  # the rounding mixed them up: a finer scale
        nominal = int(round((b - thr) * S))
        low_b = -lo if lo is not None else None
        high_b = -hi - 1 if hi is not None else None
        B = nominal
        if low_b is not None and B < low_b:
            B = low_b
        if high_b is not None and B > high_b:
            B = high_b
        model = tuple([B, gates[0], gates[1]] + body)
        if _bound(model) >= 1 << (SCORE_BITS + 1):
            continue
        if np.array_equal(_int_accept(model, X), want):
            return model, {"scale": S, "float_bias": b - thr, "bias_moved": B - nominal,
                           "min_margin": float(np.min(np.abs(sk[inside] - thr))) if inside.any() else None}
    raise ValueError("no integer model reproduces %s exactly on these candidates" % config_name(config))


# -- threshold, trial-level replay, nested choice -----------------------------------------------
def trial_best(cands, acc_score, gated):
    """Per trial: the best score among its gated candidates (-inf if none)."""
    best = np.full(len(cands.trials), -np.inf)
    m = gated
    np.maximum.at(best, cands.tix[m], acc_score[m])
    return best


def choose_threshold(best, is_fall, fa_weight=FA_WEIGHT, dataset=None):
    """(objective, thr) from the trials' best scores, maximising the sum over the datasets present of
    (sensitivity - fa_weight x fraction of activity trials alarmed), in percentage points: each
    dataset counts for its rates, not for its number of trials (SisFall's 2,400 fall trials would
    otherwise place MobiFall's threshold). dataset: per trial (None: one dataset). Ties: the
    highest, then halfway down to the next lower score (a margin)."""
    vals = np.unique(best[np.isfinite(best)])
    if not len(vals):
        return -1e9, 0.0
    ds = np.zeros(len(best), dtype=np.int64) if dataset is None else np.asarray(dataset)
    obj = np.zeros(len(vals))
    for d in np.unique(ds):
        f = np.sort(best[is_fall & (ds == d)])
        a = np.sort(best[~is_fall & (ds == d)])
        if len(f):
            obj += 100.0 * (len(f) - np.searchsorted(f, vals, side="left")) / len(f)
        if len(a):
            obj -= 100.0 * fa_weight * (len(a) - np.searchsorted(a, vals, side="left")) / len(a)
    obj = np.round(obj, 6)  # ties between equal sums computed in another order
    k = int(np.flatnonzero(obj == obj.max())[-1])
    thr = float(vals[k])
    if k > 0:
        thr = thr - (thr - float(vals[k - 1])) / 2.0
    else:
        thr = thr - 1e-3 * max(1.0, abs(thr))
    return float(obj[k]), thr


def _is_fall(cands):
    return np.array([t["is_fall"] for t in cands.trials], dtype=bool)


def _groups_of(cands):
    return np.array([cands.trials[t]["group"] for t in cands.tix.tolist()])


def group_folds(groups, k, seed=0):
    """Groups (subjects) dealt into k folds: sorted, shuffled with a fixed seed, round robin."""
    g = sorted(set(groups))
    rng = np.random.RandomState(seed)
    rng.shuffle(g)
    return [set(g[i::k]) for i in range(k)]


def oof_objective(config, cands, rows, folds):
    """Out-of-fold trial scores of config over the inner folds (within rows): (objective, thr)."""
    grp = _groups_of(cands)
    score = np.full(len(cands.tix), -np.inf)
    for fold in folds:
        infold = np.isin(grp, list(fold))
        est = fit(config, cands, rows & ~infold)
        m = rows & infold
        score[m] = decision(config, est, cands.X[m])
    gated = rows & _gated(config, cands.X) & np.isfinite(score)
    best = trial_best(cands, score, gated)
    in_rows = np.zeros(len(cands.trials), dtype=bool)
    in_rows[cands.tix[rows]] = True
    # trials of rows without any gated candidate never alarm: keep them at -inf
    is_fall = _is_fall(cands)
    keep = in_rows
    return choose_threshold(best[keep], is_fall[keep], dataset=_trial_datasets(cands)[keep])


def choose(cands, rows, configs=None, folds=INNER_FOLDS, repeats=INNER_REPEATS, log=None):
    """(config, thr, table) chosen by inner group k-fold on the subjects of rows, repeated with
    `repeats` deals of the subjects into folds: the config with the best out-of-fold objective
    averaged over the deals (first in CONFIGS on ties), the median of its out-of-fold thresholds.
    One deal of ~33 subjects into 3 folds moves a config's objective by about as much as the
    configs differ, so a single deal picked its gates and kind nearly at random (log of attempts)."""
    grp = _groups_of(cands)
    deals = [group_folds(grp[rows].tolist(), folds, seed) for seed in range(repeats)]
    table = []
    best = None
    for c in configs or CONFIGS:
        try:
            res = [oof_objective(c, cands, rows, inner) for inner in deals]
        except ValueError:
            continue
        obj = round(float(np.mean([o for o, _t in res])), 6)
        thr = float(np.median([t for _o, t in res]))
        table.append((config_name(c), obj))
        if log:
            log("  %-45s objective %.2f" % (config_name(c), obj))
        if best is None or obj > best[0]:
            best = (obj, c, thr)
    if best is None:
        raise ValueError("no configuration could be trained on these subjects")
    return best[1], best[2], table


def train_final(cands, rows, config, thr):
    """Refit config on rows, export: (integer model, estimator, export info)."""
    est = fit(config, cands, rows)
    model, info = export(config, est, thr, cands.X)
    return model, est, info


def replay(cands, accept, rate, holdoff_s=10.0):
    """Alarms per trial [(decision sample, impact sample)] from accepted candidates, as the firmware
    takes them: the first accepted candidate of a trial alarms (exact: the candidates before it are
    the same with or without a confirmation), later ones only after the hold-off."""
    alarms = [[] for _ in cands.trials]
    hold = int(holdoff_s * rate)
    last = {}
    order = np.lexsort((cands.impact_n, cands.tix))
    for k in order.tolist():
        if not accept[k]:
            continue
        t = int(cands.tix[k])
        if t in last and cands.impact_n[k] <= last[t] + hold:
            continue
        last[t] = int(cands.decided_n[k])
        alarms[t].append((int(cands.decided_n[k]), int(cands.impact_n[k])))
    return alarms


class _Light:
    """What evaluate.metrics reads of a loaded trial."""

    class _T:
        def __init__(self, d):
            self.path = d["name"]
            self.code = d["code"]
            self.is_fall = d["is_fall"]
            self.subject = d["subject"]

    def __init__(self, d):
        self.trial = self._T(d)
        self.n_real = d["n_real"]
        self.impact = d["impact"]


def metrics(cands, alarms, rate, keep=None):
    """evaluate.metrics over the trials for which keep(trial dict) is true (all if None)."""
    ids = [k for k, t in enumerate(cands.trials) if keep is None or keep(t)]
    return evaluate.metrics([_Light(cands.trials[k]) for k in ids], [alarms[k] for k in ids], rate)


# -- the firmware's own decision, in the VM ----------------------------------------------------------
_VM_ACCEPT = r"""
import sys, array
from firmware.fall.detector import FallDetector
with open(sys.argv[1]) as f:
    models = eval(f.read())
with open(sys.argv[2], "rb") as f:
    X = array.array("i", f.read())
n = len(X) // 14
f = array.array("i", [0] * 14)
for m in models:
    det = FallDetector(model=m)
    out = bytearray(n)
    for r in range(n):
        for j in range(14):
            f[j] = X[14 * r + j]
        out[r] = 49 if det.accept(f) else 48
    print(out.decode())
"""


def vm_accept(models, X, timeout=600):
    """FallDetector(model=m).accept(features) run in the MicroPython VM for every model and every row
    of X: a bool array per model (the firmware's integer inference itself, not a host replica)."""
    import tempfile
    from alertbutton import vm
    X = np.asarray(X, dtype=np.int32).reshape(-1, N_FEATURES)
    with tempfile.TemporaryDirectory(prefix="fall-accept-") as tmp:
        mp, xp, sp = (os.path.join(tmp, n) for n in ("models.txt", "x.bin", "accept.py"))
        with open(mp, "w") as f:
            f.write(repr([tuple(int(v) for v in m) for m in models]))
        with open(xp, "wb") as f:
            f.write(X.astype("<i4").tobytes())
        with open(sp, "w") as f:
            f.write(_VM_ACCEPT)
        proc = vm.run(script=sp, args=(mp, xp), heapsize="8M", timeout=timeout, cwd=tmp)
    if proc.returncode != 0:
        raise RuntimeError("VM failed (%d): %s" % (proc.returncode, (proc.stderr or proc.stdout)[-2000:]))
    lines = proc.stdout.split()
    if len(lines) != len(models) or any(len(s) != len(X) for s in lines):
        raise RuntimeError("VM answered %d lines for %d models" % (len(lines), len(models)))
    return [np.frombuffer(s.encode(), dtype=np.uint8) == 49 for s in lines]
