# Quectel BG95 (LTE-M / NB-IoT + GNSS) dialect. SMS, SIM and registration come from drivers/modem/base.py.
# GNSS (BG95&BG77&BG600L Series GNSS Application Note; the same commands as the BG96 GNSS AN):
#   AT+QGPS=1         start a GNSS session; +CME ERROR: 504 "Session is ongoing" if one runs
#   AT+QGPSEND        end it; +CME ERROR: 505 "Session not active" if none runs
#   AT+QGPSLOC=2      +QGPSLOC: <UTC hhmmss.s>,<lat (-)dd.ddddd>,<lon (-)ddd.ddddd>,<HDOP>,<alt>,<fix 2|3>,
#                     <COG>,<spkm>,<spkn>,<date ddmmyy>,<nsat>
#                     +CME ERROR: 516 "Not fixed now" while there is no fix
#   With AT+CMEE=2 (drivers/modem/base.py sets it) the errors come as their texts: both forms are handled.
# Serving cell: AT+QENG="servingcell" (BG95 AT Commands Manual, engineering mode), e.g.
#   +QENG: "servingcell","NOCONN","eMTC","FDD",334,020,3787103,260,2050,4,5,5,5B10,-108,-11,-83,19,13
#   (<state>,"eMTC",<is_tdd>,<MCC>,<MNC>,<cellID hex>,<PCID>,<earfcn>,<band>,<UL bw>,<DL bw>,<TAC hex>,...)
#   "LTE"/"CAT-M" (EC2x/BG96) share that layout; "GSM": <MCC>,<MNC>,<LAC hex>,<cellID hex>,...;
#   "NBIoT": <is_tdd>,<MCC>,<MNC>,<cellID hex>,<PCID>,<earfcn>,<band>,<TAC hex>,... (no bandwidths;
#   from the manual's parameter list, not checked against a captured answer).
#   "SEARCH" (no cell yet) has no cell fields.
# GNSS and WWAN share the BG95's RF front end too; the module time-shares it (AT+QGPSCFG="priority"),
# so SMS keep working while GNSS is on: gnss_blocks_lte stays False here.
from firmware.core.errors import AtError, AtTimeout
from drivers.modem.base import Modem
from firmware.core import clock
from firmware.core.fix import Fix, UERE_M

CME_ONGOING = 504
CME_NOT_ACTIVE = 505
CME_NOT_FIXED = 516
_CME_TEXTS = ((b"session is ongoing", CME_ONGOING), (b"session not active", CME_NOT_ACTIVE),
              (b"not fixed now", CME_NOT_FIXED))


def cme_code(final):
    """Numeric +CME ERROR code of a final result line, numeric or verbose (GNSS texts); else -1."""
    i = final.find(b":")
    if i < 0 or not final.startswith(b"+CME ERROR"):
        return -1
    v = final[i + 1:].strip()
    try:
        return int(v)
    except ValueError:
        pass
    low = v.lower()
    for text, code in _CME_TEXTS:
        if low == text:
            return code
    return -1


def parse_qgpsloc(payload):
    """Fix from a +QGPSLOC payload in mode 2 (signed decimal degrees), or None."""
    f = payload.split(b",")
    if len(f) < 11:
        return None
    try:
        if int(f[5]) not in (2, 3):
            return None
        lat = float(f[1])
        lon = float(f[2])
        hdop = float(f[3]) if f[3].strip() else 0.0
        sats = int(f[10]) if f[10].strip() else 0
        if f[10].strip() and sats < 3:  # <nsat> used: a position from 0-2 satellites is no fix (issue 19)
            return None
        utc = None
        t = f[0].strip()
        d = f[9].strip()
        if len(d) == 6 and len(t) >= 6:
            utc = clock.epoch(2000 + int(d[4:6]), int(d[2:4]), int(d[0:2]), int(t[0:2]), int(t[2:4]),
                              int(t[4:6]))
        return Fix(lat, lon, hdop * UERE_M if hdop > 0 else 50.0, utc, None, "gnss", sats)
    except ValueError:
        return None


def _unq(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == 0x22 and v[-1] == 0x22:
        return v[1:-1]
    return v


def parse_qeng_servingcell(payload):
    """(mcc, mnc, lac_or_tac, cell_id) from a +QENG: "servingcell" payload, or None (searching, unknown
    RAT, garbage). mnc is a digit string ("01", "020"), like drivers/simcom_a76xx.parse_cpsi."""
    f = payload.split(b",")
    if len(f) < 7 or _unq(f[0]) != b"servingcell":
        return None
    rat = _unq(f[2]).upper()
    if rat in (b"LTE", b"EMTC", b"CAT-M", b"CAT-M1"):
        k_mcc, k_cid, k_area = 4, 6, 12
    elif rat in (b"NBIOT", b"CAT-NB", b"CAT-NB1"):
        k_mcc, k_cid, k_area = 4, 6, 10
    elif rat == b"GSM":
        k_mcc, k_cid, k_area = 3, 6, 5
    else:
        return None
    if len(f) <= max(k_area, k_cid):
        return None
    mcc = _unq(f[k_mcc])
    mnc = _unq(f[k_mcc + 1])
    if len(mcc) != 3 or not 1 <= len(mnc) <= 3 or not _digits(mcc + mnc):
        return None
    try:
        area = int(_unq(f[k_area]), 16)
        cid = int(_unq(f[k_cid]), 16)
    except ValueError:
        return None
    if len(mnc) == 1:
        mnc = b"0" + mnc  # MNCs have 2 or 3 digits
    return (int(mcc), mnc.decode(), area, cid)


def _digits(b):
    for c in b:
        if not 48 <= c <= 57:
            return False
    return len(b) > 0


class QuectelBG95(Modem):
    name = "quectel-bg95"
    gnss_blocks_lte = False

    def __init__(self, uart, log=None, power_key=None):
        super().__init__(uart, log, power_key)
        self.gnss_on = False
        for banner in (b"RDY", b"APP RDY", b"+QIND:", b"+QUSIM:", b"+CFUN:", b"POWERED DOWN"):
            self.at.on_urc(banner, self._urc_banner)

    def _urc_banner(self, ln):
        if ln == b"RDY":
            self.booted_banner = True
            if self.ready.is_set():  # rebooted under us: settings lost, GNSS session gone
                self.needs_setup = True
                self.gnss_on = False
                self.log("modem_rebooted")

    async def gnss_power(self, on):
        cmd = "AT+QGPS=1" if on else "AT+QGPSEND"
        try:
            await self.at.command(cmd, timeout_ms=10000)
        except AtError as e:
            code = cme_code(e.final)
            if not ((on and code == CME_ONGOING) or (not on and code == CME_NOT_ACTIVE)):
                self.log("gnss_power_failed", on=on, err=repr(e))
                return
        except AtTimeout as e:
            self.log("gnss_power_failed", on=on, err=repr(e))
            return
        self.gnss_on = on

    async def gnss_fix(self):
        """The current fix, or None: no fix yet (516), no session (505), modem busy or failing."""
        return (await self.gnss_read())[1]

    async def gnss_read(self):
        """(answered, fix): answered when the session gave a fix or said "not fixed now" (516)."""
        try:
            r = await self.at.command("AT+QGPSLOC=2", timeout_ms=3000, expect="+QGPSLOC:")
        except AtError as e:
            code = cme_code(e.final)
            if code == CME_NOT_ACTIVE and self.gnss_on:
                self.gnss_on = False  # the session ended without us (reboot): the caller restarts it
                self.log("gnss_session_lost")
            return code == CME_NOT_FIXED, None
        except AtTimeout:
            return False, None
        v = r.line(b"+QGPSLOC:")
        return v is not None, parse_qgpsloc(v) if v else None

    async def serving_cell(self):
        try:
            r = await self.at.command('AT+QENG="servingcell"', timeout_ms=3000, expect="+QENG:")
        except (AtError, AtTimeout):
            return None
        for ln in r.lines:
            if ln.startswith(b"+QENG:"):
                c = parse_qeng_servingcell(ln[6:])
                if c is not None:
                    return c
        return None
