"""`alertbutton fall-eval DIR`: the firmware fall detector over MobiFall-layout trials
(DIR/subN/FALLS|ADL/CODE/*_acc_*.txt), run inside the MicroPython VM. Prints one JSON object.

The evaluation itself (the VM and CPython runs, the counting rules, the threshold grid) is
evaluate.py; this module adds the command line and what also needs the learnt second stage
(train.py): cross-validation with the model retrained in every fold (`--cv`), retraining on other
subjects first (`--fit`), writing the shipped model (`--train-model`) and scoring the variants that
were tried (`--explore`, explore.py). train.py and explore.py import evaluate.py, never this module.
"""
import json
import os
import sys
import time

from alertbutton import vm
from alertbutton.falls import evaluate, sisfall
from alertbutton.falls import explore as fall_explore
from alertbutton.falls import train as fall_train
from alertbutton.falls.evaluate import (BATCH, ESP32_PYSTONES, TEST_SUBJECTS, TUNE_SUBJECTS, cpu_report,
                                        cross_validate, detector_module, grid_alarms, load, metrics, run_host,
                                        run_vm, select, trained_on)


def _parse_subjects(text):
    """'4,7' -> {4, 7} (MobiFall ids); 'SA01,se06' -> {'SA01', 'SE06'} (SisFall ids)."""
    if not text:
        return None
    out = set()
    for s in text.replace(" ", "").split(","):
        if not s:
            continue
        if s.isdigit():
            out.add(int(s))
        elif sisfall.is_subject(s.upper()):
            out.add(s.upper())
        else:
            raise ValueError("subject %r: write MobiFall ids as numbers (4,7) and SisFall ids as SA01, SE06" % s)
    return out


def select_subjects(args):
    if getattr(args, "subjects", None):
        return _parse_subjects(args.subjects)
    split = getattr(args, "split", "all")
    if split != "all" and evaluate.dataset_of(args.dir) == "sisfall":
        raise ValueError("--split tune|test names MobiFall subjects: use --subjects SA01,... on SisFall")
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


def cross_validate_model(loaded, folds, rate, params, kind=None):
    """Like cross_validate, for the learnt second stage: the model is retrained (fall_train) on the
    candidates of all subjects but the fold's, then the firmware detector with that model runs over
    the fold's trials. Pooled held-out metrics."""
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
    return fall_train.KIND


def _groups(loaded):
    return [ld.trial.subject for ld in loaded]


def _types(loaded):
    return [ld.trial.code for ld in loaded]


def fit_model(root, rate, params, subjects, pad_s, kind=None):
    """The second stage retrained on `subjects` only (loaded here, apart from the evaluated trials)."""
    fit_on = load(root, rate, set(subjects), pad_s)
    if not fit_on:
        raise ValueError("no trials of subjects %s to fit on" % sorted(subjects))
    cands = fall_train.candidates(fit_on, rate, params)
    return fall_train.train(cands, set(range(len(fit_on))), kind=kind, groups=_groups(fit_on),
                            types=_types(fit_on))[0]


def train_model(loaded, rate, params, out_path, command, kind=None):
    """Train the second stage on every loaded trial and write it as a firmware module."""
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
    p.add_argument("dir", nargs="?", help="MobiFall-layout folder (subN/FALLS|ADL/CODE/*_acc_*.txt) or one file, or a "
                               "SisFall-layout folder (SUBJECT.tar.xz or SUBJECT/*.txt; unpacked once into "
                               "~/.cache/alertbutton or $ALERTBUTTON_CACHE)")
    p.add_argument("--drop", action="store_true",
                   help="no DIR: the button dropped alone from 0.5, 1 and 1.5 m onto a hard floor, and "
                        "(key \"sofa\") thrown in a bag onto a sofa from 0.3, 0.6 and 0.9 m "
                        "(synthesised, tools/alertbutton/falls/drop.py), 40 each, through the shipped "
                        "detector in the VM: how many it takes for a fall")
    p.add_argument("--sisfall", metavar="DIR",
                   help="with --protocol or --ship: the SisFall folder, DIR being the MobiFall one")
    p.add_argument("--wake", action="store_true",
                   help="with --protocol: also every MobiFall fall through the firmware's deep-sleep wake "
                        "path (LIS3DH at 25 Hz, boot of 0 / 0.64 / 1 s) with the model of the outer fold "
                        "that held its subject out, in the VM (a few minutes)")
    p.add_argument("--protocol", action="store_true",
                   help="nested group k-fold by subject over MobiFall + SisFall (both sensors) and "
                        "cross-dataset figures, the learnt detector beside the impact + posture + "
                        "stillness rule, per dataset and sensor (needs --sisfall; scikit-learn)")
    p.add_argument("--ship", metavar="OUT.py",
                   help="train the shipped model on every subject of both datasets (the design "
                        "--protocol judges) and write it (e.g. firmware/fall/model.py; needs --sisfall)")
    p.add_argument("--sensor", choices=sorted(set(sisfall.SENSOR_ALIASES)),
                   help="SisFall accelerometer: adxl345 (+-16 g) or mma8451q (+-8 g, the default)")
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
                        "firmware module (e.g. firmware/fall/model.py)")
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


def run_protocol(args):
    from alertbutton.falls import protocol
    if not args.sisfall or evaluate.dataset_of(args.sisfall) != "sisfall" or evaluate.dataset_of(args.dir) != "mobifall":
        sys.stderr.write("fall-eval: --protocol and --ship take DIR = the MobiFall folder and --sisfall DIR = the "
                         "SisFall folder (SA01.tar.xz ...)\n")
        return 2
    t0 = time.time()
    log = lambda s: sys.stderr.write(s + "\n")  # noqa: E731
    if args.ship:
        cmd = "alertbutton fall-eval MOBIFALL --sisfall SISFALL --ship %s" % (
            os.path.relpath(args.ship, vm.REPO) if os.path.isabs(args.ship) else args.ship)
        out = protocol.ship(args.dir, args.sisfall, args.ship, cmd, args.rate, log)
    else:
        out = protocol.run(args.dir, args.sisfall, args.rate, log, wake=args.wake)
    sys.stderr.write("%.0f s\n" % (time.time() - t0))
    print(json.dumps(out, indent=1))
    return 0


def run(args):
    if args.wake and not args.protocol:
        sys.stderr.write("fall-eval: --wake goes with --protocol (the held-out models it runs come from the nested folds)\n")
        return 2
    if args.drop:
        from alertbutton.falls import drop
        out = drop.measure(rate=args.rate)
        out["sofa"] = drop.measure(heights=drop.SOFA_HEIGHTS, rate=args.rate, surface="sofa")
        print(json.dumps(out, indent=1))
        return 0
    if not args.dir:
        sys.stderr.write("fall-eval: give a MobiFall or SisFall folder (or --drop)\n")
        return 2
    if args.protocol or args.ship:
        try:
            return run_protocol(args)
        except ValueError as e:
            sys.stderr.write("fall-eval: %s\n" % e)
            return 2
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
    try:
        subjects = select_subjects(args)
        t0 = time.time()
        loaded = load(args.dir, args.rate, subjects, args.pad, sensor=args.sensor and sisfall.sensor_name(args.sensor))
    except ValueError as e:
        sys.stderr.write("fall-eval: %s\n" % e)
        return 2
    if not loaded:
        sys.stderr.write("no trials under %s (MobiFall: subN/.../*_acc_*.txt; SisFall: SA01.tar.xz or SA01/...)\n"
                         % args.dir)
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
    dataset = evaluate.dataset_of(args.dir)
    if dataset == "sisfall":  # MobiFall's object keeps its keys; SisFall's also says what it read
        out["dataset"] = "sisfall"
        out["sensor"] = loaded[0].trial.sensor
    fitted = trained_on(params, fit_subjects, dataset)
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
