# Position fixes and the last known fix, kept in RAM and on flash so an alert never waits for GNSS.
from firmware import clock, storage, uptime

# Horizontal accuracy estimate from HDOP: a user-equivalent range error of 5 m (typical consumer GNSS,
# open sky). It is an estimate and the SMS says "précision ~N m", never a guarantee.
UERE_M = 5.0

_PERSIST_EVERY_MS = 600000  # flash wear: at most every 10 min unless the position moved a lot
_PERSIST_MOVE_DEG = 0.001  # ~100 m


class Fix:
    __slots__ = ("lat", "lon", "acc_m", "utc", "up_ms", "source", "sats")

    def __init__(self, lat, lon, acc_m, utc=None, up_ms=None, source="gnss", sats=0):
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError("coordinates out of range")
        self.lat = lat
        self.lon = lon
        self.acc_m = acc_m
        self.utc = utc  # epoch seconds of the fix (device epoch), or None when unknown
        # firmware.uptime ms when obtained during this boot, or None (loaded from flash). Not ticks:
        # a fix a week old must read a week old, not wrap back to "2 s" (issue 17)
        self.up_ms = up_ms
        self.source = source
        self.sats = sats

    def stamp(self):
        """The fix was obtained now."""
        self.up_ms = uptime.ms()
        return self

    def age_s(self, now_ms=None):
        """Seconds since the fix, or None when it cannot be known (old fix and no valid clock).
        now_ms: uptime ms (default: now)."""
        if self.up_ms is not None:
            return max(0, (uptime.ms() if now_ms is None else now_ms) - self.up_ms) // 1000
        now = clock.utc_now()
        if now is None or self.utc is None:
            return None
        return max(0, int(now - self.utc))

    def as_tuple(self):
        """(lat, lon, acc_m, age_s): what the SMS composer takes."""
        return (self.lat, self.lon, self.acc_m, self.age_s())


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
