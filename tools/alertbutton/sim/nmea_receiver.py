"""A stand-alone GNSS receiver on a pty for the simulator: it replays a real receiver's NMEA log.

Boards whose positions come from an external NMEA 0183 receiver instead of the modem's GNSS (u-blox,
Quectel L76, ...) use drivers/nmea_gnss.py on a UART. This peer plays the receiver: it writes the
sentences of a recorded log (gpsd's regression logs, tests/data/nmea/) to the pty at a steady line
rate, looping, and only while the board holds the receiver's enable pin high (the driver's
gnss_power()). Nothing here decodes NMEA: tests compare what the firmware sends with gpsd's own
decoding of the same log (the .chk file).

Scenario key:
    "gnss_receiver": {"log": "tests/data/nmea/neo-m8n.log",   # required; relative to the repo
                      "lines_per_s": 20,                      # replay speed
                      "garbage_every": 0,                     # every Nth line: random bytes first
                      "always_on": false,                     # true: ignore the enable pin (no EN wired)
                      "silent": false}                        # true: says nothing (unplugged, dead, TX cut)
"""
import os
import random
import threading
import time
import tty

from alertbutton import vm


class ReceiverError(ValueError):
    pass


def load_log(path):
    """The sentences of a gpsd log: '#' comment lines dropped, gpsd's '|' write-boundary cookies
    removed (tcp-torture.log), CRLF endings as a receiver sends them."""
    full = path if os.path.isabs(path) else os.path.join(vm.REPO, path)
    try:
        with open(full, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ReceiverError("gnss_receiver.log: %s" % e)
    lines = []
    for ln in raw.splitlines():
        if not ln.strip() or ln.startswith(b"#"):
            continue
        lines.append(ln.replace(b"|", b"").rstrip(b"\r\n") + b"\r\n")
    if not lines:
        raise ReceiverError("gnss_receiver.log: %s holds no sentence" % path)
    return lines


def check_spec(spec):
    if not isinstance(spec, dict) or not spec.get("log"):
        raise ReceiverError("gnss_receiver: an object with at least \"log\" (a gpsd NMEA log)")
    rate = spec.get("lines_per_s", 20)
    if not isinstance(rate, (int, float)) or not 0 < rate <= 1000:
        raise ReceiverError("gnss_receiver.lines_per_s: a number in (0, 1000]")
    load_log(spec["log"])
    return spec


class NmeaReceiverSim:
    def __init__(self, spec, seed=1, echo=None):
        check_spec(spec)
        self.lines = load_log(spec["log"])
        self.period = 1.0 / float(spec.get("lines_per_s", 20))
        self.garbage_every = int(spec.get("garbage_every", 0))
        self.powered = bool(spec.get("always_on", False))
        self.silent = bool(spec.get("silent", False))
        self.rng = random.Random(seed)
        self.echo = echo or (lambda *a: None)
        self.sent = 0
        self.garbage = 0
        self._master = self._slave = None
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        """Open the pty and start the replay; returns the path the board's UART opens."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return os.ttyname(self._slave)

    def enable(self, level):
        """The board's GNSS_EN pin: the receiver talks only while powered."""
        self.powered = bool(level)

    def _run(self):
        i = 0
        while not self._stop.wait(self.period):
            if not self.powered or self.silent:
                continue
            out = b""
            if self.garbage_every and (self.sent + 1) % self.garbage_every == 0:
                out += bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 40)))
                self.garbage += 1
            out += self.lines[i]
            i = (i + 1) % len(self.lines)
            try:
                os.write(self._master, out)
            except OSError:
                return  # the pty went away with the run
            self.sent += 1

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
