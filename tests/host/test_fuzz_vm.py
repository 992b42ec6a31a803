"""10^5 fuzzed inputs per device parser, inside the MicroPython VM: 0 uncaught exceptions."""
from alertbutton.checks.fuzz import run_fuzz, table, TARGETS


def test_every_parser_survives_1e5_inputs(report):
    res, failures = run_fuzz(100000)
    report("fuzzing in the MicroPython VM", table(res))
    assert sorted(res) == sorted(TARGETS)
    for name, r in res.items():
        assert r["inputs"] == 100000 and r["failures"] == 0, (name, r, failures[:5])
