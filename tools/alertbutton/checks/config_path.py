"""Robustness checks of the configuration path, run inside the MicroPython VM:

    alertbutton powercut [--rounds R]            power cut at every flash operation of config changes
    alertbutton console-fuzz [--lines N] [--seed S]   console line parser fuzzed

The harnesses are MicroPython programs in tests/device/ (powercut_harness.py, console_fuzz.py);
the CI tests run them with smaller counts. Exit status 1 if anything failed."""
import json
import os
import sys
import tempfile

from alertbutton import vm

DEVICE_TESTS = os.path.join(vm.REPO, "tests", "device")


def add_arguments(p):
    name = p.prog.split()[-1]
    p.set_defaults(_check=name)
    if name == "powercut":
        p.add_argument("--rounds", type=int, default=10, help="rounds of 9 config changes (default 10)")
    else:
        p.add_argument("--lines", type=int, default=100000, help="lines to feed (default 100000)")
        p.add_argument("--seed", type=int, default=1)


def _vm(script, args):
    with tempfile.TemporaryDirectory(prefix="vmcheck-") as tmp:
        return vm.run(script=os.path.join(DEVICE_TESTS, script), args=[str(a) for a in args],
                      extra_path=(DEVICE_TESTS,), cwd=tmp, timeout=3600, heapsize="4m")


def run(args):
    if args._check == "powercut":
        p = _vm("powercut_harness.py", [args.rounds])
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        first = p.stdout.splitlines()[0] if p.stdout else ""
        ok = p.returncode == 0 and " 0 empty, 0 corrupt, 0 unmountable" in first
        return 0 if ok else 1
    p = _vm("console_fuzz.py", [args.lines, args.seed])
    sys.stderr.write(p.stderr)
    lines = p.stdout.splitlines()
    if p.returncode != 0 or not lines:
        sys.stdout.write(p.stdout)
        return 1
    res = json.loads(lines[0])
    print("%d lines fed to the console (seed %d) in %.1f s: %d OK, %d ERR, %d uncaught exceptions, "
          "%d bad answers or states, %d reboots checked" % (
              res["lines"], res["seed"], res["ms"] / 1000.0, res["ok"], res["err"], res["uncaught"], res["bad"],
              res["reloads"]))
    print("ERR codes: " + ", ".join("%s %d" % kv for kv in sorted(res["codes"].items())))
    for ln in lines[1:]:
        print(ln)
    return 0 if res["uncaught"] == 0 and res["bad"] == 0 else 1
