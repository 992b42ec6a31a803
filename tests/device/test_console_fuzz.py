# The console line parser fuzzed inside the VM (harness: console_fuzz.py). This test runs 10 000 lines and
# checks that every state was reached; tests/host/test_fuzz_vm.py runs the same harness on 10^5 lines, and
# so does `alertbutton console-fuzz --lines 100000`.
import console_fuzz


def test_fuzzed_lines_never_raise_and_always_answer_well():
    counts, failures = console_fuzz.run(10000, seed=7)
    print(counts)
    assert counts["uncaught"] == 0 and counts["bad"] == 0, failures[:10]
    assert counts["lines"] == 10000 and counts["reloads"] == 2
    # the fuzz reached the interesting states, not just PROTO errors
    for code in ("PROTO", "ENCODING", "UNKNOWN", "ARGS", "NUMBER", "LOCKED", "PIN", "LOCKOUT", "NOPIN", "CONFIG"):
        assert counts.get(code, 0) > 0, (code, counts)
    assert counts["ok"] > 500, counts


def test_the_checker_rejects_bad_answers():
    c = {"ok": 0, "err": 0}
    assert console_fuzz.check_answer(b"x", "ERR INTERNAL boom", c) is not None
    assert console_fuzz.check_answer(b"x", "OK [1]", c) is not None
    assert console_fuzz.check_answer(b"x", "ERR WHAT x", c) is not None
    assert console_fuzz.check_answer(b"x", "OK {}\nOK {}", c) is not None
    assert console_fuzz.check_answer(b"x", None, c) is not None
    assert console_fuzz.check_answer(b"  ", None, c) is None
    assert console_fuzz.check_answer(b"x", "ERR PROTO no", c) is None
