# SIMCom SIM7080G (SIM7070/SIM7080/SIM7090 series, LTE-M / NB-IoT) dialect. SMS, SIM, registration
# and AT+CPSI? as the A76xx ("LTE CAT-M1" / "LTE NB-IOT" system modes); GNSS differs:
#   AT+CGNSPWR=<0|1>   GNSS power
#   AT+CGNSINF         +CGNSINF: <run>,<fix>,<UTC yyyyMMddhhmmss.sss>,<lat ±dd.dddddd>,<lon ±ddd.dddddd>,
#                      <MSL alt>,<speed km/h>,<course>,<fix mode>,<rsv1>,<HDOP>,<PDOP>,<VDOP>,<rsv2>,
#                      <GNSS sats in view>,<rsv3>,<HPA m>,<VPA m>   (18 fields, SIM7070/SIM7080 manual;
#                      the SIM7000/SIM868 layout has 21, with used-satellite counts and C/N0).
#                      <fix> 1 = fixed, 0 or empty = not: the position fields are then empty or stale.
# GNSS and LTE cannot run at the same time on this module: they share the RF path (LilyGO T-SIM7080G
# README tip "cannot connect to cellular network and GPS positioning at the same time"; LilyGO issues
# #60 and #173; espressif/esp-protocols#659). So `gnss_blocks_lte` is True, and every LTE exchange
# that needs the network (SMS, serving cell) first switches GNSS off and waits for registration:
# an SMS always wins over a fix. The caller (firmware/location/gnss_power.py) switches GNSS back on.
import asyncio
from time import ticks_ms, ticks_diff

from firmware.core.errors import AtError, AtTimeout
from drivers.modem.simcom_a76xx import SimcomA76xx
from firmware.core import clock
from firmware.core.fix import Fix, UERE_M


def parse_cgnsinf(payload):
    """Fix from a +CGNSINF payload, or None (GNSS off, no fix, garbage)."""
    f = payload.split(b",")
    if len(f) < 13 or f[0].strip() != b"1" or f[1].strip() != b"1":
        return None
    try:
        lat = float(f[3])
        lon = float(f[4])
        hdop = float(f[10]) if f[10].strip() else 0.0
        acc = hdop * UERE_M if hdop > 0 else 50.0
        # the receiver's own horizontal accuracy estimate, where the layout is known to carry it
        k = 16 if len(f) == 18 else (19 if len(f) == 21 else -1)
        if k > 0 and f[k].strip():
            hpa = float(f[k])
            if hpa > 0:
                acc = hpa
        sats = 0
        k = 15 if len(f) == 21 else 14  # used satellites (SIM7000 layout), else satellites in view
        if f[k].strip():
            sats = int(f[k])
        utc = None
        t = f[2].strip()
        if len(t) >= 14:
            y = int(t[0:4])
            if y >= 2000:  # the engine reports 1980 before it knows the time
                utc = clock.epoch(y, int(t[4:6]), int(t[6:8]), int(t[8:10]), int(t[10:12]), int(t[12:14]))
        return Fix(lat, lon, acc, utc, None, "gnss", sats)
    except (ValueError, IndexError):
        return None


class SimcomSim7080(SimcomA76xx):
    name = "simcom-sim7080"
    gnss_blocks_lte = True
    lte_resume_ms = 30000  # after GNSS off, how long an LTE exchange waits for registration

    async def gnss_power(self, on):
        try:
            await self.at.command("AT+CGNSPWR=%d" % (1 if on else 0), timeout_ms=10000)
            self.gnss_on = on
        except (AtError, AtTimeout) as e:
            self.log("gnss_power_failed", on=on, err=repr(e))

    async def gnss_read(self):
        """(answered, fix), as SimcomA76xx.gnss_read with AT+CGNSINF."""
        try:
            r = await self.at.command("AT+CGNSINF", timeout_ms=3000, expect="+CGNSINF:")
        except (AtError, AtTimeout):
            return False, None
        v = r.line(b"+CGNSINF:")
        if v is None:
            return False, None
        return True, parse_cgnsinf(v) if v else None

    async def lte_window(self, timeout_ms=None):
        """Make the radio available to LTE: GNSS off, then wait (bounded) for registration.
        Returns True when registered."""
        if self.gnss_on:
            await self.gnss_power(False)
            self.log("gnss_paused_for_lte")
        elif self.registered:
            return True  # GNSS was off: nothing to wait for, no extra AT traffic before an SMS
        t0 = ticks_ms()
        limit = self.lte_resume_ms if timeout_ms is None else timeout_ms
        while True:
            await self.poll_status()
            if self.registered:
                return True
            if ticks_diff(ticks_ms(), t0) >= limit:
                self.log("lte_resume_timeout")
                return False
            await asyncio.sleep_ms(500)

    async def send_pdu(self, pdu_hex, tpdu_len, timeout_ms=90000):
        await self.lte_window()  # not registered in time: try anyway, the CMS error tells the caller
        return await super().send_pdu(pdu_hex, tpdu_len, timeout_ms)

    async def serving_cell(self):
        await self.lte_window()
        return await super().serving_cell()

    async def power_cycle(self):
        # A7670 power-key timings are not the SIM7080's and none were validated here: say "cannot".
        return False
