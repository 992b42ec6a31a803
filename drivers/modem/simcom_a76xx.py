# SIMCom A76xx (A7670E reference) dialect: GNSS through AT+CGNSSPWR / AT+CGNSSINFO, boot banners,
# power key, network time. SMS, SIM and registration come from drivers/modem/base.py.
#
# Network time (A76XX Series AT Command Manual V1.09, network chapter, and 3GPP 27.007 8.15):
#   AT+CTZU=1   the module's RTC takes the network's time (NITZ) when the network sends it;
#   AT+CTZR=1   each time-zone report from the network comes as a "+CTZV: ..." URC;
#   AT+CCLK?    +CCLK: "yy/MM/dd,hh:mm:ss+zz": local time, zz the offset in quarters of an hour.
# The module's RTC starts from a default date at power-on (e.g. "70/01/01,00:00:00+00") and a network
# may send no NITZ at all, so AT+CCLK? is believed only after a +CTZV came (once per +CTZV) and only
# with a plausible date (firmware/core/clock.py); it then sets the device clock as NETWORK time.
import asyncio
import time
from time import ticks_diff, ticks_ms

from firmware.core.errors import AtError, AtTimeout
from drivers.modem.base import Modem
from firmware.core import clock
from firmware.core.fix import Fix, UERE_M

_NITZ_GAP_MS = 60000


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


def parse_cclk(payload):
    """(year, month, day, hh, mm, ss) in UTC from a +CCLK payload ('"yy/MM/dd,hh:mm:ss+zz"'), or None
    when malformed or not a plausible date (see firmware/core/clock.py)."""
    v = payload.strip()
    if len(v) != 22 or v[0] != 34 or v[21] != 34 or v[18] not in b"+-":  # 34: '"'
        return None
    v = v[1:21]
    if v[2:3] != b"/" or v[5:6] != b"/" or v[8:9] != b"," or v[11:12] != b":" or v[14:15] != b":":
        return None
    f = []
    for i in (0, 3, 6, 9, 12, 15, 18):
        d = v[i:i + 2] if i != 18 else v[18:20]
        if not _digits(d):
            return None
        f.append(int(d))
    y, mo, dd, hh, mi, ss, q = 2000 + f[0], f[1], f[2], f[3], f[4], f[5], f[6]
    if v[17] == 45:  # '-'
        q = -q
    if q < -96 or q > 96 or not clock.plausible(y, mo, dd, hh, mi, ss):
        return None
    t = time.gmtime(clock.epoch(y, mo, dd, hh, mi, ss) - q * 900)
    return t[0], t[1], t[2], t[3], t[4], t[5]


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
        self.nitz_pending = False  # a +CTZV came: the module's RTC has the network's time to read
        self._nitz_task = None  # the read it started (at most one at a time)
        self._nitz_at = None  # ticks_ms when it started
        self.at.on_urc(b"+CTZV:", self._urc_ctzv)

    def _urc_ctzv(self, ln):
        # runs in the AT reader task: the read is a task of its own, so the time is known within a
        # second of registering (an alert right after a reboot), not at the next status poll
        # (at most once a minute: a burst of reports must not crowd the SMS; the status poll reads later)
        self.nitz_pending = True
        if (self.ready.is_set() and (self._nitz_task is None or self._nitz_task.done())
                and (self._nitz_at is None or ticks_diff(ticks_ms(), self._nitz_at) >= _NITZ_GAP_MS)):
            self._nitz_at = ticks_ms()
            self._nitz_task = asyncio.create_task(self.network_time())

    async def configure(self):
        await super().configure()
        try:  # NITZ into the module's RTC, and a +CTZV each time the network sends it
            await self.at.command("AT+CTZU=1")
            await self.at.command("AT+CTZR=1")
        except (AtError, AtTimeout) as e:
            self.log("network_time_unsupported", err=repr(e))
        await self.network_time()

    async def poll_status(self):
        await super().poll_status()
        await self.network_time()

    async def network_time(self):
        """After a +CTZV: reads AT+CCLK? and sets the device clock from it (NETWORK) when plausible.
        True when the clock was set."""
        if not self.nitz_pending:
            return False
        try:
            r = await self.at.command("AT+CCLK?", timeout_ms=2000, expect="+CCLK:")
        except (AtError, AtTimeout) as e:
            self.log("network_time_failed", err=repr(e))
            return False
        self.nitz_pending = False
        v = r.line(b"+CCLK:") or b""
        t = parse_cclk(v)
        if t is None:
            clock.refused += 1
            self.log("clock_refused", source="network", cclk=str(v))
            return False
        return clock.set_from(clock.NETWORK, *t)

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
