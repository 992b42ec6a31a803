# The self-test's radio parts (firmware/console/selftest.py runs them): modem, SIM, signal, network and
# operator over the shared AT channel, then GNSS data. None of them runs once an alert has started:
# each AT command is one exchange with a short timeout, asked only while the alert manager is idle,
# so an alert's SMS wait at most for the one in flight.
import asyncio
from time import ticks_ms, ticks_diff

from firmware.core.errors import AtError, AtReleased, AtTimeout
from firmware.console.selftest import ALERT_STARTED, part, until

AT_MS = 1500  # per AT command; a healthy modem answers in tens of ms
WEAK_CSQ = 10  # under it (-95 dBm or less) SMS still go, more slowly
GNSS_ON_MS = 12000  # the modems' GNSS switch-on command may take up to 10 s
GNSS_DATA_MS = 6000  # an NMEA receiver talks every second; a modem's engine may need seconds after power-on
MODEM_WAKE_MS = 3000  # low-power mode: DTR low, then the modem's UART wakes (100 ms configured)


class RadioTest:
    def __init__(self, app, alert_started):
        self.app = app
        self.alert_started = alert_started  # fn() -> True once an alert is no longer idle

    async def modem(self):
        """modem, sim, signal, network, operator: AT commands, none after an alert started."""
        m = getattr(self.app, "modem", None)
        names = ("modem", "sim", "signal", "network", "operator")
        if m is None:
            return [part(n, False, "none", "this board gave no modem") for n in names]
        why = await self._wake_modem()  # set when the parts cannot be checked
        out = []
        for name, fn in ((names[0], self._at), (names[1], self._sim), (names[2], self._signal),
                         (names[3], self._network), (names[4], self._operator)):
            if why is None and self.alert_started():
                why = ALERT_STARTED
            if why is not None:
                out.append(part(name, False, "not checked", why))
                continue
            try:
                p = await fn(m)
            except AtReleased:
                p = part(name, False, "busy", "the modem is in data mode (platform link): run again later")
            except AtTimeout:
                p = part(name, False, "no answer", "the modem did not answer in %.1f s" % (AT_MS / 1000))
            except (AtError, ValueError) as e:
                p = part(name, False, "error", "%r" % (e,))
            except Exception as e:
                p = part(name, False, "error", "the check itself failed: %r" % (e,))
            out.append(p)
            if name == "modem" and not p["ok"]:
                why = "not checked: " + p["note"]
        return out

    async def _wake_modem(self):
        """Low-power mode (firmware/power/task.py) lets the modem sleep between uses: wake it the way
        a button press does (its idle timer restarts, the power task acts at once). A modem kept
        powered off between alerts ("off" mode) stays off: None, or why the modem is not checked."""
        pt = getattr(self.app, "power", None)
        mp = getattr(pt, "modem_policy", None)
        if mp is None or not getattr(pt, "low_power", False):
            return None
        if mp.state == "off":
            return "not checked: the modem is off between alerts (low-power mode \"off\"); " \
                   "check it with a test alert"
        if mp.state in ("sleep", "psm"):
            mp.used(ticks_ms())
            pt.driver.kick.set()
            await until(lambda: mp.state not in ("sleep", "psm"), MODEM_WAKE_MS)
        return None

    async def _at(self, m):
        await m.at.command("AT", timeout_ms=AT_MS)
        return part("modem", True, "answers AT")

    async def _sim(self, m):
        state = await m.sim_state(AT_MS)
        if state == "READY":
            return part("sim", True, "ready")
        if "PIN" in state or "PUK" in state:
            note = "the SIM is locked (%s): remove its PIN in a phone before use" % state
        elif "not inserted" in state.lower() or "removed" in state.lower():
            note = "no SIM card: insert one (check the holder's contacts and the card's side)"
        else:
            note = "the SIM cannot be used: %s" % state
        return part("sim", False, state or "unreadable", note)

    async def _signal(self, m):
        csq = await m.signal(AT_MS)
        if not 0 <= csq <= 31:
            return part("signal", False, "CSQ %d (none)" % csq, "no signal: check the LTE antenna and its "
                        "cable, and try near a window" + self._no_sim(m))
        value = "CSQ %d (%d dBm)" % (csq, -113 + 2 * csq)
        if csq < WEAK_CSQ:
            return part("signal", True, value, "weak: SMS may take longer; check the antenna")
        return part("signal", True, value)

    async def _network(self, m):
        stat = await m.registration(AT_MS)
        if stat == 1:
            return part("network", True, "registered (home)")
        if stat == 5:
            return part("network", True, "registered (roaming)")
        words = {0: "not registered, not searching", 2: "searching", 3: "registration denied", 4: "unknown"}
        value = words.get(stat, "unreadable (%r)" % (stat,))
        if stat == 3:
            note = "the network refused the SIM: is its plan active?"
        else:
            note = "no network yet: wait a minute and run again; if it stays, check the SIM's plan and " \
                   "the coverage" + self._no_sim(m)
        return part("network", False, value, note)

    async def _operator(self, m):
        name = await m.operator(AT_MS)
        if name:
            return part("operator", True, name)
        return part("operator", False, "none", "no network operator: not registered" + self._no_sim(m))

    @staticmethod
    def _no_sim(m):
        return "" if getattr(m, "sim_ready", True) else " (no usable SIM)"

    # --- GNSS --------------------------------------------------------------------------------------
    async def gnss(self):
        """Data arriving is a pass: a fix needs open sky, none indoors is normal ("no fix yet")."""
        app = self.app
        src = getattr(app, "gnss", None)
        if src is None or not hasattr(src, "gnss_read"):
            return part("gnss", False, "none", "this board gave no GNSS")
        if self.alert_started():
            return part("gnss", False, "not checked", ALERT_STARTED)
        n0 = app.gnss_power_failures
        app.gnss_hold(GNSS_ON_MS + GNSS_DATA_MS)  # on (or kept on) through its power policy
        try:
            await until(lambda: src.gnss_on or app.gnss_power_failures != n0 or self.alert_started(),
                         GNSS_ON_MS)
            if self.alert_started():
                return part("gnss", False, "not checked", ALERT_STARTED)
            if not src.gnss_on:
                if app.gnss_power_failures != n0:
                    return part("gnss", False, "no data", "the receiver refused to switch on" +
                                self._gnss_hint(src))
                if hasattr(src, "ready") and not src.ready.is_set():
                    return part("gnss", False, "not checked", "the modem is not ready yet: run again in a "
                                "minute")
                return part("gnss", False, "no data", "the receiver did not switch on in %d s" %
                            (GNSS_ON_MS // 1000) + self._gnss_hint(src))
            t0 = ticks_ms()
            while True:
                if self.alert_started():
                    return part("gnss", False, "not checked", ALERT_STARTED)
                answered, fix = await src.gnss_read()
                if answered or ticks_diff(ticks_ms(), t0) >= GNSS_DATA_MS:
                    break
                await asyncio.sleep_ms(500)
        finally:
            app.gnss_hold(0)  # its policy switches it off again if nothing else needs it
        if not answered:
            return part("gnss", False, "no data", "nothing from the GNSS in %d s" % (GNSS_DATA_MS // 1000)
                        + self._gnss_hint(src))
        if fix is not None:
            return part("gnss", True, "fix: yes, %d m" % int(fix.acc_m + 0.5),
                        "%d satellites" % fix.sats if fix.sats else "")
        note = "data arrives; a fix needs open sky (none indoors is normal)"
        lf = getattr(app, "lastfix", None)
        best = lf.best() if lf is not None else None
        age = best.age_s() if best is not None else None
        if age is not None:
            note += "; last fix %d min ago" % (age // 60)
        return part("gnss", True, "no fix yet", note)

    @staticmethod
    def _gnss_hint(src):
        if getattr(src, "name", "") == "nmea":
            return ": check the receiver's UART wiring (TX to RX), its supply, enable pin and baud rate"
        return ": the modem's GNSS engine does not answer (a variant without GNSS, or its firmware)"
