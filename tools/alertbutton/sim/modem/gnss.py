"""GNSS of the simulated A76xx (A76XX AT Command Manual, GNSS chapter: AT+CGNSSPWR, AT+CGNSSINFO): the
engine switched on and off, the READY! URC, and the scenario's fix reported after "after_s" seconds
of every cold start. Other dialects override the commands and the line format (dialects.py).

A ModemSim mixin: the scenario's "gnss" and gnss_on_at live on the ModemSim (a76xx.py).
"""
from alertbutton.sim.modem.at import CmdError, _int_arg

# User Equivalent Range Error (m): HDOP = accuracy_m / UERE_M. The firmware's copy lives in
# firmware/core/fix.py (MicroPython-only module, so not importable here); a host test checks they agree.
UERE_M = 5.0


class GnssCommands:
    """GNSS engine power and position reports (a ModemSim mixin)."""

    def _gnss_fix(self):
        """The fix dict, or None while GNSS is off or before gnss.after_s since power-on."""
        g = self.gnss
        if not g or self.gnss_on_at is None:
            return None
        if self.clock() - self.gnss_on_at < float(g.get("after_s", 0.0)):
            return None
        return g

    def _gnss_ready(self):
        if self.gnss_on_at is not None:
            self._emit_urc("+CGNSSPWR: READY!")

    def x_CGNSSPWR(self, form, args):
        if form == "read":
            return ["+CGNSSPWR: %d" % (self.gnss_on_at is not None)]
        if form == "test":
            return ["+CGNSSPWR: (0,1)"]
        on = _int_arg(args, 0, 0, 1)
        if on and self.gnss_on_at is None:
            self.gnss_on_at = self.clock()  # every power-on is a cold start for after_s
            self._later(self.cmd_latency_s + self.gnss_ready_s, self._gnss_ready)
        elif not on:
            self.gnss_on_at = None
        return []

    def x_CGNSSINFO(self, form, args):
        if form == "test":
            return []
        if form != "exec":
            raise CmdError("ERROR")  # periodic reporting (AT+CGNSSINFO=<n>) not simulated
        return [self.cgnssinfo_line(self._gnss_fix())]

    def cgnssinfo_line(self, fix):
        """A76xx layout, per the SIMCom A76XX Series AT Command Manual (V1.09, GNSS chapter),
        16 fields, decimal degrees (the SIM7600 prints ddmm.mmmmmm instead):
          +CGNSSINFO: <mode>,<GPS-SVs>,<GLONASS-SVs>,<BEIDOU-SVs>,<lat>,<N/S>,<log>,<E/W>,
                      <date ddmmyy>,<UTC-time hhmmss.s>,<alt m>,<speed knots>,<course deg>,
                      <PDOP>,<HDOP>,<VDOP>
        and 16 empty fields without a fix. (Some A7670 firmwares add a GALILEO-SVs field after
        BEIDOU-SVs; a later dialect variant can override this method.)"""
        if fix is None:
            return "+CGNSSINFO: " + "," * 15
        lat, lon = float(fix["lat"]), float(fix["lon"])
        hdop = float(fix.get("acc_m", 5.0)) / UERE_M
        vdop = hdop * 1.5
        pdop = (hdop * hdop + vdop * vdop) ** 0.5
        utc = self._utc_now()
        return "+CGNSSINFO: %s,%s,%s,%s,%s,%s,%s.%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f" % (
            self.cgnss_head, self.cgnss_coord(lat, 2), "N" if lat >= 0 else "S", self.cgnss_coord(lon, 3),
            "E" if lon >= 0 else "W", utc.strftime("%d%m%y"), utc.strftime("%H%M%S"),
            utc.microsecond // 100000, float(fix.get("alt_m", 35.0)), float(fix.get("speed_kn", 0.0)), 0.0,
            pdop, hdop, vdop)

    cgnss_head = "3,08,04,03"  # <mode>,<GPS-SVs>,<GLONASS-SVs>,<BEIDOU-SVs> of a simulated 3D fix

    @staticmethod
    def cgnss_coord(v, deg_digits):
        """A76xx: decimal degrees, unsigned (the hemisphere is its own field)."""
        return "%.6f" % abs(v)
