# Cellular modem speaking the 3GPP 27.005/27.007 AT commands every dialect shares (SIM, registration,
# signal, SMS in PDU mode). Dialects (drivers/modem/simcom_a76xx.py, ...) add GNSS, cell info and power.
import asyncio
from time import ticks_ms, ticks_diff

from drivers.modem.at_channel import AtChannel
from firmware.core.errors import AtError, AtTimeout

_GUARD_MS = 1000  # V.250 escape guard time (S12 = 50 x 20 ms), SIMCom's default as well

from firmware.core.errors import PERMANENT_CMS, SmsError  # noqa: F401  (raised here)


class Modem:
    name = "3gpp"

    def sms_reader(self, on_message, log=None, bad_store=None, retry_ms=30000):
        """The received-SMS reader on this modem (drivers/modem/sms_reader.py): the device logic gets
        it from here and never imports a driver. bad_store keeps its undecodable indices on flash;
        retry_ms: when they get their second look."""
        from drivers.modem.sms_reader import SmsReader
        return SmsReader(self, on_message, log=log, bad_store=bad_store, retry_ms=retry_ms)

    def __init__(self, uart, log=None, power_key=None):
        self.at = AtChannel(uart, log)
        self.log = log or (lambda *a, **k: None)
        self.power_key = power_key
        self.ready = asyncio.Event()  # set once the modem answers and is configured
        self.sim_ready = False
        self.registered = False
        self.csq = 99
        self.imei = ""
        self.booted_banner = False
        self.needs_setup = False  # the modem rebooted by itself: echo and SMS settings are lost
        self.setup_needed = asyncio.Event()  # set with needs_setup: the modem task reconfigures at once
        self.at.on_urc(b"+CPIN:", self._urc_cpin)
        self.at.on_urc(b"+CEREG:", self._urc_reg)
        self.at.on_urc(b"+CREG:", self._urc_reg)
        self.at.on_urc(b"+CGEV:", self._urc_ignore)
        self.at.on_urc(b"RING", self._urc_ignore)
        self.at.on_urc(b"+CMTI:", self._urc_cmti)
        self.at.on_urc(b"+CDS:", self._urc_cds, lines=2)
        self.on_sms_received = None  # set by the two-way SMS feature
        self.on_status_report = None  # fn(pdu_hex): delivery report, set by the alert manager
        self.sms_domains = (2, 3)  # +CGSMS preferences to alternate: PS preferred, CS preferred

    def start(self):
        return self.at.start()

    # --- URCs -------------------------------------------------------------------------------------
    def _urc_cpin(self, ln):
        self.sim_ready = ln.endswith(b"READY")

    def _urc_reg(self, ln):
        # URC form "+CEREG: <stat>[,...]" (n=1/2); the response form with <n> first is parsed in poll
        stat = _reg_stat(ln, urc=True)
        if stat is not None:
            self.registered = stat in (1, 5)

    def _urc_cmti(self, ln):
        self.log("sms_incoming", line=ln)
        if self.on_sms_received:
            self.on_sms_received(ln)

    def _urc_cds(self, ln, pdu):
        if self.on_status_report:
            self.on_status_report(pdu)

    def _urc_ignore(self, ln):
        pass

    # --- bring-up ---------------------------------------------------------------------------------
    async def sync(self, timeout_ms=30000):
        """Retry AT until the modem answers (it may still be booting and printing banners)."""
        t0 = ticks_ms()
        while ticks_diff(ticks_ms(), t0) < timeout_ms:
            try:
                await self.at.command("AT", timeout_ms=500)
                return True
            except (AtTimeout, AtError):
                await asyncio.sleep_ms(200)
        return False

    async def configure(self):
        at = self.at
        await at.command("ATE0")
        await at.command("AT+CMEE=2")
        state = await self.sim_state()
        if not self.sim_ready:  # e.g. "SIM PIN" (locked) or "SIM not inserted": SMS cannot go out
            self.log("sim_error", err="SIM not ready: " + state)
        await self._sms_config()
        try:
            r = await at.command("AT+CGSN", timeout_ms=2000)
            self.imei = r.lines[0].decode() if r.lines else ""
        except (AtError, AtTimeout):
            pass
        await self.poll_status()

    async def reconfigure(self):
        """After the modem rebooted by itself: echo off, errors verbose, PDU mode, report routing."""
        self.needs_setup = False
        self.setup_needed.clear()
        try:
            await self.configure()
            self.log("modem_reconfigured")
        except (AtError, AtTimeout) as e:
            self.needs_setup = True
            self.log("modem_config_failed", err=repr(e))

    async def _sms_config(self):
        # SMS commands answer ERROR until the modem has read the SIM's SMS store ("SMS DONE")
        for i in range(20):
            try:
                await self.at.command("AT+CMGF=0")
                break
            except AtError:
                await asyncio.sleep_ms(500)
        try:
            # +CMTI for received SMS, +CDS for delivery reports (27.005 3.4.1)
            await self.at.command("AT+CNMI=2,1,0,1,0")
        except AtError as e:
            self.log("cnmi_failed", err=e.final)

    async def switch_sms_domain(self):
        """SMS failing repeatedly on one domain: try the other preference (27.007 +CGSMS), where the
        modem offers it. Never a 2G fallback: there is none left to rely on."""
        self.sms_domains = self.sms_domains[1:] + self.sms_domains[:1]
        try:
            await self.at.command("AT+CGSMS=%d" % self.sms_domains[0])
            self.log("sms_domain", cgsms=self.sms_domains[0])
            return True
        except (AtError, AtTimeout) as e:
            self.log("sms_domain_unsupported", err=repr(e))
            return False

    async def power_cycle(self):
        """Hard restart through the power key when the modem stops answering. Dialects override."""
        return False

    async def bring_up(self, attempts=0):
        """Sync and configure, retrying forever (attempts=0) with a pause: the button must not depend
        on the modem, and the alert path waits on `ready` only for a bounded time."""
        n = 0
        while True:
            n += 1
            try:
                if await self.sync():
                    await self.configure()
                    self.ready.set()
                    self.log("modem_ready", imei=self.imei, sim=self.sim_ready, registered=self.registered,
                             csq=self.csq)
                    return True
            except (AtError, AtTimeout) as e:
                self.log("modem_config_failed", err=repr(e))
            if attempts and n >= attempts:
                return False
            await asyncio.sleep_ms(2000)

    async def poll_status(self):
        try:
            await self.registration()
            await self.signal()
        except (AtError, AtTimeout, ValueError) as e:
            self.log("modem_status_failed", err=repr(e))

    # --- status queries (the status poll and the technician's self-test) --------------------------
    async def sim_state(self, timeout_ms=5000):
        """The SIM's state from AT+CPIN?: "READY", "SIM PIN", "SIM PUK"..., or the modem's error text
        when it has none to give ("+CME ERROR: SIM not inserted"). Sets sim_ready. AtTimeout if the
        modem does not answer."""
        try:
            r = await self.at.command("AT+CPIN?", timeout_ms=timeout_ms, expect="+CPIN:")
            state = (r.line(b"+CPIN:") or b"").decode()
        except AtError as e:
            state = _text(e.final)
        self.sim_ready = state == "READY"
        return state

    async def registration(self, timeout_ms=5000):
        """27.007 <stat> of the packet (EPS, +CEREG) or circuit (+CREG) domain, the registered one if
        either is (1 home, 5 roaming; 0 not searching, 2 searching, 3 denied, 4 unknown), or None if
        unreadable. Sets registered. AtError / AtTimeout from the modem."""
        r = await self.at.command("AT+CEREG?", timeout_ms=timeout_ms, expect="+CEREG:")
        stat = _reg_stat(r.line(b"+CEREG:") or b"")
        if stat not in (1, 5):
            r = await self.at.command("AT+CREG?", timeout_ms=timeout_ms, expect="+CREG:")
            stat2 = _reg_stat(r.line(b"+CREG:") or b"")
            stat = stat2 if stat2 in (1, 5) else stat
        self.registered = stat in (1, 5)
        return stat

    async def signal(self, timeout_ms=5000):
        """AT+CSQ <rssi>: 0..31 (-113 + 2 x rssi dBm), 99 not known or not detectable. Sets csq.
        AtError / AtTimeout from the modem, ValueError on a garbled answer."""
        r = await self.at.command("AT+CSQ", timeout_ms=timeout_ms, expect="+CSQ:")
        v = r.line(b"+CSQ:")
        if v:
            self.csq = int(v.split(b",")[0])
        return self.csq

    async def operator(self, timeout_ms=5000):
        """The network's name from AT+COPS? (as the modem gives it: long name by default, or the
        numeric MCC-MNC), or None while not registered. Read only: the format is left as it is."""
        r = await self.at.command("AT+COPS?", timeout_ms=timeout_ms, expect="+COPS:")
        f = (r.line(b"+COPS:") or b"").split(b",", 2)
        if len(f) < 3:
            return None
        name = f[2].split(b",")[0].strip().strip(b'"')  # "<oper>"[,<AcT>]
        return name.decode() if name else None

    async def serving_cell(self):
        """(mcc, mnc, lac_or_tac, cell_id) of the serving cell, or None. Dialects implement it (27.007
        has no command giving the cell id and the MCC-MNC in one answer)."""
        return None

    # --- cellular data (PPP) ------------------------------------------------------------------------
    dial_cmd = "ATD*99***%d#"  # 27.007 10.2.1.1: packet data on context <cid>

    async def dial(self, apn=None, cid=1, timeout_ms=10000):
        """Define the PDP context with `apn` (None: the context the network gave at attach) and enter
        data mode: True once the modem said CONNECT (the UART then belongs to PPP until hangup()).
        False, still in command mode, otherwise."""
        from firmware.core.apn import apn_ok  # the same rule as the config check
        if apn is not None and not apn_ok(apn):
            self.log("data_dial_failed", err="bad apn")
            return False
        try:
            if apn is not None:
                await self.at.command('AT+CGDCONT=%d,"IP","%s"' % (cid, apn))
            aborts = self.at.stats["dial_aborts"]
            r = await self.at.command(self.dial_cmd % cid, timeout_ms=timeout_ms, connect=True)
            self.log("data_mode", reply=r.final)
            return True
        except (AtError, AtTimeout) as e:  # NO CARRIER, ERROR, no answer
            aborted = self.at.stats["dial_aborts"] != aborts
            self.log("data_dial_aborted" if aborted else "data_dial_failed", err=repr(e))
            return False

    def abort_dial(self):
        """SMS first: a dial still waiting for the network gives the channel up at once (NO CARRIER).
        Synchronous and cheap: the alert manager calls it on a trigger, send_pdu before each SMS."""
        try:
            return self.at.abort_dial()
        except OSError as e:  # the alert goes on regardless: the SMS then waits for the dial's end
            self.log("data_abort_failed", err=repr(e))
            return False

    async def hangup(self, guard_ms=_GUARD_MS, timeout_ms=1000):
        """Back to AT commands after data mode, PPP already stopped: "+++" between guard times, then
        ATH. A call that had dropped by itself (NO CARRIER, or the modem answers AT) is fine too. A
        modem that ignores "+++" twice is power-cycled and brought up again (the path the alert
        manager takes after repeated SMS failures). Bounded: 2 x (2 guard + timeout + 0.5 s), then
        the power cycle and at most 3 bring-up attempts.
        Returns True when the modem is back in command mode without a power cycle."""
        at = self.at
        if not at.released:
            return True
        final = None
        for _ in range(2):
            final = await at.leave_data(guard_ms, timeout_ms)
            if final is not None:
                break
        if final is None:
            self.log("data_hangup_failed", action="power_cycle")
            cycled = await self.power_cycle()
            at.claim()  # a power cycle ends data mode; without a power key there is nothing better
            if cycled:
                await self.bring_up(attempts=3)  # as after SMS failures: ready again, configured
            return False
        try:
            await at.command("ATH", timeout_ms=5000)
        except (AtError, AtTimeout) as e:  # NO CARRIER / ERROR: nothing left to hang up
            self.log("data_ath", err=repr(e))
        self.log("command_mode", reply=final)
        return True

    # --- SMS --------------------------------------------------------------------------------------
    async def send_pdu(self, pdu_hex, tpdu_len, timeout_ms=90000):
        """Send one SMS-SUBMIT PDU; returns the message reference. Raises SmsError."""
        self.abort_dial()  # never queue an SMS behind a slow data dial
        if self.needs_setup:
            await self.reconfigure()
            if self.needs_setup:
                raise SmsError("setup", -1, True)
        try:
            r = await self.at.command_with_prompt("AT+CMGS=%d" % tpdu_len, pdu_hex, timeout_ms=timeout_ms,
                                                  expect="+CMGS:")
        except AtTimeout as e:
            raise SmsError("timeout", -1, True)
        except AtError as e:
            code = e.code()
            if e.final.startswith(b"+CMS ERROR"):
                raise SmsError("cms", code, code not in PERMANENT_CMS)
            raise SmsError("error", code, True)
        v = r.line(b"+CMGS:")
        try:
            return int(v)
        except (TypeError, ValueError):
            return -1  # accepted but no readable reference: still accepted


def _text(final):
    """Printable text of a final result code: b"+CME ERROR: SIM not inserted" -> "SIM not inserted"."""
    t = bytes(final)
    i = t.find(b":")
    if t.startswith(b"+CME ERROR") and i >= 0:
        t = t[i + 1:].strip()
    try:
        return t.decode()
    except UnicodeError:
        return repr(t)


def _reg_stat(v, urc=False):
    """<stat> from a +CEREG/+CREG payload. Response form: "<n>,<stat>[,...]"; URC form: "<stat>[,...]"."""
    if urc:
        i = v.find(b":")
        v = v[i + 1:]
    parts = v.strip().split(b",")
    try:
        if urc:
            return int(parts[0])
        return int(parts[1]) if len(parts) > 1 else int(parts[0])
    except ValueError:
        return None
