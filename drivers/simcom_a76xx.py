# SIMCom A76xx (A7670E reference) dialect: GNSS through AT+CGNSSPWR / AT+CGNSSINFO, boot banners,
# power key. SMS, SIM and registration come from drivers/modem.py.
import asyncio

from drivers.at_channel import AtError, AtTimeout
from drivers.modem import Modem
from firmware import clock
from firmware.location import Fix, UERE_M


def parse_cgnssinfo(payload, ddmm=False):
    """Fix from a +CGNSSINFO payload, or None without a fix.

    The field count differs between firmware versions (some insert a Galileo or QZSS satellite count),
    so lat/lon are found around the N/S field instead of by fixed position:
    <mode>,<sat counts...>,<lat>,<N/S>,<lon>,<E/W>,<date ddmmyy>,<utc hhmmss.s>,<alt>,<speed>,<course>,
    <PDOP>,<HDOP>,<VDOP>. A76xx gives decimal degrees; SIM7600 gives ddmm.mmmm (ddmm=True)."""
    f = payload.split(b",")
    ns = -1
    for i in range(2, len(f) - 2):
        if f[i] in (b"N", b"S") and f[i + 2] in (b"E", b"W"):
            ns = i
            break
    if ns < 0 or len(f) < ns + 11:
        return None
    try:
        lat = _coord(f[ns - 1], ddmm)
        lon = _coord(f[ns + 1], ddmm)
        if f[ns] == b"S":
            lat = -lat
        if f[ns + 2] == b"W":
            lon = -lon
        hdop = float(f[ns + 9]) if f[ns + 9] else 0.0
        sats = 0
        for v in f[1:ns - 1]:
            if v.strip():
                sats += int(v)
        utc = None
        d, t = f[ns + 3], f[ns + 4]
        if len(d) == 6 and len(t) >= 6:
            utc = clock.epoch(2000 + int(d[4:6]), int(d[2:4]), int(d[0:2]),
                              int(t[0:2]), int(t[2:4]), int(t[4:6]))
        acc = hdop * UERE_M if hdop > 0 else 50.0
        return Fix(lat, lon, acc, utc, None, "gnss", sats)
    except ValueError:
        return None


def _coord(v, ddmm):
    x = float(v)
    if ddmm:
        deg = int(x / 100)
        x = deg + (x - deg * 100) / 60.0
    return x


class SimcomA76xx(Modem):
    name = "simcom-a76xx"
    ddmm = False

    def __init__(self, uart, log=None, power_key=None):
        super().__init__(uart, log, power_key)
        self.gnss_on = False
        self.gnss_ready = False
        for banner in (b"*ATREADY", b"SMS DONE", b"PB DONE", b"RDY", b"+CGNSSPWR:", b"*ISIMAID"):
            self.at.on_urc(banner, self._urc_banner)

    def _urc_banner(self, ln):
        if ln.startswith(b"+CGNSSPWR:"):
            self.gnss_ready = b"READY" in ln
        elif ln.startswith(b"*ATREADY") or ln == b"RDY":
            self.booted_banner = True  # a banner after bring-up means the modem rebooted
            if self.ready.is_set():
                self.log("modem_rebooted")

    async def gnss_power(self, on):
        try:
            await self.at.command("AT+CGNSSPWR=%d" % (1 if on else 0), timeout_ms=10000)
            self.gnss_on = on
        except (AtError, AtTimeout) as e:
            self.log("gnss_power_failed", on=on, err=repr(e))

    async def gnss_fix(self):
        """The current GNSS fix, or None (no fix, GNSS off, or the modem busy/failing)."""
        try:
            r = await self.at.command("AT+CGNSSINFO", timeout_ms=3000, expect="+CGNSSINFO:")
        except (AtError, AtTimeout):
            return None
        v = r.line(b"+CGNSSINFO:")
        return parse_cgnssinfo(v, self.ddmm) if v else None

    async def power_cycle(self):
        """Power key: a low pulse turns the A7670 on or off (HD: >=50 ms on, >=2.5 s off)."""
        pk = self.power_key
        if pk is None:
            return False
        pk.value(1)
        await asyncio.sleep_ms(2600)
        pk.value(0)
        await asyncio.sleep_ms(3000)
        pk.value(1)
        await asyncio.sleep_ms(100)
        pk.value(0)
        self.ready.clear()
        return True
