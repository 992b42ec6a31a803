# SIMCom A76xx (A7670E reference) dialect: GNSS through AT+CGNSSPWR / AT+CGNSSINFO, boot banners,
# power key. SMS, SIM and registration come from drivers/modem/base.py.
import asyncio

from firmware.core.errors import AtError, AtTimeout
from drivers.modem.base import Modem
from firmware.core import clock
from firmware.core.fix import Fix, UERE_M


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
        if f[0].strip() and f[0].strip() not in (b"2", b"3"):
            return None  # <mode>: 2 is 2D, 3 is 3D; anything else is no fix
        sats = 0
        counted = False
        for v in f[1:ns - 1]:
            if v.strip():
                sats += int(v)
                counted = True
        if counted and sats < 3:  # a position from 0-2 satellites is no fix (issue 19, as gpsd's GGA)
            return None
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


def parse_cpsi(payload):
    """(mcc, mnc, lac_or_tac, cell_id) from a +CPSI payload, or None without service.

    SIMCom "Inquiring UE system information" (SIM7500/SIM7600 AT manual V1.08 and A76XX AT manual:
    same layout; SIM7080 says "LTE CAT-M1" / "LTE NB-IOT" as system mode):
      LTE:   <mode>,<op mode>,<MCC>-<MNC>,<TAC 0xhex>,<SCellID decimal>,<PCellID>,<band>,...
      GSM:   <mode>,<op mode>,<MCC>-<MNC>,<LAC 0xhex>,<Cell ID decimal>,...
      WCDMA: <mode>,<op mode>,<MCC>-<MNC>,<LAC 0xhex>,<Cell ID decimal>,...
      "NO SERVICE,Online" without a cell.
    mcc and the area code and cell id are ints; mnc is the digit string as broadcast ("01", "030"):
    a 3-digit MNC with a leading zero is a different network from the 2-digit one."""
    f = payload.split(b",")
    if len(f) < 5:
        return None
    mode = f[0].strip()
    if not (mode.startswith(b"LTE") or mode == b"GSM" or mode == b"WCDMA"):
        return None  # NO SERVICE, CDMA/EVDO (other layouts) or unknown
    plmn = f[2].strip().split(b"-")
    if len(plmn) != 2 or len(plmn[0]) != 3 or not 2 <= len(plmn[1]) <= 3 or not _digits(plmn[0] + plmn[1]):
        return None
    try:
        mcc = int(plmn[0])
        area = f[3].strip()
        if area[:2] in (b"0x", b"0X"):
            area = area[2:]
        area = int(area, 16)  # always hex, with or without the 0x (seen both ways)
        cid = int(f[4].strip())
    except ValueError:
        return None
    if cid < 0 or area < 0:
        return None
    return (mcc, plmn[1].decode(), area, cid)


def _digits(b):
    for c in b:
        if not 48 <= c <= 57:
            return False
    return len(b) > 0


class SimcomA76xx(Modem):
    name = "simcom-a76xx"
    ddmm = False
    gnss_blocks_lte = False  # GNSS and LTE run together (SIM7080 cannot: see simcom_sim7080.py)

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
                self.needs_setup = True
                self.log("modem_rebooted")
                self.at.abort(b"modem rebooted")  # an SMS in flight is lost: retry it at once
                self.setup_needed.set()

    async def gnss_power(self, on):
        try:
            await self.at.command("AT+CGNSSPWR=%d" % (1 if on else 0), timeout_ms=10000)
            self.gnss_on = on
        except (AtError, AtTimeout) as e:
            self.log("gnss_power_failed", on=on, err=repr(e))

    async def gnss_fix(self):
        """The current GNSS fix, or None (no fix, GNSS off, or the modem busy/failing)."""
        return (await self.gnss_read())[1]

    async def gnss_read(self):
        """(answered, fix): answered is True when the GNSS engine gave its report (with or without a
        fix: "+CGNSSINFO: ,,,," indoors), False when it did not answer or refused (no GNSS engine,
        modem busy or failing)."""
        try:
            r = await self.at.command("AT+CGNSSINFO", timeout_ms=3000, expect="+CGNSSINFO:")
        except (AtError, AtTimeout):
            return False, None
        v = r.line(b"+CGNSSINFO:")
        if v is None:
            return False, None
        return True, parse_cgnssinfo(v, self.ddmm) if v else None

    async def serving_cell(self):
        """(mcc, mnc, lac_or_tac, cell_id) of the serving cell from AT+CPSI?, or None (no service,
        modem busy or failing). For the SMS when there is no usable fix."""
        try:
            r = await self.at.command("AT+CPSI?", timeout_ms=3000, expect="+CPSI:")
        except (AtError, AtTimeout):
            return None
        v = r.line(b"+CPSI:")
        return parse_cpsi(v) if v else None

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
