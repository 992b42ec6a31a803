"""A real MQTT broker for tests (issue 9): Debian's mosquitto on 127.0.0.1, TLS with a CA and server
certificate made here with openssl, password authentication (mosquitto_passwd), persistence on (a
graceful stop keeps sessions and queued QoS 1 messages). Plus a subscriber (mosquitto_sub with a
persistent session) standing for the platform. Loopback only."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time

from alertbutton.checks import prereqs

DEVICE_USER = ("ab-test-1", "device-pass-1")
OTHER_DEVICE = ("ab-test-2", "device-pass-2")
PLATFORM_USER = ("platform", "platform-pass-1")


def tool(name):
    return prereqs.tool(name)


def missing():
    """Names of the tools that are not installed (apt-get install mosquitto mosquitto-clients openssl)."""
    return prereqs.missing()


def require_tools():
    """Skip the test when the broker's tools are missing; on CI (.ci/run installs them) fail instead."""
    import pytest
    miss = missing()
    if miss:
        msg = "missing %s: %s (./run.sh test does as root)" % (", ".join(miss), prereqs.INSTALL_HINT)
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def running_broker(tmp_path):
    """Generator for a pytest fixture: a fresh mosquitto (TLS, password auth) in tmp_path/broker."""
    require_tools()
    d = tmp_path / "broker"
    d.mkdir()
    b = Broker(str(d))
    b.start()
    try:
        yield b
    finally:
        b.stop()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _run(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def make_ca(d, name, cn):
    """(key, pem, der) paths of a new self-signed CA."""
    key, pem, der = (os.path.join(d, name + ext) for ext in (".key", ".pem", ".der"))
    _run(tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", pem, "-days", "2", "-subj", "/CN=" + cn)
    _run(tool("openssl"), "x509", "-in", pem, "-outform", "der", "-out", der)
    return key, pem, der


def make_server_cert(d, ca_pem, ca_key, name="localhost"):
    """(key, pem) paths of a server certificate for DNS name `name`, signed by the CA."""
    key, cert = os.path.join(d, "server.key"), os.path.join(d, "server.pem")
    csr, ext = os.path.join(d, "server.csr"), os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\n" % name)
    _run(tool("openssl"), "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
    _run(tool("openssl"), "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext)
    return key, cert


class Broker:
    """mosquitto on loopback: a TLS listener on .port and a plain one on .plain_port (lab brokers, the
    32-bit VM that has no ssl), the same password file and ACL for both."""

    def __init__(self, workdir):
        self.dir = workdir
        self.port = _free_port()
        self.plain_port = _free_port()
        self.proc = None
        self.log = os.path.join(workdir, "mosquitto.log")
        ca_key, self.ca_pem, self.ca_der = make_ca(workdir, "ca", "alertbutton test CA")
        _k, _p, self.other_ca_der = make_ca(workdir, "other_ca", "not the platform CA")
        self.key, self.cert = make_server_cert(workdir, self.ca_pem, ca_key)
        self.passwd = os.path.join(workdir, "passwd")
        open(self.passwd, "w").close()
        for user, pw in (DEVICE_USER, OTHER_DEVICE, PLATFORM_USER):
            _run(tool("mosquitto_passwd"), "-b", self.passwd, user, pw)
        os.chmod(self.passwd, 0o600)
        # per-device rights: a device writes only its own topics; the platform reads everything
        self.acl = os.path.join(workdir, "acl")
        with open(self.acl, "w") as f:
            f.write("user %s\ntopic read #\ntopic write status/probe\n\n"
                    "pattern write alerts/%%u\npattern write status/%%u\n" % PLATFORM_USER[0])
        self.conf = os.path.join(workdir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "listener %d 127.0.0.1" % self.port,
                "cafile " + self.ca_pem, "certfile " + self.cert, "keyfile " + self.key,
                "listener %d 127.0.0.1" % self.plain_port,
                "allow_anonymous false", "password_file " + self.passwd, "acl_file " + self.acl,
                "persistence true", "persistence_location " + workdir + "/",
                "log_dest file " + self.log,
                # run as root (CI), mosquitto would switch to user mosquitto, who cannot read this dir
                "user " + pwd.getpwuid(os.getuid()).pw_name, ""]))

    def start(self):
        self.proc = subprocess.Popen([tool("mosquitto"), "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited: " + self.log_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen")

    def stop(self):
        """A graceful stop (SIGTERM): mosquitto saves sessions and queued messages first."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def revoke(self, user):
        """What the association does for a seized or lost button: delete its user from the password
        file with mosquitto's own tool, then have mosquitto reload its files (SIGHUP)."""
        _run(tool("mosquitto_passwd"), "-D", self.passwd, user)
        self.reload()

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)  # mosquitto reloads between two iterations of its loop

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def device_config(self, plain=False, user=DEVICE_USER, **over):
        """A device's platform.json for this broker (plain=True: the plain listener, with the
        explicit opt-in it needs)."""
        mq = {"host": "localhost", "port": self.port, "user": user[0], "password": user[1], "tls": True}
        if plain:
            mq.update(port=self.plain_port, tls=False, insecure_plaintext=True)
        cfg = {"device": user[0], "transport": "mqtt", "link": "host", "heartbeat_s": 60,
               "timeout_s": 3, "backoff_max_s": 2, "linger_s": 30, "mqtt": mq}
        for k, v in over.items():
            if k in cfg["mqtt"]:
                cfg["mqtt"][k] = v
            else:
                cfg[k] = v
        return cfg


class Subscriber:
    """The platform's side: mosquitto_sub on alerts/# and status/#, QoS 1, persistent session (it
    gets what was published while it was reconnecting), reconnecting by itself."""

    def __init__(self, broker, client_id="platform-test"):
        self.broker = broker
        self.msgs = []  # (topic, payload dict or raw str)
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [tool("mosquitto_sub"), "-h", "localhost", "-p", str(broker.port), "--cafile", broker.ca_pem,
             "-u", PLATFORM_USER[0], "-P", PLATFORM_USER[1], "-i", client_id, "-c", "-q", "1",
             "-t", "alerts/#", "-t", "status/#", "-v"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            try:
                body = json.loads(payload)
            except ValueError:
                body = payload
            with self._lock:
                self.msgs.append((topic, body))

    def ready(self, timeout=10):
        """Wait until the subscription is live: a probe published by the host comes back."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            subprocess.run([tool("mosquitto_pub"), "-h", "localhost", "-p", str(self.broker.port), "--cafile",
                            self.broker.ca_pem, "-u", PLATFORM_USER[0], "-P", PLATFORM_USER[1], "-q", "1",
                            "-t", "status/probe", "-m", "probe"], capture_output=True, timeout=10)
            t = time.monotonic() + 1
            while time.monotonic() < t:
                if any(topic == "status/probe" for topic, _ in self.snapshot()):
                    return True
                time.sleep(0.05)
        return False

    def snapshot(self):
        with self._lock:
            return list(self.msgs)

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.snapshot()):
                return True
            time.sleep(0.05)
        return pred(self.snapshot())

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
