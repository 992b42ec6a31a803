"""The protocol that cannot fool itself (issue 24): `alertbutton fall-eval MOBIFALL_DIR SISFALL_DIR
--protocol` prints, per dataset and sensor, the nested and the cross-dataset figures of the learnt
detector beside those of the impact + posture + stillness rule, measured in the same run with the
same protocol.

Nested: the subjects of both datasets (a SisFall subject's two sensors are one subject) dealt into
OUTER_FOLDS folds. For each fold, everything chosen from data is chosen again on the other subjects
only: the learnt detector's gates, feature set, model kind, hyper-parameters and threshold by an inner
group k-fold (learn.choose), the rule's four thresholds by its grid (evaluate.TUNE_GRID). The fold's
subjects are then judged with the integer model exported from that fold's scikit-learn fit (its
decisions checked equal to scikit-learn's on every candidate).
Cross-dataset: the same choice made on MobiFall alone, judged on SisFall (both sensors), and on
SisFall alone (both sensors), judged on MobiFall.

A trial's outcome is replayed from the candidates the firmware examines (learn.replay: exact for
"did this trial alarm", hold-off approximated for the alarm count); `fall-eval DIR` runs the real
detector in the VM for the shipped model.
"""
import itertools
import time

import numpy as np

from alertbutton.falls import evaluate, learn

OUTER_FOLDS = 5
SEED = 0
SISFALL_SENSORS = ("mma8451q", "adxl345")


def _rule_accept(X, p):
    return ((X[:, 0] >= p["peak_mg"]) & (X[:, 1] >= p["swing_mg"]) & (X[:, 2] >= p["posture_deg"])
            & (X[:, 3] <= p["still_mg"]))


def choose_rule(cands, train_trials):
    """The rule's thresholds maximising the learnt detector's objective (learn.choose_threshold: per
    dataset, sensitivity - learn.FA_WEIGHT x fraction of activity trials alarmed, summed) on the
    trials whose index is in train_trials (first grid point on ties): the baseline is chosen the
    same way as the model it is compared with."""
    keys = sorted(evaluate.TUNE_GRID)
    is_fall = np.array([t["is_fall"] for t in cands.trials], dtype=bool)
    ds = learn._trial_datasets(cands)
    rows = np.isin(cands.tix, list(train_trials))
    tt = np.zeros(len(cands.trials), dtype=bool)
    tt[list(train_trials)] = True
    best = None
    for combo in itertools.product(*(evaluate.TUNE_GRID[k] for k in keys)):
        p = dict(zip(keys, combo))
        acc = rows & _rule_accept(cands.X, p)
        hit = np.zeros(len(cands.trials), dtype=bool)
        hit[cands.tix[acc]] = True
        score = 0.0
        for d in np.unique(ds[tt]):
            f = tt & is_fall & (ds == d)
            a = tt & ~is_fall & (ds == d)
            if f.any():
                score += 100.0 * (hit & f).sum() / f.sum()
            if a.any():
                score -= 100.0 * learn.FA_WEIGHT * (hit & a).sum() / a.sum()
        score = round(score, 6)
        if best is None or score > best[0]:
            best = (score, p)
    return best[1]


def _trials(cands, keep):
    return set(k for k, t in enumerate(cands.trials) if keep(t))


def _fit_and_judge(cands, train, test, log):
    """Choose and fit on the trials `train`, judge the trials `test`: (model accept mask, rule
    accept mask, details). Both masks are over every candidate; only test's are used."""
    rows = np.isin(cands.tix, list(train))
    t0 = time.time()
    config, thr, table = learn.choose(cands, rows)
    model, est, info = learn.train_final(cands, rows, config, thr)
    # the firmware's integer decision and scikit-learn's, on every candidate of both datasets
    sk = learn.sk_accept(config, est, thr, cands.X)
    fw = learn._int_accept(model, cands.X)
    mismatches = int((sk != fw).sum())
    rule = choose_rule(cands, train)
    log("  chose %s (thr %.4g), rule %s, %d mismatches, %.0f s" % (
        learn.config_name(config), thr, rule, mismatches, time.time() - t0))
    details = {"config": learn.config_name(config), "threshold": thr, "inner_objectives": table,
               "model_rows": len(list(learn._rows(model))), "sklearn_vs_integer_mismatches": mismatches,
               "rule": rule}
    return fw, _rule_accept(cands.X, rule), details, (config, model, est, thr)


def _tables(cands, alarms, rate, keep):
    m = learn.metrics(cands, alarms, rate, keep)
    return m


def _figures(cands, model_alarms, rule_alarms, rate, keep):
    """Per dataset and sensor: the learnt detector's and the rule's metrics, and SisFall without D11."""
    out = {}
    views = [("MobiFall", lambda t: t["dataset"] == "mobifall")]
    for s in SISFALL_SENSORS:
        views.append(("SisFall " + s, lambda t, s=s: t["dataset"] == "sisfall" and t["sensor"] == s))
    for name, view in views:
        sel = lambda t, view=view: keep(t) and view(t)  # noqa: E731
        if not any(sel(t) for t in cands.trials):
            continue
        row = {"model": _tables(cands, model_alarms, rate, sel), "baseline": _tables(cands, rule_alarms, rate, sel)}
        if name.startswith("SisFall"):
            no11 = lambda t, sel=sel: sel(t) and t["code"] != "D11"  # noqa: E731
            for k, al in (("model", model_alarms), ("baseline", rule_alarms)):
                m = _tables(cands, al, rate, no11)
                row[k]["without_D11"] = {"adl_trials": m["adl_trials"], "adl_trials_with_alarm": m["adl_trials_with_alarm"],
                                         "fraction_alarmed": round(m["adl_trials_with_alarm"] / max(1, m["adl_trials"]), 4),
                                         "false_alarms_per_hour": m["false_alarms_per_hour"]}
        out[name] = row
    return out


def load_all(mobifall_dir, sisfall_dir, rate=50, log=None):
    parts = [learn.extract(mobifall_dir, rate)]
    for s in SISFALL_SENSORS:
        parts.append(learn.extract(sisfall_dir, rate, sensor=s))
    return learn.Cands.join(parts)


WAKE_BOOTS_MS = (0, 640, 1000)


def wake_held_out(mobifall_dir, model_of_group, boots=WAKE_BOOTS_MS):
    """Every MobiFall fall through the VM's deep-sleep wake path (alertbutton.energy.fall_wake: 3 s
    still, LIS3DH at its sleep rate, the boot's samples lost but the FIFO's, the saved posture), each
    with the integer model of the outer fold that held its subject out: falls confirmed awake and
    after each boot time, and the falls each boot loses."""
    from alertbutton.energy import fall_wake
    trials = fall_wake.load(mobifall_dir)
    models = {}
    for name, _samples in trials:
        group = "m%d" % int(name.split("_")[1])  # CODE_subject_trial
        if group not in model_of_group:
            raise ValueError("no held-out model for MobiFall subject %s" % group[1:])
        models[name] = model_of_group[group]
    res = fall_wake.run(trials, boot_ms=boots, models=models, timeout=3600)
    s = fall_wake.summary(res, boots)
    return {"falls": len(res), "awake": s["awake"],
            "asleep": dict(("boot %d ms" % b, {"detected": s[b]["detected"], "lost": s[b]["lost"]}) for b in boots)}


def run(mobifall_dir, sisfall_dir, rate=50, log=None, outer=OUTER_FOLDS, wake=False):
    """wake: also every MobiFall fall through the deep-sleep wake path with its held-out model
    (wake_held_out; 50 Hz only)."""
    log = log or (lambda s: None)
    if wake and rate != 50:
        raise ValueError("--wake runs the firmware's wake path, built for 50 Hz: drop --rate")
    cands = load_all(mobifall_dir, sisfall_dir, rate, log)
    groups = sorted(set(t["group"] for t in cands.trials))
    folds = learn.group_folds(groups, outer, SEED)
    n = len(cands.tix)
    model_acc = np.zeros(n, dtype=bool)
    rule_acc = np.zeros(n, dtype=bool)
    fold_info = []
    model_of_group = {}
    for k, fold in enumerate(folds):
        log("outer fold %d/%d: %s" % (k + 1, len(folds), " ".join(sorted(fold))))
        test = _trials(cands, lambda t: t["group"] in fold)
        train = set(range(len(cands.trials))) - test
        fw, rule, details, fitted = _fit_and_judge(cands, train, test, log)
        for g in fold:
            model_of_group[g] = fitted[1]
        m = np.isin(cands.tix, list(test))
        model_acc[m] = fw[m]
        rule_acc[m] = rule[m]
        fold_info.append(dict(details, test_subjects=sorted(fold)))
    nested = _figures(cands, learn.replay(cands, model_acc, rate), learn.replay(cands, rule_acc, rate), rate,
                      lambda t: True)
    cross = {}
    for src, dst in (("mobifall", "sisfall"), ("sisfall", "mobifall")):
        log("cross-dataset: trained on %s, judged on %s" % (src, dst))
        train = _trials(cands, lambda t: t["dataset"] == src)
        test = _trials(cands, lambda t: t["dataset"] == dst)
        fw, rule, details, _ = _fit_and_judge(cands, train, test, log)
        figs = _figures(cands, learn.replay(cands, fw, rate), learn.replay(cands, rule, rate), rate,
                        lambda t, dst=dst: t["dataset"] == dst)
        cross["trained on %s" % src] = dict(figs, choice=details)
    out = {"protocol": "nested group %d-fold by subject over MobiFall + SisFall (inner %d-fold, %d deals), and "
                       "cross-dataset" % (outer, learn.INNER_FOLDS, learn.INNER_REPEATS),
           "rate_hz": rate, "subjects": groups, "nested": nested, "nested_folds": fold_info,
           "cross_dataset": cross}
    if wake:
        log("MobiFall falls from deep sleep, each with its held-out model, in the VM")
        out["nested_wake_mobifall"] = wake_held_out(mobifall_dir, model_of_group)
    return out


def ship(mobifall_dir, sisfall_dir, out_path, command, rate=50, log=None):
    """The shipped model: the design chosen and fitted on every subject of both datasets, written
    as firmware/fall/model.py."""
    log = log or (lambda s: None)
    cands = load_all(mobifall_dir, sisfall_dir, rate, log)
    everyone = set(range(len(cands.trials)))
    _fw, _rule, details, (config, model, est, thr) = _fit_and_judge(cands, everyone, everyone, log)
    if details["sklearn_vs_integer_mismatches"]:
        raise ValueError("the integer model differs from scikit-learn on %d candidates"
                         % details["sklearn_vs_integer_mismatches"])
    mob = sorted(set(t["subject"] for t in cands.trials if t["dataset"] == "mobifall"))
    sis = sorted(set(t["subject"] for t in cands.trials if t["dataset"] == "sisfall"))
    write_module(out_path, model, config, thr, mob, sis, rate, command, len(cands.tix),
                 int((cands.label == 1).sum()))
    return dict(details, written=out_path, model=list(model), candidates=len(cands.tix))


def write_module(path, model, config, thr, mob, sis, rate, command, n_cands, n_falls):
    import sklearn
    lines = [
        "# GENERATED by tools/alertbutton/falls/protocol.py (ship) -- do not edit by hand.",
        "# Command: %s" % command,
        "# scikit-learn %s: %s, threshold %.6g on its %s, chosen by group %d-fold by subject (%d deals)" % (
            sklearn.__version__, learn.config_name(config), thr,
            "probability" if config["kind"] == "forest" else "decision function", learn.INNER_FOLDS,
            learn.INNER_REPEATS),
        "# over the candidates of MobiFall v2.0 subjects %s" % " ".join(str(s) for s in mob),
        "# and SisFall subjects %s (both accelerometers), %d Hz;" % (" ".join(sis), rate),
        "# %d candidates, %d of them falls. Exported to integers whose decisions equal scikit-learn's on" % (
            n_cands, n_falls),
        "# every one of them (learn.export; tests/host/test_fall_learn.py). No figure measured on these",
        "# subjects with this model is held-out: the estimates are `fall-eval --protocol` (docs/fall-detection.md).",
        "# Integer inference: score = BIAS + one term per row; fall if score >= 0 and the gates pass.",
        "# Rows: (feature index, weight, lo, hi): w * clip(feature, lo, hi);",
        "#       (~feature index, threshold, if_le, if_gt): a stump;",
        "#       (TREE - feature index, threshold, feature if <=, its threshold, feature if >, its threshold,",
        "#        4 leaves, 0, 0): a depth-2 tree (TREE = %d, firmware/fall/detector.py)." % learn.TREE,
        "",
        "# fall-eval marks any result on these subjects as not held-out",
        "SUBJECTS = %r  # MobiFall" % (tuple(mob),),
        "SISFALL_SUBJECTS = %r" % (tuple(sis),),
        "RATE_HZ = %d" % rate,
        "",
        "MODEL = (",
        "    %d,  # bias (decision threshold folded in)" % model[0],
        "    %d, %d,  # gates: min posture change (deg), max stillness (mg)" % (model[1], model[2]),
    ]
    for k, kind in learn._rows(model):
        j = model[k]
        if kind == "tree":
            f = (learn.TREE - j, model[k + 2], model[k + 4])
            lines.append("    %s,  # tree: %s, %s, %s" % (", ".join("%d" % v for v in model[k:k + 12]),
                                                     *(learn.NAMES[i] for i in f)))
        else:
            lines.append("    %d, %d, %d, %d,  # %s" % (tuple(model[k:k + 4]) + (learn.NAMES[j if j >= 0 else ~j],)))
    lines.append(")")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
