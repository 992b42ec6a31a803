# A position fix: a value type shared by the GNSS drivers (modem GNSS, NMEA receiver), the last
# known fix, the SMS texts and the host tools.
from firmware.core import clock, uptime

# Horizontal accuracy estimate from HDOP: a user-equivalent range error of 5 m (typical consumer GNSS,
# open sky). It is an estimate and the SMS says "précision ~N m", never a guarantee.
UERE_M = 5.0



class Fix:
    __slots__ = ("lat", "lon", "acc_m", "utc", "up_ms", "source", "sats")

    def __init__(self, lat, lon, acc_m, utc=None, up_ms=None, source="gnss", sats=0):
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError("coordinates out of range")
        self.lat = lat
        self.lon = lon
        self.acc_m = acc_m
        self.utc = utc  # epoch seconds of the fix (device epoch), or None when unknown
        # firmware.core.uptime ms when obtained during this boot, or None (loaded from flash). Not ticks:
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
