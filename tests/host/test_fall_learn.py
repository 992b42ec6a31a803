"""The second stage trained with scikit-learn and exported to integers (issue 24 item 2): the
firmware's integer inference, run in the MicroPython VM (FallDetector.accept), takes exactly
scikit-learn's decision on every candidate, for every candidate design the protocol may choose
(learn.CONFIGS: each gate setting, feature set, model kind and hyper-parameter). Candidates: those the
firmware examines in the committed MobiFall excerpt, and synthetic feature vectors spread over the
features' whole ranges. Plus the replay the protocol judges trials with, against the detector itself."""
import os

import numpy as np
import pytest

from alertbutton.falls import evaluate, learn

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mobifall")
BACKWARD = os.path.join(os.path.dirname(DATA), "mobifall_backward")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    os.environ["ALERTBUTTON_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        return learn.Cands.join([learn.extract(DATA), learn.extract(BACKWARD)])
    finally:
        del os.environ["ALERTBUTTON_CACHE"]


def synthetic(n=1200, seed=5):
    """Candidates with every feature spread over (and past) its clip range; labels from a noisy
    rule on a few of them, so that every kind learns something. One trial and subject per 10."""
    rng = np.random.RandomState(seed)
    X = np.zeros((n, learn.N_FEATURES), dtype=np.int64)
    for j, (lo, hi) in enumerate(learn.CLIP):
        span = hi - lo
        X[:, j] = rng.randint(lo - span // 10, hi + span // 10 + 1, size=n)
    z = (X[:, 0] - 2500) / 800.0 + (X[:, 2] - 60) / 30.0 - (X[:, 3] - 100) / 60.0 + rng.normal(0, 1, n)
    label = (z > 0).astype(np.int64)
    trials = [{"dataset": "mobifall", "sensor": None, "subject": k % 7, "group": "m%d" % (k % 7), "code": "X",
               "is_fall": bool(label[k]), "name": "t%d" % k, "n_real": 500, "impact": 100} for k in range(n)]
    return learn.Cands(trials, list(range(n)), label, X, [100] * n, [225] * n)


def test_every_design_exports_the_decisions_of_scikit_learn_exactly(real):
    syn = synthetic()
    cands = learn.Cands.join([real, syn])
    assert (cands.label == 1).sum() > 100 and (cands.label == 0).sum() > 100
    rows = np.ones(len(cands.tix), dtype=bool)
    models, wants = [], []
    for config in learn.CONFIGS:
        est = learn.fit(config, cands, rows)
        sk = learn.decision(config, est, cands.X)
        gated = learn._gated(config, cands.X)
        thr = float(np.quantile(sk[gated], 0.6))  # a threshold with candidates on both sides
        model, info = learn.export(config, est, thr, cands.X)
        want = learn.sk_accept(config, est, thr, cands.X)
        assert 0 < want.sum() < len(want), learn.config_name(config)
        assert learn._bound(model) < 1 << 29  # small ints on a 32-bit port (the firmware checks it)
        models.append(model)
        wants.append(want)
    got = learn.vm_accept(models, cands.X)
    for config, model, want, g in zip(learn.CONFIGS, models, wants, got):
        bad = np.flatnonzero(want != g)
        assert not len(bad), (learn.config_name(config), len(bad), cands.X[bad[:3]].tolist())


def test_linear_rows_and_stumps_are_what_the_firmware_reads(real):
    # a logistic design gives linear rows (feature, w, lo, hi) over its feature set; boosted stumps
    # and the forest give stump rows (~feature, threshold, if_le, if_gt)
    cands = learn.Cands.join([real, synthetic()])
    rows = np.ones(len(cands.tix), dtype=bool)
    # and boosted depth-2 trees give tree rows (TREE - feature, ..., 4 leaves, 0, 0)
    kinds = set()
    for config in learn.CONFIGS:
        if config["gates"] != learn.CONFIGS[0]["gates"]:
            continue
        kinds.add(config["kind"])
        est = learn.fit(config, cands, rows)
        model, _ = learn.export(config, est, 0.0 if config["kind"] != "forest" else 0.5, cands.X)
        assert tuple(model[1:3]) == config["gates"]
        rows_ = list(learn._rows(model))
        idx = [model[k] for k, _kind in rows_]
        if config["kind"] == "logistic":
            assert list(idx) == list(learn.FEATURE_SETS[config["features"]])
            assert set(kind for _k, kind in rows_) == {"linear"}
        elif config["kind"] == "trees":
            assert set(kind for _k, kind in rows_) == {"tree"} and len(idx) <= config["n"]
            assert all(model[k + 10] == model[k + 11] == 0 for k, _kind in rows_)
            assert all(0 <= learn.TREE - j < learn.N_FEATURES for j in idx)
        else:
            assert set(kind for _k, kind in rows_) == {"stump"} and len(idx) <= config["n"]
    assert kinds == {"logistic", "stumps", "forest", "trees"}


def test_replay_takes_the_detectors_decisions(real):
    # the protocol judges a trial from its candidates (learn.replay); the firmware detector run over
    # the same trials with the same integer model alarms on exactly the same trials, at the same
    # first decision
    config = {"gates": (20, 200), "kind": "logistic", "features": "base", "C": 1.0}
    rows = np.ones(len(real.tix), dtype=bool)
    est = learn.fit(config, real, rows)
    sk = learn.decision(config, est, real.X)
    thr = float(np.quantile(sk, 0.5))
    model, _ = learn.export(config, est, thr, real.X)
    replayed = learn.replay(real, learn._int_accept(model, real.X), 50)
    loaded = evaluate.load(DATA, 50) + evaluate.load(BACKWARD, 50)
    assert [os.path.basename(ld.trial.path) for ld in loaded] == [t["name"] for t in real.trials]
    fired, _ = evaluate.run_host(loaded, 50, {"model": model})
    assert any(fired) and not all(fired)
    assert [bool(a) for a in fired] == [bool(a) for a in replayed]
    assert [a[:1] for a in fired] == [a[:1] for a in replayed]


def test_threshold_objective_and_folds():
    best = np.array([5.0, 4.0, 1.0, 3.0, -np.inf, 2.0])
    is_fall = np.array([True, True, True, False, True, False])
    # thr 3.5: 2 falls, 0 alarms -> 2; thr 1.5: 3 falls, 2 alarms -> -3; thr 4.5: 1 -> best is 4.0
    # in percentage points with FA_WEIGHT 2: thr 3.5: 50 % of the falls, no alarm -> 50; thr 2.5: 50 % - 2 x 50 %
    obj, thr = learn.choose_threshold(best, is_fall, fa_weight=2)
    assert obj == 50.0 and 3.0 < thr <= 4.0
    folds = learn.group_folds(["a", "b", "c", "d", "e", "a", "b"], 2)
    assert set().union(*folds) == set("abcde") and not folds[0] & folds[1]


def test_choice_averages_the_objective_over_several_deals_of_the_subjects(monkeypatch):
    # one deal of the subjects into inner folds is noisy: choose() scores each config on
    # INNER_REPEATS different deals, takes the mean objective and the median threshold
    cands = synthetic(n=300)
    rows = np.ones(len(cands.tix), dtype=bool)
    seen = []
    objs = {"a": [10.0, 0.0, 2.0], "b": [5.0, 4.0, 6.0]}  # a wins one deal, b the mean

    def oof(config, cands_, rows_, folds):
        k = sum(1 for c, _f in seen if c == config["name"])
        seen.append((config["name"], tuple(tuple(sorted(f)) for f in folds)))
        return objs[config["name"]][k], 10.0 * k + (1.0 if config["name"] == "b" else 0.0)

    monkeypatch.setattr(learn, "oof_objective", oof)
    configs = [{"name": "a", "kind": "stumps", "n": 1, "lr": 1, "features": "all", "gates": (0, 1)},
               {"name": "b", "kind": "stumps", "n": 2, "lr": 1, "features": "all", "gates": (0, 1)}]
    config, thr, table = learn.choose(cands, rows, configs=configs, repeats=3)
    assert config["name"] == "b" and thr == 11.0  # median of 1, 11, 21
    assert [o for _n, o in table] == [4.0, 5.0]
    deals = set(f for _c, f in seen)
    assert len(deals) == 3  # three different deals, the same three for every config
    assert [f for c, f in seen if c == "a"] == [f for c, f in seen if c == "b"]
    for d in deals:
        assert sorted(g for fold in d for g in fold) == sorted(set(cands.trials[k]["group"] for k in range(len(cands.trials))))
    del seen[:]
    config, _thr, _t = learn.choose(cands, rows, configs=configs, repeats=1)
    assert config["name"] == "a"  # one deal: the lucky one


def test_threshold_counts_each_dataset_by_its_rates():
    # dataset 0: 20 falls scored 5, 20 activities of which 2 scored 2; dataset 1: 2 falls scored 2, 2
    # activities scored 0. Pooled, the 2 falls of the small dataset are not worth 2 alarms of the big
    # one (thr above 2); by dataset, they are its whole sensitivity (thr at or below 2)
    best = np.array([5.0] * 20 + [2.0, 2.0] + [0.0] * 18 + [2.0, 2.0] + [0.0, 0.0])
    is_fall = np.array([True] * 20 + [False] * 20 + [True] * 2 + [False] * 2)
    dataset = np.array([0] * 40 + [1] * 4)
    _obj, pooled = learn.choose_threshold(best, is_fall, fa_weight=2)
    obj, by_dataset = learn.choose_threshold(best, is_fall, fa_weight=2, dataset=dataset)
    assert pooled > 2.0
    assert 0.0 < by_dataset <= 2.0 and obj == 100.0 - 2 * 10.0 + 100.0


def test_weights_give_each_dataset_and_class_an_equal_share():
    y = np.array([1] * 5 + [0] * 45 + [1] * 40 + [0] * 10)
    ds = np.array([1] * 50 + [0] * 50)
    w = learn._balanced(y, ds)
    shares = [w[(ds == d) & (y == c)].sum() for d in (0, 1) for c in (0, 1)]
    assert np.allclose(shares, [len(y) / 4.0] * 4)
    # one dataset: class-balanced, as before
    w1 = learn._balanced(y)
    assert np.isclose(w1[y == 1].sum(), w1[y == 0].sum())
    # fit() gives the weights of the candidates' own datasets: the small dataset's falls weigh more
    X = np.tile(np.array(learn.CLIP)[:, 1], (len(y), 1))
    trials = [{"dataset": "mobifall" if d else "sisfall", "sensor": None, "subject": k % 5,
               "group": "g%d" % (k % 5), "code": "X", "is_fall": bool(y[k]), "name": "t%d" % k,
               "n_real": 500, "impact": 100} for k, d in enumerate(ds)]
    cands = learn.Cands(trials, list(range(len(y))), y, X, [100] * len(y), [225] * len(y))
    assert np.array_equal(learn._datasets_of(cands), ds)
