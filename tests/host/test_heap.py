"""The heap a full alert needs (issue 17, docs/memory.md), at a fixed heap so that growth shows: the
firmware, booting from the .mpy files `alertbutton deploy` builds, completes scenarios/heap.json (boot,
alert, five SMS, a reply, the position follow-ups, the recording, the fall detector) in HEAP_KB on
the 32-bit VM, judged from its own events by the bench's judge. Then the judge itself is shown to
refuse that same run with one thing taken away or added."""
import json
import os

import pytest

from alertbutton import vm
from alertbutton.bench import heap
from alertbutton.sim.run import load_scenario

# `ALERTBUTTON_VM=32 alertbutton bench heap --form mpy` measured 272-276 KB (docs/memory.md); issues 19.2
# and 20.4-20.6 (the alert's persisted state and recipients, per-contact PIN guard, sender forms, end
# notices) took it to 289-290 KB (heap.trial: 288 fails, 290 passes, 292 passes twice); the rest is
# margin for the spread between runs near the edge. A change that needs more fails here: measure it
# with the bench, then cut or raise this with the figures in docs/memory.md.
# Issue 19 raised it by 8 KB: the numbering plans (firmware/core/numplan.py, ~2.6 KB of rules in one
# string per region) and the masking of numbers in every event; measured the same day under the same
# load: 284 KB before, 292 KB after (--lo 240 --hi 320).
# Both together, bisected after the merge (4 KB steps, same bench): 308 KB. 316 leaves one step of margin.
# Issue 21 (sealed recordings, signed heads): 356 KB with engineer A's comb-table Ed25519 (352 fails in
# the signature of a chunk head, twice; 356 passes three times): +48 KB = the crypto code in RAM from .mpy
# (ChaCha20-Poly1305 with its viper functions, SHA-512, Ed25519 and its comb table, the seal codec,
# sealing, device key) and the signature's big integers (640-1024-byte pieces that must be found whole).
# docs/memory.md says what would cut it. 364 leaves one step of margin.
# Issues 21 (the arming gesture) and 22 (motion watch, impact wake, check-in sleep accounting), merged:
# 372 KB (368 passed once and failed once, 364 and 360 failed; same bench, --lo 340 --hi 420). 380 leaves
# one step of margin (docs/memory.md).
# Issue 22, low power on as shipped: the power modules now load on every boot (power task, policy, modem
# power, PowerHw, boot wake, motion watch: 27 KB live from .mpy by the heap probe) and their names
# overflow the interned-name table one block sooner (+18 KB charged to drivers.modem.sms_reader's
# import): 452 KB (448 and 440 failed at boot, importing the console gate; --lo 440 --hi 520).
# 460 leaves one step of margin (docs/memory.md).
HEAP_KB = 476


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    if vm.vm_facts()["bits"] != 32:
        pytest.skip("heap sizes are the ESP32's only on the 32-bit VM (--vm 32; on the 64-bit one every "
                    "pointer and object header is twice as large)")
    out = str(tmp_path_factory.mktemp("heap") / "run")
    verdict = heap.trial(load_scenario(heap.SCENARIO), HEAP_KB, "mpy", out)
    return out, verdict


def test_a_full_alert_completes_in_the_fixed_heap_from_mpy(run_dir):
    out, verdict = run_dir
    assert verdict.ok, verdict.why()
    events = [json.loads(x) for x in open(os.path.join(out, "events.jsonl"))]
    assert any(e["event"] == "small_heap" for e in events)  # the board without PSRAM's defaults


def test_the_judge_refuses_that_run_with_a_piece_missing_or_an_error(run_dir):
    out, verdict = run_dir
    sc = load_scenario(heap.SCENARIO)
    events = [json.loads(x) for x in open(os.path.join(out, "events.jsonl"))]
    log = open(os.path.join(out, "firmware.log")).readlines()
    assert heap.judge(sc, events, log).ok
    for gone in ("evidence_done", "fall_during_alert", "sms_ack", "fix"):
        v = heap.judge(sc, [e for e in events if e["event"] != gone], log)
        assert not v.ok and v.missing and not v.problems, gone
    followups = [e for e in events if e["event"] != "followup_queued" or e["contact"] != 4]
    assert not heap.judge(sc, followups, log).ok
    v = heap.judge(sc, events, log + ["7.1 MemoryError: memory allocation failed, allocating 392 bytes\n"])
    assert v.problems and not v.ok
    v = heap.judge(sc, events + [{"event": "evidence_error", "err": "OSError(28)"}], log)
    assert v.problems and not v.ok
    v = heap.judge(sc, events + [{"event": "sim_reset", "why": "watchdog"}], log)
    assert v.problems and not v.ok
