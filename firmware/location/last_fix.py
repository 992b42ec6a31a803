# The last known fix, kept in RAM and on flash so an alert never waits for GNSS.
from firmware.system import storage
from firmware.core import uptime
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
        self.fix = fix
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
