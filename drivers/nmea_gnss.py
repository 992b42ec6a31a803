# External GNSS receiver streaming NMEA 0183 on a UART (u-blox, Quectel L76, ...). Same interface as
# the modems' GNSS (gnss_on, gnss_power(on), gnss_fix() -> firmware.core.fix.Fix or None), so the
# alert path does not care where the position comes from. Parsing is firmware/core/nmea.py; this driver
# only moves bytes, switches the receiver's enable pin, and turns epochs into Fix objects.
import asyncio
from micropython import const

from firmware.core import clock, uptime
from firmware.core.fix import Fix, UERE_M
from firmware.core.nmea import NmeaParser

_CHUNK = const(128)
_GGA_DEAD_RECKONING = const(6)


def to_fix(e):
    """firmware.core.fix.Fix from a firmware.core.nmea epoch with a fix (mode >= 2), else None."""
    if e is None or e.mode < 2 or e.stale or e.lat is None:
        return None
    utc = None
    dt = e.datetime()
    if dt is not None and dt[0] >= 2000:
        utc = clock.epoch(dt[0], dt[1], dt[2], dt[3], dt[4], dt[5])
    acc = e.hdop * UERE_M if e.hdop else 50.0
    src = "gnss-dr" if e.quality == _GGA_DEAD_RECKONING else "gnss"  # dead reckoning: estimated
    try:
        return Fix(e.lat, e.lon, acc, utc, None, src, e.sats or 0)
    except ValueError:
        return None


class NmeaGnss:
    name = "nmea"
    gnss_blocks_lte = False  # a separate receiver and antenna

    def __init__(self, uart, log=None, enable_pin=None, max_age_ms=3000, allow_no_checksum=False):
        self._uart = uart
        self.log = log or (lambda *a, **k: None)
        self.enable_pin = enable_pin  # high = receiver powered (its EN / V_BCKP switch), if wired
        self.max_age_ms = max_age_ms  # an epoch older than this is not "the current fix"
        self.parser = NmeaParser(on_fix=self._on_epoch, allow_no_checksum=allow_no_checksum)
        self.gnss_on = enable_pin is None  # without an enable pin the receiver is always on
        # it streams sentences on its own UART: a light sleep would let them overflow the ESP32's
        # 128-byte RX FIFO (the A7670's GNSS is polled instead), so the power task stays awake
        self.streams = True
        self._chunk = bytearray(_CHUNK)
        self._fix = None
        self._fix_ms = 0
        self._ok = 0  # parser.ok at the last check
        self._heard = None  # uptime ms of the last valid sentence, None before the first
        self.task = None

    def start(self):
        self.task = asyncio.create_task(self._read_loop())
        return self.task

    def feed(self, buf, n=None):
        """Bytes as a UART read returned them (the reader task calls this; tests too)."""
        self.parser.feed(buf, n)
        if self.parser.ok != self._ok:
            self._ok = self.parser.ok
            self._heard = uptime.ms()

    def _on_epoch(self, e):
        self._fix = to_fix(e)  # a no-fix epoch withdraws the previous fix at once
        self._fix_ms = uptime.ms()  # not ticks: a fix a week old must never read as fresh

    async def _read_loop(self):
        reader = asyncio.StreamReader(self._uart)
        chunk = self._chunk
        while True:
            n = await reader.readinto(chunk)
            if not n:
                await asyncio.sleep_ms(20)  # closed or spurious wake: stay alive
                continue
            self.feed(chunk, n)

    async def gnss_power(self, on):
        if self.enable_pin is not None:
            self.enable_pin.value(1 if on else 0)
            self.gnss_on = bool(on)
        if not on:
            self._fix = None

    async def gnss_fix(self):
        """The receiver's current fix (its last epoch, if valid and at most max_age_ms old), or None."""
        if not self.gnss_on or self._fix is None:
            return None
        if uptime.ms() - self._fix_ms > self.max_age_ms:
            return None  # the receiver stopped talking or lost the fix (no-fix epochs do not refresh it)
        return self._fix

    async def gnss_read(self):
        """(answered, fix): answered when a valid sentence (with or without a fix) came within
        max_age_ms; False for a receiver that is off, unplugged or sending only garbage."""
        heard = self._heard is not None and uptime.ms() - self._heard <= self.max_age_ms
        return heard and self.gnss_on, await self.gnss_fix()

    def stats(self):
        p = self.parser
        return {"ok": p.ok, "badsum": p.badsum, "nosum": p.nosum, "malformed": p.malformed,
                "unknown": p.unknown, "overflow": p.overflow, "errors": p.errors, "epochs": p.epochs}
