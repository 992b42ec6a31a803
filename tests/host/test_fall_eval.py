"""fall-eval / fall-plot on the committed MobiFall excerpt (tests/data/mobifall): the firmware
detector runs inside the MicroPython VM. The shipped model is trained on all 18 available subjects,
the excerpt's (4, 7, 11) included, so on the excerpt it must reproduce its training fit (every fall,
no alarm) and fall-eval must say the result is not held-out; a model retrained with --fit on other
subjects is held-out. Plus the counting rules, the resampler and the PNG writer."""
import json
import os
import struct
import zlib

import pytest

from alertbutton import cli
from alertbutton.falls import command, evaluate, mobifall, plot



DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mobifall")
FALL_CODES = {"FOL", "FKL", "BSC", "SDL"}
ADL_CODES = {"CSI", "CSO", "SCH", "STN", "STU"}


@pytest.fixture(scope="module")
def vm_result():
    """One `alertbutton fall-eval DATA --cpu` run (one VM process for every trial)."""
    import io
    import contextlib
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["fall-eval", DATA, "--cpu"])
    assert rc == 0
    return json.loads(out.getvalue())


def test_json_structure(vm_result):
    r = vm_result
    for key, typ in (("falls", int), ("detected", int), ("adl_trials", int),
                     ("adl_trials_with_alarm", int), ("sensitivity", float), ("specificity", float),
                     ("false_alarms_per_hour", float), ("median_latency_s", float), ("per_type", dict)):
        assert isinstance(r[key], typ), (key, r[key])
    assert r["engine"] == "micropython"
    assert r["falls"] == 6 and r["adl_trials"] == 7
    assert set(r["per_type"]) == FALL_CODES | ADL_CODES
    assert sum(v["trials"] for v in r["per_type"].values()) == 13
    assert r["subjects"] == [4, 7, 11]
    # the shipped model was fitted on these subjects: never reported as held-out
    assert set(r["decision_fitted_on_subjects"]) >= {4, 7, 11} and r["held_out"] is False


def test_excerpt_shipped_model_reproduces_its_training_fit(vm_result):
    # training subjects (not a held-out claim): the VM's integer model gives the host's training fit
    r = vm_result
    assert r["detected"] == r["falls"], r["missed_falls"]
    assert r["sensitivity"] == 1.0
    assert r["adl_trials_with_alarm"] == 0, r["adl_trials_alarmed"]
    assert r["specificity"] == 1.0 and r["false_alarms_per_hour"] == 0.0
    # decision within 3 s of the impact (the data's peak |a|), and after it
    assert 0 < r["median_latency_s"] <= 3.0 and r["max_latency_s"] <= 3.0


def test_cpu_figures(vm_result):
    c = vm_result["cpu"]
    assert c["samples"] > 3000
    assert c["vm_pystones_per_s"] > 1000
    assert c["decisions"] >= 6  # at least one decision per fall trial was timed
    # timing itself is not asserted (shared machine): only its presence and the ESP32 arithmetic
    assert 0 <= c["vm_us_per_update"] < 1000
    want = c["vm_us_per_update"] * c["vm_pystones_per_s"] / c["esp32_pystones_per_s"]
    assert abs(c["esp32_us_per_update"] - want) <= 0.1 + 0.01 * want
    assert abs(c["esp32_core_percent_at_rate"] - c["esp32_us_per_update"] * 50 / 1e4) < 0.01


def _fall_eval_json(*argv):
    import io
    import contextlib
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["fall-eval", DATA] + list(argv))
    return rc, (json.loads(out.getvalue()) if rc == 0 else None)


def test_fit_on_other_subjects_is_held_out():
    # retrained on subject 4 only, evaluated in the VM on 7 and 11: held-out, and the model passed to
    # the VM is the one trained on subject 4 (not the shipped one)
    rc, r = _fall_eval_json("--subjects", "7,11", "--fit", "4")
    assert rc == 0 and r["engine"] == "micropython"
    assert r["decision_fitted_on_subjects"] == [4] and r["held_out"] is True
    assert r["subjects"] == [7, 11] and r["falls"] == 2 and r["adl_trials"] == 3
    from alertbutton.falls import train as fall_train
    fit = evaluate.load(DATA, 50, {4})
    want = fall_train.train(fall_train.candidates(fit, 50), set(range(len(fit))),
                            types=[ld.trial.code for ld in fit])[0]
    assert json.loads(json.dumps(want)) == r["params"]["model"]
    # fitted on a subject it is evaluated on: not held-out
    rc, r = _fall_eval_json("--subjects", "7,11", "--fit", "4,7")
    assert rc == 0 and r["held_out"] is False
    # bad input: a clear error, exit code 2
    assert _fall_eval_json("--fit", "x")[0] == 2
    assert _fall_eval_json("--fit", "99")[0] == 2
    assert _fall_eval_json("--fit", "4", "--rule")[0] == 2


def test_vm_and_cpython_run_the_same_detector():
    loaded = evaluate.load(DATA, 50)
    vm_alarms, decisions, _ = evaluate.run_vm(loaded, 50, {})
    host_alarms, host_decisions = evaluate.run_host(loaded, 50, {})
    assert vm_alarms == [list(a) for a in host_alarms]
    assert decisions == host_decisions and sum(decisions) >= 6
    # thresholds passed to the VM are honoured: stricter -> fewer falls, looser -> car transfers fire
    # (the threshold rule alone, model=None, and the learnt model passed as a parameter)
    rule, _, _ = evaluate.run_vm(loaded, 50, {"model": None})
    assert rule == [list(a) for a in evaluate.run_host(loaded, 50, {"model": None})[0]]
    strict, _, _ = evaluate.run_vm(loaded, 50, {"model": None, "peak_mg": 3200})
    assert sum(1 for a in strict if a) < sum(1 for a in rule if a)
    loose, _, _ = evaluate.run_vm(loaded, 50, {"model": None, "peak_mg": 1600, "swing_mg": 400})
    assert any(a for ld, a in zip(loaded, loose) if not ld.trial.is_fall)
    from firmware.fall import model as fall_model
    shipped = fall_model.MODEL
    fired, _, _ = evaluate.run_vm(loaded, 50, {"model": shipped})
    assert fired == vm_alarms and any(fired)  # the shipped model passed as a parameter: the same run
    none, _, _ = evaluate.run_vm(loaded, 50, {"model": (shipped[0] - (1 << 28),) + tuple(shipped[1:])})
    assert not any(none)  # a bias no score can beat


def test_training_uses_only_the_given_subjects():
    from alertbutton.falls import train as fall_train
    loaded = evaluate.load(DATA, 50)
    cands = fall_train.candidates(loaded, 50)
    # every fall trial of the excerpt yields its labelled candidate (impact within 1 s)
    assert set(ti for ti, _i, lab, _f in cands if lab == 1) == set(
        i for i, ld in enumerate(loaded) if ld.trial.is_fall)
    s4 = set(i for i, ld in enumerate(loaded) if ld.trial.subject == 4)
    m4, info = fall_train.train(cands, s4, kind="logistic")
    n4 = sum(1 for ti, _i, lab, f in cands if ti in s4 and lab is not None and f[2] >= 30 and f[3] <= 150)
    assert info["candidates"] == n4 and info["fall_candidates"] >= 4  # a fall may have 2 peaks in 1 s
    # the trained model separates its own training trials (falls fire, activities do not)
    al = evaluate.run_host([loaded[i] for i in sorted(s4)], 50, {"model": m4})[0]
    got = [(loaded[i].trial.is_fall, bool(a)) for i, a in zip(sorted(s4), al)]
    assert all(fell == fired for fell, fired in got), got


def test_explore_replica_counts_like_the_firmware_cross_validation():
    # fall_explore judges variants on recorded candidates; for the shipped variant its held-out
    # counts must be those of the firmware detector run by --cv loso (model retrained per fold)
    from alertbutton.falls import explore
    loaded = evaluate.load(DATA, 50)
    data = explore.Data(loaded, 50)
    folds = [(s,) for s in (4, 7, 11)]
    keys = ("falls", "detected", "adl_trials", "adl_trials_with_alarm", "adl_alarms", "missed_falls")
    for kind, fitter in (("logistic", explore.logistic(data, explore.SHIPPED)),
                         ("experts", explore.experts(data))):
        mine = data.held_out(fitter)
        fw, _ = command.cross_validate_model(loaded, folds, 50, {}, kind)
        assert [mine[k] for k in keys] == [fw[k] for k in keys], kind
        assert [mine[k] for k in ("falls", "adl_trials")] == [6, 7]


def test_stump_second_stage_in_the_vm():
    # boosted stumps trained on subjects 4 and 11 (threshold out of fold), run by the firmware in
    # the VM and in CPython on subject 7: same alarms; the integer model uses stump rows
    from alertbutton.falls import train as fall_train
    loaded = evaluate.load(DATA, 50)
    cands = fall_train.candidates(loaded, 50)
    train = set(i for i, ld in enumerate(loaded) if ld.trial.subject in (4, 11))
    model, info = fall_train.train(cands, train, kind="stumps", groups=[ld.trial.subject for ld in loaded])
    assert info["kind"] == "stumps" and any(model[k] < 0 for k in range(3, len(model), 4))
    test = [ld for ld in loaded if ld.trial.subject == 7]
    vm_alarms, _, _ = evaluate.run_vm(test, 50, {"model": model})
    assert vm_alarms == [list(a) for a in evaluate.run_host(test, 50, {"model": model})[0]]
    with pytest.raises(ValueError):
        fall_train.train(cands, train, kind="stumps")  # needs the subjects (out-of-fold threshold)
    # the excerpt's 3 subjects are too few for out-of-fold thresholds inside LOSO: a clear error
    assert _fall_eval_json("--cv", "loso", "--second-stage", "stumps")[0] == 2
    rc, r = _fall_eval_json("--cv", "loso", "--second-stage", "logistic")
    assert rc == 0 and r["held_out"]["falls"] == 6 and "logistic" in r["second_stage"]


class _T:
    def __init__(self, code, subject=1):
        self.code = code
        self.subject = subject
        self.is_fall = code in FALL_CODES
        self.path = "%s_acc_%d_1.txt" % (code, subject)


def test_metrics_counting_rules():
    rate = 50
    L = evaluate.Loaded
    loaded = [L(_T("FOL"), [], 500, 100), L(_T("FKL"), [], 500, 200), L(_T("SDL"), [], 500, 150),
              L(_T("WAL"), [], 90000, 0), L(_T("SCH"), [], 300, 0), L(_T("JUM"), [], 1500, 0)]
    alarms = [[(225, 100), (400, 380)],  # detected, 2.5 s after the impact (first alarm counts)
              [],  # missed
              [(300, 150)],  # 3.0 s
              [(10, 5), (5000, 4990), (9000, 8990)],  # 3 false alarms in 30 min of walking
              [],
              []]
    m = evaluate.metrics(loaded, alarms, rate)
    assert (m["falls"], m["detected"], m["adl_trials"], m["adl_trials_with_alarm"]) == (3, 2, 3, 1)
    assert m["sensitivity"] == round(2 / 3, 4) and m["specificity"] == round(2 / 3, 4)
    hours = (90000 + 300 + 1500) / rate / 3600
    assert m["false_alarms_per_hour"] == round(3 / hours, 3)
    assert m["median_latency_s"] == 2.75 and m["max_latency_s"] == 3.0
    assert m["per_type"]["WAL"]["alarms"] == 3 and m["per_type"]["FKL"]["with_alarm"] == 0
    assert m["missed_falls"] == ["FKL_acc_1_1.txt"] and m["adl_trials_alarmed"] == ["WAL_acc_1_1.txt"]


def test_resampling_to_the_device_rate():
    path = os.path.join(DATA, "sub4", "ADL", "SCH", "SCH_acc_4_1.txt")
    t, xs, ys, zs = mobifall.read_acc(path)
    dur = t[-1] - t[0]
    for rate in (50, 25):
        s = mobifall.load_mg(path, rate)
        assert abs(len(s) - dur * rate) <= 1
        # standing at the start: |a| is 1 g (+-6 %) in milli-g
        rest = [(x * x + y * y + z * z) ** 0.5 for x, y, z in s[:rate // 2]]
        assert all(940 < m < 1060 for m in rest), rest
    # the resampled signal follows the source: first sample equal, up to rounding
    s = mobifall.load_mg(path, 50)
    assert abs(s[0][0] - xs[0] * 1000 / mobifall.G) <= 1


def test_split_is_subject_wise_and_disjoint():
    assert not set(evaluate.TUNE_SUBJECTS) & set(evaluate.TEST_SUBJECTS)
    assert set(evaluate.TUNE_SUBJECTS) | set(evaluate.TEST_SUBJECTS) == {
        1, 2, 4, 5, 6, 7, 9, 11, 12, 13, 15, 16, 17, 18, 20, 21, 29, 31}


def _png_pixels(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", None, None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    assert len(raw) == h * (1 + 3 * w)
    rows = [raw[y * (1 + 3 * w) + 1:(y + 1) * (1 + 3 * w)] for y in range(h)]
    return w, h, rows


def test_fall_plot_png(tmp_path):
    out = tmp_path / "fol.png"
    path = os.path.join(DATA, "sub4", "FALLS", "FOL", "FOL_acc_4_1.txt")

    class A:
        pass
    a = A()
    a.file, a.png, a.rate, a.width, a.height = path, str(out), 50, 600, 300
    assert plot.run(a) == 0
    w, h, rows = _png_pixels(out.read_bytes())
    assert (w, h) == (600, 300)
    red = bytes(plot.RED)
    blue = bytes(plot.BLUE)
    assert any(red in r for r in rows)  # the alarm marker
    assert any(blue in r for r in rows)  # the |a| trace
    # the shading of the confirmed-fall phase covers the end of the recording
    fall_bg = bytes(plot.PHASE_COLOURS[3])
    mid = rows[h // 2]
    assert fall_bg in mid[3 * (w - 40):3 * (w - 20)]


def test_pystone_follows_dhrystone_final_state():
    # Dhrystone's published end-of-run values: Int_Glob 5, Bool_Glob true, Ch_1 'A', Ch_2 'B',
    # Arr_1[8] 7, Arr_2[8][7] = runs + 10, record Int_Comp 17 -- in CPython and in the VM
    from alertbutton import pystone, vm
    assert pystone.main(300) > 0
    assert (pystone.int_glob, pystone.bool_glob, pystone.char1_glob, pystone.char2_glob) == (5, True, "A", "B")
    assert pystone.array1_glob[8] == 7 and pystone.array2_glob[8][7] == 310
    assert pystone.ptr_glob.num == 17
    here = os.path.dirname(pystone.__file__)
    proc = vm.run(code="import pystone as p; r = p.main(200); print(p.int_glob, p.bool_glob, p.char1_glob,"
                       " p.char2_glob, p.array1_glob[8], p.array2_glob[8][7], p.ptr_glob.num, r > 0)",
                  extra_path=(here,))
    assert proc.stdout.split() == ["5", "True", "A", "B", "7", "210", "17", "True"], proc.stdout + proc.stderr


def _synthetic_candidates(seed=7):
    # 10 forward falls (hard impact), 10 backward falls and 20 sit-downs that the general model's
    # features cannot tell apart (same peak, swing, ...), but the backward falls swing past their
    # final angle (F_OVER 40-70 deg against 0-15): what the backward-fall expert is for
    import random
    fd = evaluate.detector_module()
    rng = random.Random(seed)
    cands, types = [], []

    def add(code, label, peak, over):
        f = [0] * fd.N_FEATURES
        f[fd.F_POSTURE] = 80
        f[fd.F_STILL] = rng.randint(10, 60)
        f[fd.F_PEAK] = peak + rng.randint(-150, 150)
        f[fd.F_SWING] = rng.randint(600, 900)
        f[fd.F_NIMP] = rng.randint(1, 3)
        f[fd.F_OVER] = over + rng.randint(0, 15)
        f[fd.F_ROTPRE] = rng.randint(30, 90)
        cands.append((len(types), 100, label, tuple(f)))
        types.append(code)
    for _ in range(10):
        add("FOL", 1, 3200, 0)
        add("BSC", 1, 2100, 45)
    for _ in range(20):
        add("SCH", 0, 2100, 0)
    return cands, types


def test_backward_fall_expert_adds_falls_without_alarms():
    from alertbutton.falls import train as fall_train
    cands, types = _synthetic_candidates()
    trials = set(range(len(types)))
    general, ginfo = fall_train.train(cands, trials, kind="logistic")
    pair, info = fall_train.train(cands, trials, types=types)
    assert info["expert_kept"] is True and isinstance(pair[0], tuple) and pair[0] == general

    def fired(model, code):
        return sum(1 for ti, _i, _l, f in cands if types[ti] == code and fall_train.int_score(model, f) >= 0)
    # the general model alone: every forward fall, and it has to give up most backward falls to
    # keep the sit-downs quiet; the pair catches every fall and alarms no more sit-downs
    assert fired(general, "FOL") == 10 and fired(general, "BSC") < 10
    assert fired(pair, "FOL") == 10 and fired(pair, "BSC") == 10
    assert fired(pair, "SCH") <= fired(general, "SCH")
    assert info["training_objective"] > info["general_objective"]
    # the expert's threshold sits exactly at the weakest backward fall it adds (no margin below)
    expert = pair[1]
    weakest = min(fall_train.int_score(expert, f) for ti, _i, _l, f in cands
                  if types[ti] == "BSC" and fall_train.int_score(general, f) < 0)
    assert weakest == 0
    # nothing to learn from (no backward fall among the training trials): the general model alone
    no_bsc = set(ti for ti in trials if types[ti] != "BSC")
    alone, info = fall_train.train(cands, no_bsc, types=types)
    assert info["expert_kept"] is False and not isinstance(alone[0], tuple)
    # an expert that would add nothing (the general model already catches every fall) is dropped
    easy = [(ti, i, lab, f if types[ti] != "BSC" else tuple(3200 if k == 0 else v for k, v in enumerate(f)))
            for ti, i, lab, f in cands]
    alone, info = fall_train.train(easy, trials, types=types)
    assert info["expert_kept"] is False and not isinstance(alone[0], tuple)
    with pytest.raises(ValueError):
        fall_train.train(cands, trials)  # the expert needs the trial types
