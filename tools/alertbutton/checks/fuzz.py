"""`alertbutton fuzz`: the device parsers fuzzed inside the MicroPython VM (tests/vm/fuzz.py)."""
import json
import os
import tempfile

from alertbutton import vm

PROGRAM = os.path.join(vm.REPO, "tests", "vm", "fuzz.py")
DEVICE_TESTS = os.path.join(vm.REPO, "tests", "device")  # console_fuzz.py lives with the console tests
TARGETS = ("at", "cds", "nmea", "config", "console")


def run_fuzz(n, targets=TARGETS):
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        p = vm.run(script=PROGRAM, args=[str(n)] + list(targets), extra_path=(DEVICE_TESTS,), cwd=tmp,
                   timeout=3600)
    lines = [x for x in p.stdout.splitlines() if x.startswith("FUZZ ")]
    if not lines:
        raise RuntimeError("fuzz run died:\n" + (p.stdout + p.stderr)[-3000:])
    failures = [x for x in p.stdout.splitlines() if x.startswith("FAIL")]
    return json.loads(lines[0][5:]), failures


def table(res):
    rows = ["target    inputs  failures  seconds (VM)"]
    for name, r in res.items():
        rows.append("%-8s %7d  %8d  %7.2f" % (name, r["inputs"], r["failures"], r["seconds"]))
    return "\n".join(rows)


def add_arguments(p):
    p.add_argument("--n", type=int, default=100000, help="inputs per target (default 10^5)")
    p.add_argument("targets", nargs="*", metavar="TARGET", help="subset of: " + ", ".join(TARGETS))


def run(args):
    bad = [t for t in args.targets if t not in TARGETS]
    if bad:
        print("error: unknown target %s (choose from %s)" % (", ".join(bad), ", ".join(TARGETS)))
        return 2
    res, failures = run_fuzz(args.n, args.targets or TARGETS)
    print(table(res))
    for f in failures[:20]:
        print(f)
    return 0 if all(r["failures"] == 0 for r in res.values()) else 1
