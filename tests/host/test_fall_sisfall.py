"""fall-eval on the SisFall layout (issue 24 item 1): a SisFall-shaped folder is built here from the
committed MobiFall excerpt (the same motion written as raw counts of both SisFall accelerometers), so
the reader, its cache, both sensors and the command line are tested without ../shared/data. Plus the
one JSON object fall-eval prints on a MobiFall folder: its keys are pinned."""
import contextlib
import io
import json
import os
import tarfile

import pytest

from alertbutton import cli
from alertbutton.falls import evaluate, mobifall, sisfall

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mobifall")
SUB4 = os.path.join(DATA, "sub4")
# (MobiFall file, SisFall code): falls as F.., activities as D..
TRIALS = (("FALLS/FOL/FOL_acc_4_1.txt", "F01"), ("FALLS/SDL/SDL_acc_4_1.txt", "F05"),
          ("ADL/STN/STN_acc_4_1.txt", "D07"), ("ADL/SCH/SCH_acc_4_1.txt", "D10"))

MOBIFALL_KEYS = {"falls", "detected", "adl_trials", "adl_trials_with_alarm", "sensitivity", "specificity",
                 "false_alarms_per_hour", "median_latency_s", "max_latency_s", "adl_alarms", "adl_hours",
                 "per_type", "missed_falls", "adl_trials_alarmed", "rate_hz", "subjects", "params",
                 "decision_fitted_on_subjects", "held_out", "engine", "batch"}


def _counts(mg, per_count, lim):
    return max(-lim, min(lim, int(round(mg / per_count))))


def _write_trial(folder, name, src, gain_a=1.0):
    """The MobiFall trial at 50 Hz as SisFall lines: ADXL345 counts (x gain_a: its gain error) and
    MMA8451Q counts of the same motion."""
    samples = mobifall.load_mg(os.path.join(SUB4, src), 50)
    with open(os.path.join(folder, name), "w") as f:
        for x, y, z in samples:
            a = [_counts(v * gain_a, 3.90625, 4095) for v in (x, y, z)]
            b = [_counts(v, 0.9765625, 8191) for v in (x, y, z)]
            f.write(" %d, %d, %d, %d, %d, %d;\n" % tuple(a + b))
    return samples


@pytest.fixture(scope="module")
def sisfall_dir(tmp_path_factory):
    """root/SA01.tar.xz (archived, as the shared copy) and root/SE06/ (already unpacked); SA15-style
    misnamed file too (D17_SE15 in SA15's archive, an error of the original)."""
    root = tmp_path_factory.mktemp("sisfall")
    build = tmp_path_factory.mktemp("build")
    src = {}
    for subject in ("SA01", "SE06", "SA15"):
        d = build / subject if subject != "SE06" else root / subject
        d.mkdir()
        for path, code in TRIALS:
            name = "%s_%s_R01.txt" % (code, "SE15" if (subject, code) == ("SA15", "D10") else subject)
            src[(subject, code)] = _write_trial(str(d), name, path)
        if subject != "SE06":
            with tarfile.open(str(root / (subject + ".tar.xz")), "w:xz") as tf:
                tf.add(str(d), arcname=subject)
    return str(root), src


def _eval(args, monkeypatch, cache):
    monkeypatch.setenv("ALERTBUTTON_CACHE", cache)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["fall-eval"] + args)
    return rc, out.getvalue(), err.getvalue()


def test_reader_both_sensors_in_milli_g(sisfall_dir, tmp_path, monkeypatch):
    root, src = sisfall_dir
    monkeypatch.setenv("ALERTBUTTON_CACHE", str(tmp_path))
    assert sisfall.is_layout(root) and evaluate.dataset_of(root) == "sisfall"
    assert evaluate.dataset_of(DATA) == "mobifall"
    for sensor, tol in (("adxl345", 2.0), ("mma8451q", 0.5)):
        trials = sisfall.list_trials(root, sensor=sensor)
        assert sorted(set(t.subject for t in trials)) == ["SA01", "SA15", "SE06"]
        assert len(trials) == 12 and sum(t.is_fall for t in trials) == 6
        for t in trials:
            got = sisfall.load_mg(t, 50)
            want = src[(t.subject, t.code)]
            assert len(got) == len(want)
            assert max(abs(g - w) for a, b in zip(got, want) for g, w in zip(a, b)) <= tol, (sensor, t)
    # archives unpacked into the cache, never next to the data; SE06 read where it is
    assert sorted(os.listdir(os.path.join(str(tmp_path), "sisfall"))) == ["SA01", "SA15"]
    se06 = [t for t in sisfall.list_trials(root) if t.subject == "SE06"]
    assert all(t.path.startswith(root) for t in se06)
    # SA15's misnamed D17_SE15 file belongs to SA15
    assert [t.name for t in sisfall.list_trials(root, subjects={"SA15"}, codes=("D10",))] == ["D10_SA15_R01"]


def test_fall_eval_on_sisfall_each_sensor(sisfall_dir, tmp_path, monkeypatch):
    root, _src = sisfall_dir
    for sensor in ("adxl345", "mma8451q"):
        rc, out, err = _eval([root, "--sensor", sensor, "--subjects", "SA01,se06"], monkeypatch, str(tmp_path))
        assert rc == 0, err
        r = json.loads(out)
        assert r["dataset"] == "sisfall" and r["sensor"] == sensor and r["engine"] == "micropython"
        assert r["subjects"] == ["SA01", "SE06"]
        assert r["falls"] == 4 and r["adl_trials"] == 4
        assert set(r["per_type"]) == {"F01", "F05", "D07", "D10"}
        assert r["missed_falls"] == [] or all(n.endswith(".txt") for n in r["missed_falls"])
    # the same motion through either sensor: the same decisions
    rc_a, out_a, _ = _eval([root, "--sensor", "adxl"], monkeypatch, str(tmp_path))
    rc_b, out_b, _ = _eval([root, "--sensor", "mma"], monkeypatch, str(tmp_path))
    ka = ("detected", "adl_trials_with_alarm", "missed_falls")
    assert [json.loads(out_a)[k] for k in ka] == [json.loads(out_b)[k] for k in ka]


def test_fall_eval_refuses_what_it_cannot_take(sisfall_dir, tmp_path, monkeypatch):
    root, _src = sisfall_dir
    rc, _out, err = _eval([root, "--split", "tune"], monkeypatch, str(tmp_path))
    assert rc == 2 and "--subjects SA01" in err
    rc, _out, err = _eval([DATA, "--sensor", "adxl345"], monkeypatch, str(tmp_path))
    assert rc == 2 and "MobiFall has one accelerometer" in err
    rc, _out, err = _eval([root, "--subjects", "SX01"], monkeypatch, str(tmp_path))
    assert rc == 2 and "SA01, SE06" in err


def test_mobifall_object_keeps_its_keys(tmp_path, monkeypatch):
    rc, out, err = _eval([DATA, "--rate", "50"], monkeypatch, str(tmp_path))
    assert rc == 0, err
    assert set(json.loads(out)) == MOBIFALL_KEYS
