"""Helpers of the web page's tests: the simulated button (firmware in the VM, console on a pty) and
`alertbutton web` started on it as a technician would (a subprocess; its first stdout line is the URL)."""
import os
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest

from alertbutton.sim.run import SimRun

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


WAV = os.path.join(REPO, "tests", "data", "audio", "speechlike_8k.wav")


def start_sim(out, duration_s=300):
    """A new button (no contact, no PIN); an alert also records sound evidence (a speech-like WAV at the
    microphone, 4 s of pre-alert and 8 s after the trigger, in 4 s chunks), as test_evidence_e2e.py does."""
    sc = {"wearer": "", "contacts": [], "gnss": None, "last_fix": None, "events": [], "duration_s": duration_s,
          "modem": {"cmgs_latency_s": 0.1, "cmd_latency_s": 0.005}, "audio": WAV, "audio_speed": 6,
          "config": {"evidence_prealert_s": 4, "evidence_record_s": 8, "evidence_chunk_s": 4}}
    run = SimRun(sc, str(out), echo=None)
    run.start()
    if not run.wait_for(lambda r: any(e["event"] == "modem_ready" for e in r.events), 20, fail_on_exit=True):
        raise AssertionError(run.events)
    return run


class WebServer:
    """`alertbutton web --port PTY --listen 127.0.0.1:0`; .url (with the token), .authority, .token."""

    def __init__(self, port, *extra, evidence_dir=None):
        args = [sys.executable, "-m", "alertbutton.cli", "web", "--port", port, "--listen", "127.0.0.1:0"]
        if evidence_dir:
            args += ["--evidence-dir", str(evidence_dir)]
        self.args = args + list(extra)
        self._start()

    def restart(self):
        """Stopped (the port freed for another client) and started again with the same arguments: a new
        URL and token."""
        self.stop()
        self._start()

    def _start(self):
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "tools"))
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=REPO)
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise AssertionError("alertbutton web printed no URL: %s" % self.proc.stderr.read())
        u = urlsplit(self.url)
        self.authority = u.netloc
        self.host, self.port = u.hostname, u.port
        self.token = u.query.split("token=", 1)[1]
        self.stderr = []
        self.stdout = []  # what it prints after the URL (uvicorn's access log would go there)
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        threading.Thread(target=lambda: self.stdout.extend(self.proc.stdout), daemon=True).start()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_sim(run, pred, timeout=30):
    """Until pred() holds, the simulated board supervised meanwhile (its resets, its watchdog)."""
    if not run.wait_for(lambda _r: pred(), timeout, fail_on_exit=True):
        raise AssertionError([e for e in run.events if e["event"] != "state"][-20:])


# the fixtures both web test modules use (imported by name into each)
@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    run = start_sim(tmp_path_factory.mktemp("websim"), duration_s=400)
    yield run
    run.stop()


@pytest.fixture(scope="module")
def web(sim, tmp_path_factory):
    # started as the association's technician would: with its key file, which opens the sealed recordings
    w = WebServer(sim.console_port, "--association-key", sim.association_key,
                  evidence_dir=tmp_path_factory.mktemp("webev"))
    yield w
    w.stop()
