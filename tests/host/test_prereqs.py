"""Issue 19 item 12: a fresh machine runs every test, or says which were skipped and why; the licence in
pyproject.toml is an SPDX expression (no setuptools deprecation warning at install)."""
import io
import os
import subprocess
import sys
import tomllib

from alertbutton import vm
from alertbutton.checks import prereqs

REPO = vm.REPO


class FakeMachine:
    """A machine where the broker tools are in `bin` only once apt-get has installed them."""

    def __init__(self, tmp_path, apt_ok=True, has_apt=True):
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.calls = []
        self.apt_ok = apt_ok
        self.has_apt = has_apt

    def which(self, name):
        if name == "apt-get":
            return "/usr/bin/apt-get" if self.has_apt else None
        p = self.bin / name
        return str(p) if p.exists() else None

    def run(self, cmd, env=None):
        self.calls.append((cmd, env.get("DEBIAN_FRONTEND")))
        if self.apt_ok and cmd[:2] == ["apt-get", "install"]:
            for n in prereqs.BROKER_TOOLS:
                (self.bin / n).write_text("")
        return subprocess.CompletedProcess(cmd, 0 if self.apt_ok else 100)


def ensure(m, **kw):
    out = io.StringIO()
    miss = prereqs.ensure(run=m.run, which=m.which, dirs=(), out=out, **kw)
    return miss, out.getvalue()


def test_root_installs_the_broker_from_debian(tmp_path):
    m = FakeMachine(tmp_path)
    miss, text = ensure(m, euid=0)
    assert miss == [], text
    assert m.calls[0] == (["apt-get", "update", "-qq"], "noninteractive")
    assert m.calls[1] == (["apt-get", "install", "-y", "-qq", "mosquitto", "mosquitto-clients", "openssl"],
                          "noninteractive")
    assert "installing mosquitto, mosquitto-clients, openssl" in text and "SKIPPED" not in text
    # already installed: nothing run, nothing said
    m.calls.clear()
    assert ensure(m, euid=0) == ([], "") and m.calls == []


def test_not_root_says_which_tests_are_skipped_and_why(tmp_path):
    m = FakeMachine(tmp_path)
    miss, text = ensure(m, euid=1000)
    assert miss == list(prereqs.BROKER_TOOLS) and m.calls == []
    assert "MQTT broker tests will be SKIPPED" in text and "not root" in text
    assert "apt-get install mosquitto mosquitto-clients openssl" in text


def test_no_apt_or_a_failed_apt_is_said(tmp_path):
    (tmp_path / "a").mkdir()
    miss, text = ensure(FakeMachine(tmp_path / "a", has_apt=False), euid=0)
    assert miss and "no apt-get" in text
    (tmp_path / "b").mkdir()
    m = FakeMachine(tmp_path / "b", apt_ok=False)
    miss, text = ensure(m, euid=0)
    assert miss and "apt-get failed (exit 100)" in text and "SKIPPED" in text


def test_run_sh_test_installs_then_reports_skips():
    text = open(os.path.join(REPO, "run.sh")).read()
    body = text[text.index("    test)"):]
    assert body.index("alertbutton.checks.prereqs --install") < body.index("python -m pytest")
    assert "ALERTBUTTON_SKIPS_FILE" in body and 'cat "$skips"' in body


def test_the_suite_ends_with_its_skips_and_their_reasons(tmp_path):
    """A skipped test is named with its reason in the run's last line and in the file run.sh prints."""
    skips = tmp_path / "skips.txt"
    env = dict(os.environ, ALERTBUTTON_SKIPS_FILE=str(skips))
    env.pop("PYTEST_XDIST_WORKER", None)
    # the 32-bit VM has no ssl: the HTTPS tests are skipped there with that reason
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "--vm", "32",
                           os.path.join(REPO, "tests", "host", "test_platform_https.py")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = skips.read_text().splitlines()
    assert len(lines) == 1 and "32-bit" in lines[0], lines
    n = int(lines[0].split("skipped ")[1].split(":")[0])
    assert n >= 1 and "x the 32-bit VM has no ssl module" in lines[0], lines
    assert lines[0].split(": ", 1)[1] in proc.stdout


def test_licence_is_an_spdx_expression():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)
    assert meta["project"]["license"] == "MIT"
    req = [r for r in meta["build-system"]["requires"] if r.startswith("setuptools")]
    assert req == ["setuptools>=77"]  # the first setuptools that reads an SPDX string without a warning
