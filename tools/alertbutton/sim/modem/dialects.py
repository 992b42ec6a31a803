"""Simulated modem dialects beyond the A76xx base (a76xx.py): SIMCom SIM7600,
SIMCom SIM7080G, Quectel BG95, plus the serving cell of every dialect from the scenario.

Each class overrides only what its module does differently; formats are those of the vendor AT
manuals cited in the matching driver (drivers/modem/simcom_sim7600.py, drivers/modem/simcom_sim7080.py,
drivers/modem/quectel_bg95.py), which the tests check the drivers against.

Scenario keys read here (besides a76xx.py's):
  "cell": {"mcc": 208, "mnc": 1 | "01", "tac": 12345, "cid": 1234567, "rat": "LTE"} | null
      the serving cell answered by AT+CPSI? (SIMCom) / AT+QENG="servingcell" (Quectel). mnc as an
      int is printed with 2 digits, as a string verbatim ("020"). null: no cell information (the
      modem answers as when searching). Absent: the base simulator's cell (208-01, TAC 0x1A2B).
  "modem": {"dialect": "a76xx" | "sim7600" | "sim7080" | "bg95",
            "lte_resume_s": 0.3}   SIM7080: time to re-register after GNSS is switched off

Importing this module adds "sim7600", "sim7080" and "bg95" to a76xx.DIALECTS. create() also maps
"a76xx" to A76xxSim (the base plus the scenario's cell).
"""
from alertbutton.sim.modem.a76xx import DIALECTS, ModemSim
from alertbutton.sim.modem.at import CmdError, _int_arg
from alertbutton.sim.modem.gnss import UERE_M

_DEFAULT_CELL = {"mcc": 208, "mnc": "01", "tac": 0x1A2B, "cid": 27447297, "rat": "LTE"}


def _mnc(v):
    return "%02d" % v if isinstance(v, int) else str(v)


def ddmm(value, deg_digits):
    """Degrees -> (d)ddmm.mmmmmm text, via integer micro-minutes (no 60.000000 minutes)."""
    um = int(round(abs(value) * 60 * 1000000))
    deg, um = divmod(um, 60 * 1000000)
    return "%0*d%02d.%06d" % (deg_digits, deg, um // 1000000, um % 1000000)


class A76xxSim(ModemSim):
    """The A76xx of a76xx.py, with AT+CPSI? answering the scenario's cell."""

    cpsi_mode = "LTE"

    def __init__(self, scenario, **kw):
        super().__init__(scenario, **kw)
        sc = scenario or {}
        if "cell" not in sc:
            self.cell = dict(_DEFAULT_CELL)
        elif sc["cell"] is None:
            self.cell = None
        else:
            self.cell = dict(_DEFAULT_CELL, **sc["cell"])

    def x_CPSI(self, form, args):
        if form != "read":
            raise CmdError("ERROR")
        c = self.cell
        if c is None or not self.registered():
            return ["+CPSI: NO SERVICE,Online"]
        rsrp = -140 + 2 * self.csq
        rat = str(c.get("rat", "LTE")).upper()
        if rat == "GSM":
            return ["+CPSI: GSM,Online,%03d-%s,0x%04x,%d,62 EGSM 900,%d,0,40-40"
                    % (c["mcc"], _mnc(c["mnc"]), c["tac"], c["cid"], rsrp)]
        return ["+CPSI: %s,Online,%03d-%s,0x%04X,%d,123,EUTRAN-BAND20,6300,5,5,-94,%d,-754,15"
                % (self.cpsi_mode, c["mcc"], _mnc(c["mnc"]), c["tac"], c["cid"], rsrp * 10)]

    def _reg_tail(self):
        c = self.cell
        if not self.registered() or c is None:
            return ""
        return ',"%04X","%08X",7' % (c["tac"], c["cid"])


class Sim7600Sim(A76xxSim):
    """SIMCom SIM7600: AT+CGPS session control, AT+CGNSSINFO in ddmm.mmmmmm."""

    dialect = "sim7600"
    boot_banners = ("RDY", "+CPIN: READY", "SMS DONE", "PB DONE")
    ati_lines = (
        "Manufacturer: SIMCOM INCORPORATED",
        "Model: SIMCOM_SIM7600E-H",
        "Revision: SIM7600M22_V2.0",
        "IMEI: {imei}",
        "+GCAP: +CGSM",
    )

    def x_CGNSSPWR(self, form, args):
        raise CmdError("ERROR")  # an A76xx command

    def x_CGPS(self, form, args):
        if form == "read":
            return ["+CGPS: %d,1" % (self.gnss_on_at is not None)]
        if form == "test":
            return ["+CGPS: (0,1),(1,2)"]
        on = _int_arg(args, 0, 0, 1)
        _int_arg(args, 1, 1, 2, default=1)
        if on:
            if self.gnss_on_at is not None:
                raise CmdError("ERROR")  # a session already runs
            self.gnss_on_at = self.clock()
        else:
            self.gnss_on_at = None
        return []

    cgnss_head = "2,09,05,00"  # a 2D fix, as in the SIM7600 manual's example

    @staticmethod
    def cgnss_coord(v, deg_digits):
        """SIM7600: ddmm.mmmmmm (the rest of the line is the A76xx layout)."""
        return ddmm(v, deg_digits)


class Sim7080Sim(A76xxSim):
    """SIMCom SIM7080G: AT+CGNSPWR / AT+CGNSINF; GNSS and LTE exclusive (no service, SMS refused,
    while GNSS is on, and for lte_resume_s after it is switched off)."""

    dialect = "sim7080"
    cpsi_mode = "LTE CAT-M1"
    boot_banners = ("RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready")
    sms_ready_banner = "SMS Ready"
    ati_lines = (
        "Manufacturer: SIMCOM INCORPORATED",
        "Model: SIMCOM_SIM7080G",
        "Revision: 1951B16SIM7080",
        "IMEI: {imei}",
    )

    def __init__(self, scenario, **kw):
        super().__init__(scenario, **kw)
        m = (scenario or {}).get("modem") or {}
        self.lte_resume_s = float(m.get("lte_resume_s", 0.3))
        self.gnss_off_at = None
        self.refused_sms = 0  # AT+CMGS refused because GNSS held the radio

    def registered(self):
        if self.gnss_on_at is not None:
            return False
        if self.gnss_off_at is not None and self.clock() - self.gnss_off_at < self.lte_resume_s:
            return False
        return super().registered()

    def x_CGNSSPWR(self, form, args):
        raise CmdError("ERROR")

    def x_CGNSSINFO(self, form, args):
        raise CmdError("ERROR")

    def x_CGNSPWR(self, form, args):
        if form == "read":
            return ["+CGNSPWR: %d" % (self.gnss_on_at is not None)]
        if form == "test":
            return ["+CGNSPWR: (0,1)"]
        on = _int_arg(args, 0, 0, 1)
        if on and self.gnss_on_at is None:
            self.gnss_on_at = self.clock()
        elif not on and self.gnss_on_at is not None:
            self.gnss_on_at = None
            self.gnss_off_at = self.clock()
        return []

    def x_CGNSINF(self, form, args):
        if form == "test":
            return []
        if form != "exec":
            raise CmdError("ERROR")
        return [self.cgnsinf_line(self._gnss_fix())]

    def cgnsinf_line(self, fix):
        """SIM7070/SIM7080 layout: 18 fields (see drivers/modem/simcom_sim7080.py)."""
        if self.gnss_on_at is None:
            return "+CGNSINF: 0" + "," * 17
        if fix is None:
            return "+CGNSINF: 1,0" + "," * 16
        lat, lon = float(fix["lat"]), float(fix["lon"])
        acc = float(fix.get("acc_m", 5.0))
        hdop = acc / UERE_M
        utc = self._utc_now()
        return "+CGNSINF: 1,1,%s.%03d,%.6f,%.6f,%.3f,%.2f,%.1f,1,,%.1f,%.1f,%.1f,,%d,,%.1f,%.1f" % (
            utc.strftime("%Y%m%d%H%M%S"), utc.microsecond // 1000, lat, lon, float(fix.get("alt_m", 35.0)),
            float(fix.get("speed_kn", 0.0)) * 1.852, 0.0, hdop, hdop * 1.8, hdop * 1.5,
            int(fix.get("sats", 9)), acc, acc * 1.5)

    def _submit(self, body, mode):
        # the PDU is taken, then refused as by a module without service: registered() is False while
        # GNSS holds the radio, so the base answers +CMS ERROR: 331 (no network service)
        if self.gnss_on_at is not None:
            self.refused_sms += 1
            self._log("CMGS refused: GNSS holds the radio")
        return super()._submit(body, mode)


# Quectel GNSS result codes (BG96/BG95 GNSS application notes) and their AT+CMEE=2 texts
QUECTEL_CME = {504: "Session is ongoing", 505: "Session not active", 516: "Not fixed now"}


class BG95Sim(A76xxSim):
    """Quectel BG95: AT+QGPS / AT+QGPSEND / AT+QGPSLOC, AT+QENG="servingcell"; no SIMCom commands.
    Boot banners in the order modules commonly print them (not from a manual)."""

    dialect = "bg95"
    boot_banners = ("RDY", "APP RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE")
    sms_ready_banner = "+QIND: SMS DONE"
    ati_lines = ("Quectel", "BG95-M3", "Revision: BG95M3LAR02A03")

    def x_CPSI(self, form, args):
        raise CmdError("ERROR")

    def x_CGNSSPWR(self, form, args):
        raise CmdError("ERROR")

    def x_CGNSSINFO(self, form, args):
        raise CmdError("ERROR")

    def _final_text(self, final):
        if final not in ("OK", "ERROR") and final[0] == "cme" and final[1] in QUECTEL_CME and self.cmee == 2:
            return "+CME ERROR: " + QUECTEL_CME[final[1]]
        return super()._final_text(final)

    def x_QGPS(self, form, args):
        if form == "read":
            return ["+QGPS: %d" % (self.gnss_on_at is not None)]
        if form == "test":
            return ["+QGPS: (1-4),(1-255),(1-1000),(0-1000),(1-65535)"]
        _int_arg(args, 0, 1, 4)
        if self.gnss_on_at is not None:
            raise CmdError(("cme", 504))
        self.gnss_on_at = self.clock()
        return []

    def x_QGPSEND(self, form, args):
        if form == "test":
            return []
        if self.gnss_on_at is None:
            raise CmdError(("cme", 505))
        self.gnss_on_at = None
        return []

    def x_QGPSLOC(self, form, args):
        if form == "test":
            return ["+QGPSLOC: (0-2)"]
        mode = _int_arg(args, 0, 0, 2, default=0) if form == "set" else 0
        if self.gnss_on_at is None:
            raise CmdError(("cme", 505))
        fix = self._gnss_fix()
        if fix is None:
            raise CmdError(("cme", 516))
        lat, lon = float(fix["lat"]), float(fix["lon"])
        if mode == 2:
            pos = "%.5f,%.5f" % (lat, lon)
        elif mode == 1:
            pos = "%s,%s,%s,%s" % (ddmm(lat, 2), "N" if lat >= 0 else "S", ddmm(lon, 3), "E" if lon >= 0 else "W")
        else:
            pos = "%s%s,%s%s" % (ddmm(lat, 2)[:-2], "N" if lat >= 0 else "S", ddmm(lon, 3)[:-2],
                                 "E" if lon >= 0 else "W")
        utc = self._utc_now()
        kn = float(fix.get("speed_kn", 0.0))
        return ["+QGPSLOC: %s.%d,%s,%.1f,%.1f,%d,%.2f,%.1f,%.1f,%s,%02d" % (
            utc.strftime("%H%M%S"), utc.microsecond // 100000, pos, float(fix.get("acc_m", 5.0)) / UERE_M,
            float(fix.get("alt_m", 35.0)), 3, 0.0, kn * 1.852, kn, utc.strftime("%d%m%y"),
            int(fix.get("sats", 9)))]

    def x_QENG(self, form, args):
        if form == "test":
            return ['+QENG: ("servingcell","neighbourcell")']
        if form != "set" or not args:
            raise CmdError(("cme", 50))
        what = args[0].lower()
        if what == "neighbourcell":
            return []
        if what != "servingcell":
            raise CmdError(("cme", 50))
        c = self.cell
        if c is None or not self.registered():
            return ['+QENG: "servingcell","SEARCH"']
        rat = str(c.get("rat", "eMTC"))
        rsrp = -140 + 2 * self.csq
        if rat.upper() == "GSM":
            # <MCC>,<MNC>,<LAC>,<cellID>,<BSIC>,<ARFCN>,<band>,<rxlev>,... (tail shortened)
            return ['+QENG: "servingcell","NOCONN","GSM",%03d,%s,%X,%X,51,62,0,%d'
                    % (c["mcc"], _mnc(c["mnc"]), c["tac"], c["cid"], rsrp)]
        if rat.upper() in ("NBIOT", "NB-IOT"):
            return ['+QENG: "servingcell","NOCONN","NBIoT","FDD",%03d,%s,%X,260,6300,20,%X,%d,-11,-83,19,13'
                    % (c["mcc"], _mnc(c["mnc"]), c["cid"], c["tac"], rsrp)]
        return ['+QENG: "servingcell","NOCONN","eMTC","FDD",%03d,%s,%X,260,6300,20,3,3,%X,%d,-11,-83,19,13'
                % (c["mcc"], _mnc(c["mnc"]), c["cid"], c["tac"], rsrp)]


OURS = {"a76xx": A76xxSim, "sim7600": Sim7600Sim, "sim7080": Sim7080Sim, "bg95": BG95Sim}
for _name, _cls in OURS.items():
    if _name != "a76xx":  # the base module's own entry stays its own
        DIALECTS.setdefault(_name, _cls)


def create(scenario, dialect=None, **kw):
    """Build the simulator for `dialect` (default: scenario["modem"]["dialect"], else "a76xx")."""
    name = (dialect or ((scenario or {}).get("modem") or {}).get("dialect") or "a76xx").lower()
    cls = OURS.get(name) or DIALECTS.get(name)
    if cls is None:
        raise ValueError("unknown modem dialect %r (known: %s)" % (name, ", ".join(sorted(set(OURS) | set(DIALECTS)))))
    return cls(scenario, **kw)
