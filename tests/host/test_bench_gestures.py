"""`alertbutton bench gestures` (issue 20 item 2): the Monte-Carlo runs the firmware's own recogniser,
is reproducible from its seed, and the firmware's default is the candidate the table chose."""
import random

from alertbutton.bench import gestures as bench
from firmware.wearer import gestures as fw


def test_it_runs_the_firmware_recogniser():
    assert bench.ButtonLogic is fw.ButtonLogic


def test_the_default_is_the_chosen_candidate():
    chosen = "5 presses, gaps <= 700 ms, each 100-400 ms"  # docs/haptics.md, chosen at seed 20
    maps = dict(bench.CANDIDATES + bench.CANDIDATES_ROUND2)
    assert maps[chosen] == list(fw.DEFAULT_GESTURES)


def test_same_seed_same_figures_and_the_old_map_is_worse():
    old, new = bench.CANDIDATES[0][1], list(fw.DEFAULT_GESTURES)
    a = bench.evaluate(new, random.Random(1), 40, 300)
    b = bench.evaluate(new, random.Random(1), 40, 300)
    assert a == b
    assert a["intended"]["tact"] == a["intended"]["typical"] == 1.0
    o = bench.evaluate(old, random.Random(1), 40, 300)
    assert sum(p for _, p, _ in o["false"]) > 5 * max(sum(p for _, p, _ in a["false"]), 0.1)


def test_the_table_names_every_candidate_and_the_rule(capsys):
    class Args:
        seed, trials, events, round1 = 3, 5, 20, True
    assert bench.run(Args()) == 0
    out = capsys.readouterr().out
    for name, _ in bench.CANDIDATES:
        assert "| %s |" % name in out
    assert "rule: " in out and "chosen: " in out


def test_transitions_bounce_and_end_on_the_level():
    rng = random.Random(5)
    edges = bench.transitions(rng, [(0, 150), (450, 150)], bench.SWITCHES["worst"])
    assert edges[-1][1] == 0 and edges[0] == (0, 1)
    assert all(b[0] >= a[0] for a, b in zip(edges, edges[1:]))
    assert all(a[1] != b[1] for a, b in zip(edges, edges[1:]))  # only changes


def test_the_arming_gesture_is_the_chosen_candidate_and_holds_are_worse():
    from alertbutton.bench import arm_gestures as arm
    chosen = "hold 1.5 s, let go, 2 taps"  # docs/evidence.md, chosen at seed 20 (2000 trials, 5000 events)
    maps = dict(arm.CANDIDATES + arm.CANDIDATES_ROUND2)
    assert maps[chosen] == [fw.ARM_GESTURE] and arm.ALERT == list(fw.DEFAULT_GESTURES)
    a = arm.evaluate(maps[chosen], random.Random(1), 40, 300)
    assert a["arm"]["tact"] == a["arm"]["typical"] == a["alert"]["tact"] == a["alert"]["typical"] == 1.0
    assert a["cross"] == 0 and sum(p for _, p, _ in a["false"]) == 0
    h = arm.evaluate(maps["hold 3 s"], random.Random(1), 40, 300)
    assert sum(p for _, p, _ in h["false"]) > 1  # sitting, leaning and long presses make holds
