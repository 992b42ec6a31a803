# SIMCom SIM7600 (SIM7500/SIM7600 series) dialect. Same SMS, banners and AT+CPSI? as the A76xx;
# GNSS differs (SIM7500_SIM7600 Series AT Command Manual V1.08, GPS chapter):
#   AT+CGPS=<on/off>[,<mode>]  start/stop the GPS session (no AT+CGNSSPWR on this family);
#                              AT+CGPS=1 while a session already runs may answer ERROR: the
#                              driver then reads the state back instead of guessing.
#   AT+CGPS?                   +CGPS: <on/off>,<mode>
#   AT+CGNSSINFO               the A76xx field layout, but lat/lon as ddmm.mmmmmm / dddmm.mmmmmm, e.g.
#                              +CGNSSINFO: 2,09,05,00,3113.330650,N,12121.262554,E,131117,091918.0,
#                                          32.9,0.0,255.0,1.1,0.8,0.7
#                              and "+CGNSSINFO: ,,,,,,,,,,,,,,," without a fix.
from firmware.core.errors import AtError, AtTimeout
from drivers.modem.simcom_a76xx import SimcomA76xx


class SimcomSim7600(SimcomA76xx):
    name = "simcom-sim7600"
    ddmm = True  # parse_cgnssinfo(ddmm=True)
    gnss_blocks_lte = False

    async def gnss_power(self, on):
        try:
            await self.at.command("AT+CGPS=%d" % (1 if on else 0), timeout_ms=10000)
            self.gnss_on = on
            return
        except (AtError, AtTimeout) as e:
            err = e
        # ERROR on AT+CGPS=1 means a session already runs (after our own reset, say): ask, never guess
        try:
            r = await self.at.command("AT+CGPS?", timeout_ms=3000, expect="+CGPS:")
            v = r.line(b"+CGPS:")
            self.gnss_on = v is not None and v.split(b",")[0].strip() == b"1"
        except (AtError, AtTimeout):
            pass
        if self.gnss_on != on:
            self.log("gnss_power_failed", on=on, err=repr(err))

    async def power_cycle(self):
        # The A7670 power-key timings are not the SIM7600's, and this project has not validated
        # SIM7600 ones: report "cannot" rather than pulse wrongly (see drivers/modem/base.py).
        return False
