"""Host-side modem simulator: a SIMCom A76xx (A7670E) speaking its AT dialect on a pty.

The firmware (in the MicroPython VM) opens the pty slave as its UART. Everything the real module does
that the firmware must survive is reproduced: boot banners, input lost before boot, echo until ATE0,
per-command latency, the CMGS "> " prompt without CRLF, +CMS errors, URCs landing anywhere between
whole lines (even between a response and its final result code, or right after the prompt), SMS
delivery reports (+CDS) and the power key.

ModemSim is one mixin per part, each in its own module of this package:
  at.py         the AT command line: echo, parsing, the handler of each command (x_<NAME> for
                AT+NAME, b_<LETTER> for basic ones: ATE0 -> b_E), final result codes, ATE/ATI/ATZ
  network.py    SIM and PIN, identities, signal, registration and its URCs, operator, cell, clock
  sms.py        SMS commands, sending (+CMGS), delivery reports (+CDS), the SIM message store (+CMTI)
  pdu.py        the SMS PDUs and codes on the network's side (functions, no mixin)
  gnss.py       the GNSS engine and its position reports
  data_mode.py  PDP contexts, dial, CONNECT, the fake PPP peer, "+++" and ATH
  faults.py     the named faults (FAULTS): arming them, and their hooks at each stage
This module holds the state they share (__init__, _reset_state), the public API, the simulator
thread, the power key, boot and URCs. Built on it: dialects.py (SIM7600, SIM7080G, BG95, and the
scenario's serving cell) and inbound.py (multi-part SMS-DELIVER PDUs from an independent encoder).

Design for later dialects: one class per dialect (ModemSim is the A76xx); subclasses override or add
handlers and change the class attributes (banners, ATI text, URC pool, GNSS line format). DIALECTS
maps a scenario's "modem": {"dialect": ...} to a class; create() builds one.

Power: power_key(level) is the module's PWRKEY pin (0 = pulled low = pressed). Held >= 50 ms while
off: the module boots. Held >= 2.5 s while on: it powers down (power_down_s), losing every setting
(echo back on, CMGF/CNMI/CMEE defaults) and whatever was in flight. The TP-MR counter continues: it
lives on the SIM (EF_SMSS, 3GPP TS 31.102). A crash (reboot_mid_sms) is the same without the key.

Only one thread (the simulator's) touches the pty and the modem state; public methods called from
other threads post work to it through a wake-up pipe.
"""
import datetime
import errno
import heapq
import os
import random
import select
import threading
import time
import tty

from alertbutton.sim.modem.at import AtCommandLine
from alertbutton.sim.modem.data_mode import DataMode
from alertbutton.sim.modem.faults import _CLEARED_BY_POWER, FAULTS, FaultHooks
from alertbutton.sim.modem.gnss import GnssCommands
from alertbutton.sim.modem.network import NetworkCommands
from alertbutton.sim.modem.sms import SmsCommands


def luhn_complete(digits14):
    """Append the Luhn check digit an IMEI carries (3GPP TS 23.003 annex B)."""
    total = 0
    for i, c in enumerate(reversed(digits14)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits14 + str((10 - total % 10) % 10)


NET_TIME = "26/11/26,15:30:00+04"  # the simulated network's local time at start, zone in quarter hours


def _parse_net_time(s):
    """'26/11/26,15:30:00+04' (local time, zone in quarter hours) -> (UTC datetime, quarters)."""
    date, clock = s.split(",")
    sign = 1 if "+" in clock else -1
    hms, tz = clock.replace("-", "+").split("+")
    local = datetime.datetime.strptime(date + "," + hms, "%y/%m/%d,%H:%M:%S")
    q = sign * int(tz)
    return local - datetime.timedelta(minutes=15 * q), q


class ModemSim(AtCommandLine, NetworkCommands, SmsCommands, GnssCommands, DataMode, FaultHooks):
    """SIMCom A76xx (A7670E) on a pty. See the module docstring for its parts and the dialect design."""

    dialect = "a76xx"
    # real A7670 boot order, one URC each, spaced by banner_gap_s
    boot_banners = ("*ATREADY: 1", "+CPIN: READY", "SMS DONE", "PB DONE")
    sms_ready_banner = "SMS DONE"  # SMS commands answer ERROR before it (seen on a real A7670E:
    # github.com/Xinyuan-LilyGO/LilyGo-Modem-Series/issues/247, AT+CMGF=1 -> ERROR before SMS DONE)
    # Without a SIM the A76xx says "+CPIN: SIM REMOVED" after *ATREADY and SMS DONE never comes.
    no_sim_banner = "+CPIN: SIM REMOVED"
    ati_lines = (
        "Manufacturer: SIMCOM INCORPORATED",
        "Model: A7670E-LASE",
        "Revision: A7670M7_V1.11.1",
        "IMEI: {imei}",
        "+GCAP: +CGSM,+FCLASS,+DS",
    )
    # Cancelling the prompt with ESC is acknowledged with OK: SIMCom documents "If cancel write: OK"
    # for +CMGW (SIM7500/SIM7600 AT manual V1.07), whose input rules +CMGS shares; Telit and
    # Cinterion manuals say the same for +CMGS. A dialect that stays silent sets this False.
    esc_reply_ok = True
    operator = ("20801", "Orange F")
    isim_aid = "A0000000871004FF33FF01890000FFFF"
    cnmi_default = (2, 1, 0, 0, 0)  # ds=0: no status report routed until the TE asks for it
    FAULTS = FAULTS

    def __init__(self, scenario, on_sms=None, on_log=None, seed=0, clock=time.monotonic):
        scenario = scenario or {}
        m = dict(scenario.get("modem") or {})
        self.cmgs_latency_s = float(m.get("cmgs_latency_s", 1.0))
        self.boot_s = float(m.get("boot_s", 0.5))
        self.cmd_latency_s = float(m.get("cmd_latency_s", 0.02))
        self.urc_rate_hz = float(m.get("urc_rate_hz", 0.0))
        reg = m.get("registered_after_s", 0.0)
        self.registered_after_s = None if reg is None or reg < 0 else float(reg)
        self.reregister_s = float(m.get("reregister_s", 1.0))  # after a reboot or the PIN
        self.csq = int(m.get("csq", 20))
        self.banner_gap_s = float(m.get("banner_gap_s", 0.1))
        self.gnss_ready_s = float(m.get("gnss_ready_s", 0.2))
        self.vbat_v = float(m.get("vbat_v", 3.95))
        self.imei = str(m.get("imei") or luhn_complete("86000000123456"))
        self.imsi = str(m.get("imsi", "208011234567890"))
        self.nitz = bool(m.get("nitz", True))
        self.net_time = str(m.get("net_time", NET_TIME))
        self.delivery_s = float(m.get("delivery_s", 2.0))  # SMS accepted -> its status report
        self.smsc = str(m.get("smsc", "+33689004000"))
        # PWRKEY (A7670 hardware design, power on/off timing): >= 50 ms low turns it on, >= 2.5 s low
        # turns it off; power_down_s until it is really off (a press meanwhile is ignored).
        self.pwrkey_on_s = float(m.get("pwrkey_on_s", 0.05))
        self.pwrkey_off_s = float(m.get("pwrkey_off_s", 2.5))
        self.power_down_s = float(m.get("power_down_s", 1.0))
        self._utc0, self._tzq = _parse_net_time(self.net_time)
        self.gnss = scenario.get("gnss")
        self._t0_cfg = scenario.get("t0")
        self.on_sms = on_sms
        self.on_log = on_log
        self.clock = clock
        self.seed = seed
        self.rng = random.Random(seed)
        self._frng = {}
        self.sms = []          # SMS the network accepted (+CMGS given or not)
        self.submits = []      # every well-formed PDU the TE submitted: {"t", "to"}
        self.reports = []      # status reports the network produced: {"t", "to", "mr", "status", "routed"}
        self.power_log = []    # {"t", "event": "off"/"on"/"boot", "why"}
        self.faults = {}
        self.fault_hits = {}   # fault name -> how many times it acted (a suite checks each one did)
        self.error = None  # last exception raised inside the sim thread (also logged)
        self.mr = int(m.get("mr0", 0)) & 0xFF  # on the SIM (EF_SMSS): survives power cycles
        self.cmti_index = 0
        self.store = {}        # SIM message store "SM": index -> [stat, pdu hex, tpdu length]
        self.store_size = int(m.get("store_size", 30))
        self.booted = False
        self.sms_ready = False
        self.sim_state = "ready"  # "ready" | "absent" | "pin" | "puk"
        self._pin_tries = 3
        self.boots = 0
        self._power = "on" if m.get("powered", True) else "off"
        self._pk_down = None
        self._off_at = 0.0
        self._epoch = 0
        self._reg_at = 0.0
        self._unreg_until = 0.0
        self._reports_pending = 0
        self._next_drip = 0.0
        self._line = bytearray()
        self._body = bytearray()
        self._rx = bytearray()
        self._out = bytearray()
        self._events = []
        self._seq = 0
        self._posted = []
        self._lock = threading.Lock()
        self._sms_cv = threading.Condition(self._lock)
        self._stop = False
        self._thread = None
        self._master = self._slave = None
        self._wake_r = self._wake_w = None
        self.t0 = None
        # data mode: "+++" needs guard_s of silence before and after (SIMCom: 1 s); the fake PPP
        # peer swallows what it gets (data_echo: sends it back) and opens with one frame
        self.guard_s = float(m.get("guard_s", 1.0))
        self.data_echo = bool(m.get("data_echo", False))
        self.data_rx = bytearray()   # every byte the TE sent in data mode
        self.data_log = []           # {"t", "event": "connect"/"escape"/"ath"/"drop"/"refused"/"abort"}
        # time the network takes to answer a dial (PDP activation); cmd_latency_s when not given
        self.dial_latency_s = float(m.get("dial_latency_s", self.cmd_latency_s))
        self._reset_state()
        self._scenario_faults = []
        for f in scenario.get("faults") or []:
            f = dict(f)
            name, at = f.pop("name", None), f.pop("at_s", None)
            self._check_fault(name, f)
            self._scenario_faults.append((name, at, f))

    def _reset_state(self):
        """Power-on defaults of everything the TE can set (lost on a reboot or a power cycle)."""
        self.echo = True
        self.cmee = 0
        self.cmgf = 0
        self.cscs = "IRA"
        self.creg_n = self.cereg_n = self.cgreg_n = 0
        self.cfun = 1
        self.ctzu = 1  # NITZ into the RTC (this module's default, read back as "+CTZU: 1")
        self.ctzr = 0  # no +CTZV reports until AT+CTZR=1
        self.cnmi = list(self.cnmi_default)
        self.csmp = [17, 167, 0, 0]
        self.csms = 0
        self._cds_ack = False
        self.gnss_on_at = None
        self._busy = False
        self._mode = "cmd"           # "cmd" | "pdu" | "text" (collecting after the "> " prompt)
        self._cmgs_len = 0
        self._cmgs_da = None
        self._cmgs_active = False
        self._storm_rate = 0.0
        self._inject_at = {"before_final": [], "after_prompt": [], "after_echo": []}
        self._next_urc = None
        self.pdp = {}                # cid -> (PDP type, APN) from AT+CGDCONT
        self._call = False           # a data call is up (in data mode, or held after "+++")
        self._plus = 0               # "+" of a possible escape seen after a guard time of silence
        self._data_rx_t = 0.0        # clock of the last byte received in data mode
        self._dialing = None         # (token, clock of the dial's CR) while a dial awaits the network

    # ---------------------------------------------------------------- public API (any thread)
    def start(self):
        """Create the pty pair (raw on both sides), start the sim thread; returns the slave path."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        now = self.clock()
        self.t0 = now if self._t0_cfg is None else float(self._t0_cfg)
        if self.registered_after_s is not None:
            self._reg_at = self.t0 + self.registered_after_s
        for name, at, params in self._scenario_faults:
            if at is None:
                self.fault(name, **params)
            else:
                self._schedule(self.t0 + float(at), lambda n=name, p=params: self.fault(n, **p), net=True)
        if self._power == "on":
            self._schedule(self.t0 + self.boot_s, self._boot)
        path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="modem-sim", daemon=True)
        self._thread.start()
        self._log("sim %s started on %s" % (self.dialect, path))
        return path

    def stop(self):
        self._stop = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = self._wake_r = self._wake_w = None

    def inject(self, line, when="now"):
        """Send one URC line, framed "\\r\\n<line>\\r\\n".

        when: "now"; "before_final" (between the next command's response lines and its final result
        code); "after_prompt" (right after the next "> " prompt); "after_echo" (right after the next
        command line's echo, before its response).
        """
        if when != "now" and when not in self._inject_at:
            raise ValueError("unknown injection point %r" % when)
        self._post(lambda: self._emit_urc(line) if when == "now" else self._inject_at[when].append(line))

    def deliver_sms(self, sender, text):
        """An SMS for the device arrives from the network: stored on the SIM, announced by +CMTI."""
        self._post(lambda: self._incoming(sender, text))

    def power_key(self, level):
        """The module's PWRKEY pin level: 0 = pulled low (pressed), 1 = released. (On the LilyGO
        board a transistor inverts it: ESP32 GPIO high = PWRKEY low.) Timed on the sim clock now."""
        t = self.clock()
        self._post(lambda: self._on_pwrkey(1 if level else 0, t))

    def powered(self):
        return self._power == "on"

    def now(self):
        """Seconds since t0 on the sim clock."""
        return self.clock() - self.t0

    def registered(self):
        if (self.cfun != 1 or self.registered_after_s is None or not self.booted
                or self.sim_state != "ready"):
            return False
        now = self.clock()
        return now >= self._reg_at and now >= self._unreg_until

    def reports_pending(self):
        """Status reports the network still has to deliver (scheduled, not yet routed or dropped)."""
        return self._reports_pending

    def wait_sms(self, count, timeout):
        """Block until at least count SMS were accepted (True) or timeout seconds passed (False)."""
        end = time.monotonic() + timeout
        with self._sms_cv:
            while len(self.sms) < count:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._sms_cv.wait(left)
        return True

    # ---------------------------------------------------------------- sim thread
    def _post(self, fn):
        with self._lock:
            self._posted.append(fn)
        self._wake()

    def _wake(self):
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _schedule(self, at, fn, net=False):
        """Run fn at clock time `at`. Module events (net=False) die with a reboot or power-off;
        network events (status reports, fault timers) survive them."""
        self._seq += 1
        heapq.heappush(self._events, (at, self._seq, fn, None if net else self._epoch))

    def _later(self, delay, fn):
        self._schedule(self.clock() + max(0.0, delay), fn)

    def _run(self):
        while not self._stop:
            try:
                self._step()
            except Exception as e:  # keep the modem alive; tests see self.error and the log
                self.error = e
                import traceback
                self._log("sim error: " + traceback.format_exc())
                time.sleep(0.01)

    def _run_posted(self):
        with self._lock:
            posted, self._posted = self._posted, []
        for fn in posted:
            fn()

    def _step(self):
        self._run_posted()
        now = self.clock()
        while self._events and self._events[0][0] <= now:
            _, _, fn, epoch = heapq.heappop(self._events)
            if epoch is None or epoch == self._epoch:
                fn()
        if self._next_urc is not None and now >= self._next_urc:
            self._random_urc()
            self._next_urc = now + self.rng.expovariate(self.urc_rate_hz)
        self._process_rx()
        deadline = [e[0] for e in self._events[:1]]
        if self._next_urc is not None:
            deadline.append(self._next_urc)
        drip = self._out and "partial_lines" in self.faults
        if drip:
            deadline.append(self._next_drip)
        timeout = min([0.05] + [max(0.0, d - self.clock()) for d in deadline])
        wl = [self._master] if self._out and (not drip or self.clock() >= self._next_drip) else []
        r, w, _ = select.select([self._master, self._wake_r], wl, [], timeout)
        if self._wake_r in r:
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
        if self._master in r:
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, InterruptedError):
                data = b""
            except OSError as e:  # EIO: nobody holds the slave (we keep ours open, so rare)
                if e.errno != errno.EIO:
                    raise
                data = b""
                time.sleep(0.01)
            if data:
                self._run_posted()  # work posted before these bytes were sent comes first
                self._on_rx(data)
        if w:
            self._flush()

    def _flush(self):
        if not self._out:
            return
        gap = self._drip_gap()
        if gap is None:
            chunk = bytes(self._out)
        else:  # partial_lines: one byte at a time, a few ms apart
            now = self.clock()
            if now < self._next_drip:
                return
            chunk = bytes(self._out[:1])
            self._next_drip = now + gap
            self._hit("partial_lines")
        try:
            n = os.write(self._master, chunk)
        except (BlockingIOError, InterruptedError):
            return
        del self._out[:n]

    def _write(self, data, noise=False):
        if not self.booted:
            return  # off, or not yet talking
        ctx = {"data": data, "noise": noise}
        if self._fault("tx", ctx):
            return
        self._out += ctx["data"]
        self._flush()

    def _log(self, msg):
        if self.on_log is not None:
            t = (self.clock() - self.t0) if self.t0 is not None else 0.0
            try:
                self.on_log("%8.3f %s" % (t, msg))
            except Exception:
                pass

    # ---------------------------------------------------------------- output helpers
    def _emit_line(self, line):
        self._log("< " + line)
        self._write(b"\r\n" + line.encode("latin-1") + b"\r\n")

    def _emit_urc(self, line):
        self._log("< [urc] " + line)
        self._write(b"\r\n" + line.encode("latin-1") + b"\r\n")

    # ---------------------------------------------------------------- power, boot, URCs
    def _on_pwrkey(self, level, t):
        if level == 0:
            if self._pk_down is None:
                self._pk_down = t
            return
        if self._pk_down is None:
            return  # released without a press (the pin's initial level)
        held, self._pk_down = t - self._pk_down, None
        if self._power == "stopping" and t >= self._off_at:
            self._power_off()
        if self._power == "off" and held >= self.pwrkey_on_s:
            self._log("PWRKEY %.3f s: power on" % held)
            self._power = "on"
            self.power_log.append({"t": round(t - self.t0, 3), "event": "on", "why": "PWRKEY"})
            self._later(self.boot_s, self._boot)
        elif self._power == "on" and held >= self.pwrkey_off_s:
            self._log("PWRKEY %.3f s: power down" % held)
            self._halt("PWRKEY")
            self._power = "stopping"
            self._off_at = t + self.power_down_s
            self._later(self.power_down_s, self._power_off)
        else:
            self._log("PWRKEY %.3f s ignored (module %s)" % (held, self._power))

    def _power_off(self):
        if self._power == "stopping":
            self._power = "off"
            self._log("powered off")

    def _halt(self, why):
        """The module stops: every setting and everything in flight is lost."""
        self._epoch += 1
        self.booted = False
        self.sms_ready = False
        self._reset_state()
        self._rx.clear()
        self._out.clear()
        self._line = bytearray()
        self._body = bytearray()
        with self._lock:
            for n in [n for n in self.faults if self.FAULTS[n][0] in _CLEARED_BY_POWER]:
                del self.faults[n]
        self.power_log.append({"t": round(self.now(), 3), "event": "off", "why": why})
        self._log("module off (%s)" % why)

    def _reboot(self, why):
        self._halt(why)
        self._power = "on"
        self.power_log.append({"t": round(self.now(), 3), "event": "on", "why": why})
        self._later(self.boot_s, self._boot)

    def _boot(self):
        self.booted = True
        self.boots += 1
        self._rx.clear()  # whatever arrived before is lost
        self.power_log.append({"t": round(self.now(), 3), "event": "boot", "why": ""})
        if "no_sim" in self.faults:
            self._hit("no_sim")
            self.sim_state = "absent"
            banners = [self.boot_banners[0], self.no_sim_banner]
        elif "sim_pin" in self.faults:
            self._hit("sim_pin")
            self.sim_state = "pin"
            self._pin_tries = 3
            banners = [self.boot_banners[0], "+CPIN: SIM PIN"]
        else:
            self.sim_state = "ready"
            banners = list(self.boot_banners)
        late = 0.0
        p = self.faults.get("sms_done_late")
        if p is not None:
            late = float(p["delay_s"])
            self._hit("sms_done_late")
            with self._lock:
                self.faults.pop("sms_done_late", None)  # one boot
        for i, banner in enumerate(banners):
            self._later(i * self.banner_gap_s + (late if i >= 2 else 0.0), lambda b=banner: self._banner(b))
        if self.boots > 1:
            self._reg_at = self.clock() + self.reregister_s
        if self.registered_after_s is not None:
            self._schedule(max(self._reg_at, self.clock()), self._emit_reg_urcs)
        if self.urc_rate_hz > 0:
            self._next_urc = self.clock() + self.rng.expovariate(self.urc_rate_hz)

    def _banner(self, line):
        self._emit_urc(line)
        if line == self.sms_ready_banner:
            self.sms_ready = True

    def _urc_pool(self):
        """Realistic unsolicited lines for the current state (the A7670 emits all of these)."""
        pool = [
            "+CGEV: ME PDN ACT 1",
            "+CPIN: READY",
            '+CMTI: "SM",%d' % (self.cmti_index + 1),
            "+CTZV: %+03d,0" % self._tzq,
            '*ISIMAID: "%s"' % self.isim_aid,
        ]
        for name, n in (("CREG", self.creg_n), ("CEREG", self.cereg_n)):
            if n:
                pool.append(self._reg_urc(name, n))
        return pool

    def _random_urc(self, rng=None):
        line = (rng or self.rng).choice(self._urc_pool())
        if line.startswith("+CMTI:"):  # a real message, so that reading it works
            self._incoming("+33611223344", "Bonjour %d" % (self.cmti_index + 1))
        else:
            self._emit_urc(line)

    def _utc_now(self):
        return self._utc0 + datetime.timedelta(seconds=self.now())

    # ---------------------------------------------------------------- input
    def _on_rx(self, data):
        if not self.booted:
            self._log("> (lost: module %s) %r" % ("booting" if self._power == "on" else self._power, data))
            return
        for b in data:
            if self._fault("rx", {"byte": b}):
                continue
            if self._dialing is not None and self._dial_rx():
                continue
            self._rx.append(b)
        self._process_rx()

    def _process_rx(self):
        while self._rx and not self._busy and self.booted:
            b = self._rx.pop(0)
            if self._mode == "cmd":
                self._feed_cmd(b)
            elif self._mode == "data":
                self._feed_data(b)
            else:
                self._feed_body(b)


DIALECTS = {"a76xx": ModemSim}


def create(scenario, **kw):
    """Build the simulator for scenario["modem"]["dialect"] (default "a76xx")."""
    name = ((scenario or {}).get("modem") or {}).get("dialect", "a76xx").lower()
    if name not in DIALECTS:
        raise ValueError("unknown modem dialect %r (known: %s)" % (name, ", ".join(sorted(DIALECTS))))
    return DIALECTS[name](scenario, **kw)
