"""FallDetector.feed() (a FIFO batch at once, viper while idle) against update() per sample, inside
the MicroPython VM, on the committed MobiFall excerpt (tests/data/mobifall, resampled to 50 Hz by
tools/alertbutton/falls/mobifall.py): every event with the detector's state and features must be the same
for batches of random sizes 1..32, copied into a FIFO-sized buffer or fed in place. fall-eval gives
the same alarms with --batch 1 (update()) and the device's 25-sample batches."""
import os

import pytest

from alertbutton import vm
from alertbutton.falls import evaluate

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data", "mobifall")
DEVICE_TESTS = os.path.join(os.path.dirname(HERE), "device")

# Runs in the VM; the comparison helpers are the device test's (tests/device/test_fall_detector.py).
VM_SCRIPT = r"""
import sys, array
from rng import Rng
from firmware.fall import detector as fd
from firmware.fall.detector import FallDetector
from test_fall_detector import per_sample_events, batched_events, _same_state, _model
f = open(sys.argv[1], "rb")
assert f.read(4) == b"FALL"
hdr = bytearray(8)
models = (("shipped", {}), ("rule", {"model": None}),
          ("rotation", {"model": _model(-1, rows=((~fd.F_ROTPATH, 60, 0, 1), (~fd.F_OVER, -200, 0, 0)))}))
while f.readinto(hdr) == 8:
    tid = int.from_bytes(hdr[0:4], "little")
    n = int.from_bytes(hdr[4:8], "little")
    buf = array.array("h", bytes(6 * n))
    f.readinto(memoryview(buf))
    for name, kw in models:
        ref = FallDetector(**kw)
        want = per_sample_events(ref, buf)
        for seed, copy in ((tid + 1, True), (tid + 1000, False), (tid + 2000, True)):
            det = FallDetector(**kw)
            got = batched_events(det, buf, Rng(seed), copy)
            same = got == want and _same_state(det, ref)
            print("T", tid, name, seed, "same" if same else "DIFF", len(want),
                  " ".join(str(e[1]) for e in want))
"""


@pytest.fixture(scope="module")
def loaded():
    return evaluate.load(DATA, 50)


def test_feed_matches_update_on_the_mobifall_excerpt(loaded, tmp_path):
    data = tmp_path / "trials.bin"
    evaluate.write_data(str(data), loaded)
    script = tmp_path / "batch_vm.py"
    script.write_text(VM_SCRIPT)
    proc = vm.run(script=str(script), args=(str(data),), extra_path=(DEVICE_TESTS,), heapsize="8M",
                  timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith("T ")]
    assert len(rows) == len(loaded) * 3 * 3, proc.stdout[-2000:]
    diff = [r for r in rows if r[4] != "same"]
    assert not diff, diff
    # the comparison covered impacts, rejects and confirmed falls (1, 3, 2), not quiet streams only
    kinds = set(k for r in rows for k in r[6:])
    assert {"1", "2", "3"} <= kinds, kinds
    assert sum(int(r[5]) for r in rows if r[2] == "shipped") >= 3 * 20


def test_fall_eval_alarms_do_not_depend_on_the_batch(loaded):
    ref, ref_dec, _ = evaluate.run_vm(loaded, 50, {}, batch=1)
    assert sum(len(a) for a in ref) >= 6 and sum(ref_dec) >= 6  # the six falls of the excerpt
    for batch in (7, evaluate.BATCH, 32):
        alarms, decisions, _ = evaluate.run_vm(loaded, 50, {}, batch=batch)
        assert alarms == ref and decisions == ref_dec, batch


def test_feed_in_cpython_is_update_per_sample(loaded):
    # host tools import the same module: without viper, feed() hands every sample to update()
    fd = evaluate.detector_module()
    assert not fd._VIPER
    for ld in loaded[:6]:
        flat = [v for xyz in ld.samples for v in xyz]
        ref = fd.FallDetector()
        want = [(i, ev) for i, (x, y, z) in enumerate(ld.samples) for ev in [ref.update(x, y, z)] if ev]
        det = fd.FallDetector()
        got = []
        n = len(ld.samples)
        for b0 in range(0, n, 25):
            end = min(b0 + 25, n)
            k = b0
            while k < end:
                k = det.feed(flat, end, k)
                if det.event:
                    got.append((k - 1, det.event))
        assert got == want and list(det.features) == list(ref.features) and det.n == ref.n
    with pytest.raises(ValueError):
        fd.FallDetector().feed([0] * 6, 3)
