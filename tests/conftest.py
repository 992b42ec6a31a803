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


def pytest_terminal_summary(terminalreporter):
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
