# The last known fix, kept in RAM and on flash so an alert never waits for GNSS. A fresh GNSS fix with
# a date also sets the wall clock (firmware/core/clock.py): the evidence TIME flag rests on it.
import time

from firmware.system import storage
from firmware.core import clock, uptime
from firmware.core.fix import Fix, UERE_M  # noqa: F401  (the value type lives in core)

_PERSIST_EVERY_MS = 600000  # flash wear: at most every 10 min unless the position moved a lot
_PERSIST_MOVE_DEG = 0.001  # ~100 m


class LastFix:
    """Best known position. Survives reboots through a small file written atomically."""

    def __init__(self, path="lastfix.json", log=None):
        self.path = path
        self.log = log
        self.fix = None
        self._saved_ms = None
        self._saved = None
        self.load()

    def load(self):
        d = storage.read_json(self.path)
        if d:
            try:
                self.fix = Fix(float(d["lat"]), float(d["lon"]), float(d["acc_m"]), d.get("utc"), None,
                               d.get("source", "gnss"))
                self._saved = self.fix
            except (KeyError, ValueError, TypeError):
                self.fix = None  # a damaged file is ignored, never trusted

    def update(self, fix):
        """A fix obtained now (stamped): it becomes the best one, and sets the clock when it is GNSS's
        own (not dead reckoning) and carries a date."""
        self.fix = fix
        set_clock(fix, self.log)
        if self._should_persist(fix):
            try:
                storage.write_json(self.path, {"lat": fix.lat, "lon": fix.lon, "acc_m": fix.acc_m,
                                               "utc": fix.utc, "source": fix.source})
                self._saved_ms = uptime.ms()
                self._saved = fix
            except OSError as e:
                if self.log:
                    self.log("lastfix_save_failed", err=repr(e))

    def _should_persist(self, fix):
        s = self._saved
        if s is None or self._saved_ms is None:
            return True
        if abs(fix.lat - s.lat) > _PERSIST_MOVE_DEG or abs(fix.lon - s.lon) > _PERSIST_MOVE_DEG:
            return True
        return uptime.ms() - self._saved_ms > _PERSIST_EVERY_MS

    def best(self):
        return self.fix


def set_clock(fix, log=None):
    """Sets the wall clock from a fresh GNSS fix's UTC date and time; an implausible date is refused
    and logged. True when the clock was set."""
    if fix.source != "gnss" or fix.utc is None or fix.up_ms is None:
        return False
    t = time.gmtime(fix.utc)
    if clock.set_from(clock.GNSS, t[0], t[1], t[2], t[3], t[4], t[5], (uptime.ms() - fix.up_ms) // 1000):
        return True
    if log:
        log("clock_refused", source="gnss", utc="%04d-%02d-%02dT%02d:%02d:%02d" % t[:6])
    return False
