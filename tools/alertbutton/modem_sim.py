"""Host-side modem simulator: a SIMCom A76xx (A7670E) speaking its AT dialect on a pty.

The firmware (in the MicroPython VM) opens the pty slave as its UART. Everything the real module does
that the firmware must survive is reproduced: boot banners, input lost before boot, echo until ATE0,
per-command latency, the CMGS "> " prompt without CRLF, +CMS errors, URCs landing anywhere between
whole lines (even between a response and its final result code, or right after the prompt).

Design for later dialects and faults:
  * one class per dialect (ModemSim is the A76xx); handlers are methods named x_<NAME> for extended
    commands (AT+NAME) and b_<LETTER> for basic ones (ATE0 -> b_E); subclasses override or add them
    and change the class attributes (banners, ATI text, URC pool, GNSS line format). DIALECTS maps a
    scenario's "modem": {"dialect": ...} to a class; create() builds one.
  * faults: sim.fault(name, **params) arms a named fault; FAULTS maps each name to the stages where
    its hook _fault_<name>(stage, ctx, params) is consulted ("rx", "tx", "result", "cmgs_submit").
    A hook returns True when it consumed the event. Unknown names raise ValueError.

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

from gsmmodem.pdu import decodeSmsPdu

# User Equivalent Range Error (m): HDOP = accuracy_m / UERE_M. The firmware's copy lives in
# firmware/location.py (MicroPython-only module, so not importable here); a host test checks they agree.
UERE_M = 5.0

_CTRL_Z = 0x1A
_ESC = 0x1B
_CR = 0x0D
_LF = 0x0A
_BS = 0x08
_HEX = frozenset(b"0123456789ABCDEFabcdef")
_MAX_LINE = 556  # longer command lines are dropped, as the module's line buffer would

# 3GPP TS 27.007 section 9.2 verbose texts (AT+CMEE=2) for the codes this sim produces.
CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    14: "SIM busy",
    30: "no network service",
    50: "Incorrect parameters",
    100: "unknown",
}

# 3GPP TS 27.005 section 3.2.5 codes (reported numerically: 27.005 defines no verbose form).
CMS_INVALID_PDU = 304     # invalid PDU mode parameter
CMS_INVALID_TEXT = 305    # invalid text mode parameter
CMS_NO_SERVICE = 331      # no network service
CMS_UNKNOWN = 500         # unknown error


class CmdError(Exception):
    """Raised by a handler: final is "ERROR", ("cme", code) or ("cms", code)."""

    def __init__(self, final="ERROR"):
        super().__init__(final)
        self.final = final


_ASYNC = object()  # handler return value: it schedules its own final result


def parse_args(s):
    """Split AT parameters on commas outside quotes; quotes are removed. 'a,"b,c",3' -> [a, b,c, 3]."""
    out, cur, quoted, was_quoted = [], [], False, False
    for ch in s:
        if ch == '"':
            quoted = not quoted
            was_quoted = True
        elif ch == "," and not quoted:
            out.append("".join(cur) if was_quoted else "".join(cur).strip())
            cur, was_quoted = [], False
        else:
            cur.append(ch)
    out.append("".join(cur) if was_quoted else "".join(cur).strip())
    return out


def _int_arg(args, i, lo, hi, default=None):
    if i >= len(args) or args[i] == "":
        if default is None:
            raise CmdError(("cme", 50))
        return default
    try:
        v = int(args[i])
    except ValueError:
        raise CmdError(("cme", 50)) from None
    if not lo <= v <= hi:
        raise CmdError(("cme", 50))
    return v


def _ud_octets(dcs, udl):
    """Octets the user data must occupy for TP-DCS dcs and TP-UDL udl (TS 23.038 alphabet groups)."""
    if dcs & 0xC0 == 0x00:
        alphabet = (dcs >> 2) & 3
    elif dcs & 0xF0 == 0xF0:
        alphabet = (dcs >> 2) & 1
    elif dcs & 0xF0 == 0xE0:
        alphabet = 2
    else:
        alphabet = 0
    return (udl * 7 + 7) // 8 if alphabet == 0 else udl


def check_submit_pdu(hexstr, n):
    """Validate what the TE typed after AT+CMGS=n in PDU mode.

    Returns (None, decoded) when the PDU is a well-formed SMS-SUBMIT whose TPDU (the PDU without its
    leading SMSC field) is exactly n octets, else (CMS error code, None). Decoding is done by
    python-gsmmodem-new, independently of the firmware's encoder.
    """
    if not hexstr or len(hexstr) % 2 or any(c not in _HEX for c in hexstr.encode("latin-1")):
        return CMS_INVALID_PDU, None
    raw = bytes.fromhex(hexstr)
    smsc_len = raw[0]
    tpdu = raw[1 + smsc_len:]
    if 1 + smsc_len > len(raw) or len(tpdu) != n or len(tpdu) < 7:
        return CMS_INVALID_PDU, None
    # walk the SMS-SUBMIT header (TS 23.040 9.2.2.2) so a truncated or padded PDU is refused
    fo = tpdu[0]
    if fo & 0x03 != 0x01:
        return CMS_INVALID_PDU, None
    i = 2                                   # first octet, TP-MR
    da_digits = tpdu[i]
    i += 2 + (da_digits + 1) // 2           # length, type of address, semi-octets
    i += 2                                  # TP-PID, TP-DCS
    if i > len(tpdu):
        return CMS_INVALID_PDU, None
    dcs = tpdu[i - 1]
    vpf = (fo >> 3) & 3
    i += {0: 0, 2: 1}.get(vpf, 7)
    if i >= len(tpdu):
        return CMS_INVALID_PDU, None
    udl = tpdu[i]
    if len(tpdu) - i - 1 != _ud_octets(dcs, udl):
        return CMS_INVALID_PDU, None
    try:
        decoded = decodeSmsPdu(hexstr)
    except Exception:
        return CMS_INVALID_PDU, None
    if decoded.get("type") != "SMS-SUBMIT":
        return CMS_INVALID_PDU, None
    return None, decoded


def luhn_complete(digits14):
    """Append the Luhn check digit an IMEI carries (3GPP TS 23.003 annex B)."""
    total = 0
    for i, c in enumerate(reversed(digits14)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits14 + str((10 - total % 10) % 10)


def _parse_net_time(s):
    """'26/11/26,15:30:00+04' (local time, zone in quarter hours) -> (UTC datetime, quarters)."""
    date, clock = s.split(",")
    sign = 1 if "+" in clock else -1
    hms, tz = clock.replace("-", "+").split("+")
    local = datetime.datetime.strptime(date + "," + hms, "%y/%m/%d,%H:%M:%S")
    q = sign * int(tz)
    return local - datetime.timedelta(minutes=15 * q), q


class ModemSim:
    """SIMCom A76xx (A7670E) on a pty. See the module docstring for the dialect/fault design."""

    dialect = "a76xx"
    # real A7670 boot order, one URC each, spaced by banner_gap_s
    boot_banners = ("*ATREADY: 1", "+CPIN: READY", "SMS DONE", "PB DONE")
    sms_ready_banner = "SMS DONE"  # SMS commands answer ERROR before it (seen on a real A7670E:
    # github.com/Xinyuan-LilyGO/LilyGo-Modem-Series/issues/247, AT+CMGF=1 -> ERROR before SMS DONE)
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

    def __init__(self, scenario, on_sms=None, on_log=None, seed=0, clock=time.monotonic):
        scenario = scenario or {}
        m = dict(scenario.get("modem") or {})
        self.cmgs_latency_s = float(m.get("cmgs_latency_s", 1.0))
        self.boot_s = float(m.get("boot_s", 0.5))
        self.cmd_latency_s = float(m.get("cmd_latency_s", 0.02))
        self.urc_rate_hz = float(m.get("urc_rate_hz", 0.0))
        reg = m.get("registered_after_s", 0.0)
        self.registered_after_s = None if reg is None or reg < 0 else float(reg)
        self.csq = int(m.get("csq", 20))
        self.banner_gap_s = float(m.get("banner_gap_s", 0.1))
        self.gnss_ready_s = float(m.get("gnss_ready_s", 0.2))
        self.vbat_v = float(m.get("vbat_v", 3.95))
        self.imei = str(m.get("imei") or luhn_complete("86000000123456"))
        self.imsi = str(m.get("imsi", "208011234567890"))
        self.nitz = bool(m.get("nitz", True))
        self.net_time = str(m.get("net_time", "26/11/26,15:30:00+04"))
        self._utc0, self._tzq = _parse_net_time(self.net_time)
        self.gnss = scenario.get("gnss")
        self._t0_cfg = scenario.get("t0")
        self.on_sms = on_sms
        self.on_log = on_log
        self.clock = clock
        self.rng = random.Random(seed)
        self.sms = []
        self.faults = {}
        self.error = None  # last exception raised inside the sim thread (also logged)
        # modem state (touched only by the sim thread once started)
        self.echo = True
        self.cmee = 0
        self.cmgf = 0
        self.cscs = "IRA"
        self.creg_n = self.cereg_n = self.cgreg_n = 0
        self.cfun = 1
        self.mr = int(m.get("mr0", 0)) & 0xFF
        self.cmti_index = 0
        self.gnss_on_at = None
        self.booted = False
        self.sms_ready = False
        self._busy = False
        self._mode = "cmd"           # "cmd" | "pdu" | "text" (collecting after the "> " prompt)
        self._cmgs_len = 0
        self._cmgs_da = None
        self._line = bytearray()
        self._body = bytearray()
        self._rx = bytearray()
        self._out = bytearray()
        self._inject_at = {"before_final": [], "after_prompt": [], "after_echo": []}
        self._events = []
        self._seq = 0
        self._next_urc = None
        self._posted = []
        self._lock = threading.Lock()
        self._sms_cv = threading.Condition(self._lock)
        self._stop = False
        self._thread = None
        self._master = self._slave = None
        self._wake_r = self._wake_w = None
        self.t0 = None

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
        self._schedule(self.t0 + self.boot_s, self._boot)
        if self.registered_after_s is not None:
            self._schedule(self.t0 + self.registered_after_s, self._on_registered)
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

    def fault(self, name, **params):
        """Arm a named fault (see FAULTS); re-arming replaces its parameters."""
        if name not in self.FAULTS:
            raise ValueError("unknown fault %r (known: %s)" % (name, ", ".join(sorted(self.FAULTS))))
        with self._lock:
            self.faults[name] = dict(params)
        self._log("fault armed: %s %r" % (name, params))

    def clear_fault(self, name=None):
        with self._lock:
            if name is None:
                self.faults.clear()
            else:
                self.faults.pop(name, None)
        self._log("fault cleared: %s" % (name or "all"))

    def now(self):
        """Seconds since t0 on the sim clock."""
        return self.clock() - self.t0

    def registered(self):
        return (self.cfun == 1 and self.registered_after_s is not None
                and self.now() >= self.registered_after_s)

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

    # ---------------------------------------------------------------- fault hooks
    # name -> stages where its hook is consulted
    FAULTS = {
        "cms_error": ("cmgs_submit", "result"),
        "silent": ("rx", "tx"),
    }

    def _fault(self, stage, ctx):
        with self._lock:
            armed = [(n, p) for n, p in self.faults.items() if stage in self.FAULTS[n]]
        for name, params in armed:
            if getattr(self, "_fault_" + name)(stage, ctx, params):
                return True
        return False

    def _spend(self, name, params):
        """Count one use of a fault armed with times=N; disarm it when used up (times=None: forever)."""
        times = params.get("times", 1)
        if times is None:
            return
        params["times"] = times - 1
        if params["times"] <= 0:
            with self._lock:
                if self.faults.get(name) is params:
                    del self.faults[name]
            self._log("fault used up: %s" % name)

    def _fault_cms_error(self, stage, ctx, params):
        """+CMS ERROR: code (default 500) instead of success, `times` times (default 1), for the
        command `cmd` (default CMGS: the error comes after the PDU, once cmgs_latency_s elapsed)."""
        cmd = params.get("cmd", "CMGS").upper().lstrip("+")
        if (stage == "cmgs_submit") != (cmd == "CMGS") or (stage == "result" and ctx["cmd"] != cmd):
            return False
        ctx["final"] = ("cms", int(params.get("code", CMS_UNKNOWN)))
        ctx["lines"] = []
        self._spend("cms_error", params)
        return True

    def _fault_silent(self, stage, ctx, params):
        """The module stops answering: input swallowed, nothing written (no echo, no URC). times=N
        swallows N command lines then recovers; default: until clear_fault('silent')."""
        if stage == "rx" and ctx["byte"] == _CR and params.get("times") is not None:
            self._spend("silent", params)
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

    def _schedule(self, at, fn):
        self._seq += 1
        heapq.heappush(self._events, (at, self._seq, fn))

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
            fn = heapq.heappop(self._events)[2]
            fn()
        if self._next_urc is not None and now >= self._next_urc:
            self._random_urc()
            self._next_urc = now + self.rng.expovariate(self.urc_rate_hz)
        self._process_rx()
        deadline = [e[0] for e in self._events[:1]]
        if self._next_urc is not None:
            deadline.append(self._next_urc)
        timeout = min([0.05] + [max(0.0, d - self.clock()) for d in deadline])
        wl = [self._master] if self._out else []
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
        try:
            n = os.write(self._master, bytes(self._out))
        except (BlockingIOError, InterruptedError):
            return
        del self._out[:n]

    def _write(self, data):
        if self._fault("tx", {"data": data}):
            return
        self._out += data
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

    def _final_text(self, final):
        if final in ("OK", "ERROR"):
            return final
        kind, code = final
        if kind == "cms":
            return "+CMS ERROR: %d" % code
        if self.cmee == 0:
            return "ERROR"
        if self.cmee == 1:
            return "+CME ERROR: %d" % code
        return "+CME ERROR: %s" % CME_TEXT.get(code, CME_TEXT[100])

    def _flush_injections(self, point):
        lines, self._inject_at[point] = self._inject_at[point], []
        for line in lines:
            self._emit_urc(line)

    def _emit_final(self, final):
        self._flush_injections("before_final")
        self._emit_line(self._final_text(final))
        self._done()

    def _done(self):
        self._busy = False
        self._process_rx()

    def _respond(self, lines, final, delay=None):
        """Info lines after half the latency, the final result code after all of it (URCs fit between)."""
        delay = self.cmd_latency_s if delay is None else delay
        if lines:
            self._later(delay / 2, lambda: [self._emit_line(x) for x in lines])
        self._later(delay, lambda: self._emit_final(final))

    # ---------------------------------------------------------------- boot, network, GNSS, URCs
    def _boot(self):
        self.booted = True
        self._rx.clear()  # whatever arrived before is lost
        for i, banner in enumerate(self.boot_banners):
            self._later(i * self.banner_gap_s, lambda b=banner: self._banner(b))
        if self.urc_rate_hz > 0:
            self._next_urc = self.clock() + self.rng.expovariate(self.urc_rate_hz)

    def _banner(self, line):
        self._emit_urc(line)
        if line == self.sms_ready_banner:
            self.sms_ready = True

    def _on_registered(self):
        if self.booted and self.cfun == 1:
            for name, n in (("CREG", self.creg_n), ("CGREG", self.cgreg_n), ("CEREG", self.cereg_n)):
                if n:
                    self._emit_urc(self._reg_urc(name, n))

    def _reg_stat(self):
        return 1 if self.registered() else 2

    def _reg_tail(self):
        """Location fields for n=2 (TAC, cell id, AcT 7 = E-UTRAN); absent while not registered."""
        return ',"1A2B","01A2B3C4",7' if self.registered() else ""

    def _reg_urc(self, name, n):
        return "+%s: %d%s" % (name, self._reg_stat(), self._reg_tail() if n >= 2 else "")

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

    def _random_urc(self):
        line = self.rng.choice(self._urc_pool())
        if line.startswith("+CMTI:"):
            self.cmti_index += 1
        self._emit_urc(line)

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

    def _utc_now(self):
        return self._utc0 + datetime.timedelta(seconds=self.now())

    # ---------------------------------------------------------------- input
    def _on_rx(self, data):
        if not self.booted:
            self._log("> (lost before boot) %r" % data)
            return
        for b in data:
            if self._fault("rx", {"byte": b}):
                continue
            self._rx.append(b)
        self._process_rx()

    def _process_rx(self):
        while self._rx and not self._busy and self.booted:
            b = self._rx.pop(0)
            if self._mode == "cmd":
                self._feed_cmd(b)
            else:
                self._feed_body(b)

    def _echo(self, data):
        if self.echo:
            self._write(data)

    def _feed_cmd(self, b):
        if b == _CR:
            self._echo(b"\r")
            line, self._line = bytes(self._line), bytearray()
            self._on_line(line)
        elif b == _LF:
            self._echo(b"\n")
        elif b == _BS:
            self._echo(b"\x08")
            if self._line:
                self._line.pop()
        else:
            self._echo(bytes((b,)))
            self._line.append(b)
            if len(self._line) > _MAX_LINE:
                self._log("> line too long, dropped")
                self._line = bytearray()

    def _on_line(self, raw):
        text = raw.decode("latin-1").strip()
        if not text:
            return
        self._log("> " + text)
        if text[:2].upper() != "AT":
            self._log("  (not a command, ignored)")
            return
        self._busy = True
        self._flush_injections("after_echo")
        body = text[2:]
        name, form, args = self._split(body)
        ctx = {"cmd": name, "form": form, "args": args, "lines": [], "final": "OK"}
        try:
            if form == "bad":
                raise CmdError("ERROR")
            handler = self._handler(body, name)
            res = handler(form, args)
            if res is _ASYNC:
                return
            ctx["lines"] = list(res or ())
        except CmdError as e:
            ctx["final"] = e.final
        self._fault("result", ctx)
        self._respond(ctx["lines"], ctx["final"])

    @staticmethod
    def _split(body):
        """'+CMGS=23' -> ('CMGS', 'set', ['23']); 'E0' -> ('E', 'set', ['0']); '' -> ('', 'exec', [])."""
        if not body:
            return "", "exec", []
        if body[0] in "+*$^":
            i = 1
            while i < len(body) and body[i] not in "=?":
                i += 1
            name, rest = body[1:i].upper(), body[i:]
            if rest == "":
                return name, "exec", []
            if rest == "?":
                return name, "read", []
            if rest == "=?":
                return name, "test", []
            if rest.startswith("="):
                return name, "set", parse_args(rest[1:])
            return name, "bad", []
        if body[0] == "&":
            return body[:2].upper(), "set", [body[2:]]
        return body[0].upper(), "set", [body[1:]]

    def _handler(self, body, name):
        if not body:
            return lambda form, args: []
        prefix = "x_" if body[0] in "+*$^" else "b_"
        fn = getattr(self, prefix + name.replace("&", "AMP_"), None)
        if fn is None:
            raise CmdError("ERROR")
        return fn

    # ---------------------------------------------------------------- basic commands
    def b_E(self, form, args):
        v = args[0] or "0"
        if v not in ("0", "1"):
            raise CmdError("ERROR")
        self.echo = v == "1"
        return []

    def b_I(self, form, args):
        if args[0] not in ("", "0"):
            raise CmdError("ERROR")
        # one information block: its lines are separated by a single CRLF, as the module prints it
        return ["\r\n".join(x.format(imei=self.imei) for x in self.ati_lines)]

    def b_Z(self, form, args):
        self.echo = True
        return []

    def b_AMP_F(self, form, args):
        return self.b_Z(form, args)

    def b_AMP_W(self, form, args):
        return []

    # ---------------------------------------------------------------- extended commands
    def x_CMEE(self, form, args):
        if form == "read":
            return ["+CMEE: %d" % self.cmee]
        if form == "test":
            return ["+CMEE: (0-2)"]
        self.cmee = _int_arg(args, 0, 0, 2, default=0)
        return []

    def x_CPIN(self, form, args):
        if form == "read":
            return ["+CPIN: READY"]
        if form == "test":
            return []
        raise CmdError(("cme", 3))  # no PIN to enter on this SIM

    def x_CGSN(self, form, args):
        if form == "test":
            return []
        return [self.imei]

    def x_SIMEI(self, form, args):
        if form == "read":
            return ["+SIMEI: " + self.imei]
        raise CmdError("ERROR")

    def x_CIMI(self, form, args):
        if form == "test":
            return []
        return [self.imsi]

    def x_CSQ(self, form, args):
        if form == "test":
            return ["+CSQ: (0-31,99),(0-7,99)"]
        return ["+CSQ: %d,99" % (self.csq if self.cfun == 1 else 99)]

    def x_CFUN(self, form, args):
        if form == "read":
            return ["+CFUN: %d" % self.cfun]
        if form == "test":
            return ["+CFUN: (0,1,4),(0-1)"]
        v = _int_arg(args, 0, 0, 4)
        if v not in (0, 1, 4):
            raise CmdError(("cme", 50))
        self.cfun = v
        return []

    def _xreg(self, name, form, args):
        attr = name.lower() + "_n"
        if form == "read":
            n = getattr(self, attr)
            return ["+%s: %d,%d%s" % (name, n, self._reg_stat(), self._reg_tail() if n >= 2 else "")]
        if form == "test":
            return ["+%s: (0-2)" % name]
        setattr(self, attr, _int_arg(args, 0, 0, 2, default=0))
        return []

    def x_CREG(self, form, args):
        return self._xreg("CREG", form, args)

    def x_CGREG(self, form, args):
        return self._xreg("CGREG", form, args)

    def x_CEREG(self, form, args):
        return self._xreg("CEREG", form, args)

    def x_COPS(self, form, args):
        if form == "read":
            if self.registered():
                return ['+COPS: 0,0,"%s",7' % self.operator[1]]
            return ["+COPS: 0"]
        if form == "test":
            return ['+COPS: (2,"%s","%s","%s",7),,(0-4),(0-2)' % (self.operator[1], self.operator[1][:6],
                                                                 self.operator[0])]
        _int_arg(args, 0, 0, 4)
        return []

    def x_CPSI(self, form, args):
        if form != "read":
            raise CmdError("ERROR")
        if not self.registered():
            return ["+CPSI: NO SERVICE,Online"]
        mcc, mnc = self.operator[0][:3], self.operator[0][3:]
        rsrp = -140 + 2 * self.csq  # a plausible value that follows csq
        return ["+CPSI: LTE,Online,%s-%s,0x1A2B,27447297,123,EUTRAN-BAND20,6300,5,5,-94,%d,-754,15"
                % (mcc, mnc, rsrp * 10)]

    def x_CCLK(self, form, args):
        if form == "read":
            if self.nitz and self.registered():
                local = self._utc_now() + datetime.timedelta(minutes=15 * self._tzq)
                return ['+CCLK: "%s%+03d"' % (local.strftime("%y/%m/%d,%H:%M:%S"), self._tzq)]
            # never synced: the module's RTC counts from 1970 like a real A7670 without NITZ
            t = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(self.now()))
            return ['+CCLK: "%s+00"' % t.strftime("%y/%m/%d,%H:%M:%S")]
        if form == "test":
            return []
        return []  # setting the clock is accepted and ignored

    def x_CBC(self, form, args):
        if form == "test":
            return []
        return ["+CBC: %.3fV" % self.vbat_v]

    def x_CTZU(self, form, args):
        return [] if form != "read" else ["+CTZU: 1"]

    def x_CTZR(self, form, args):
        return [] if form != "read" else ["+CTZR: 0"]

    def x_CSCLK(self, form, args):
        return [] if form != "read" else ["+CSCLK: 0"]

    # --- SMS (3GPP TS 27.005)
    def _sms_check(self):
        if not self.sms_ready:
            raise CmdError("ERROR")

    def x_CMGF(self, form, args):
        self._sms_check()
        if form == "read":
            return ["+CMGF: %d" % self.cmgf]
        if form == "test":
            return ["+CMGF: (0-1)"]
        self.cmgf = _int_arg(args, 0, 0, 1, default=0)
        return []

    def x_CSCS(self, form, args):
        if form == "read":
            return ['+CSCS: "%s"' % self.cscs]
        if form == "test":
            return ['+CSCS: ("IRA","GSM","UCS2")']
        if not args or args[0].upper() not in ("IRA", "GSM", "UCS2"):
            raise CmdError(("cme", 50))
        self.cscs = args[0].upper()
        return []

    def x_CNMI(self, form, args):
        self._sms_check()
        if form == "read":
            return ["+CNMI: 2,1,0,0,0"]
        if form == "test":
            return ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0-1)"]
        for i in range(len(args)):
            _int_arg(args, i, 0, 3, default=0)
        return []

    def x_CSMP(self, form, args):
        self._sms_check()
        if form == "read":
            return ["+CSMP: 17,167,0,0"]
        return []

    def x_CPMS(self, form, args):
        self._sms_check()
        if form == "read":
            return ['+CPMS: "SM",0,30,"SM",0,30,"SM",0,30']
        if form == "test":
            return ['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")']
        for a in args:
            if a.upper() not in ("SM", "ME", "MT"):
                raise CmdError(("cms", CMS_INVALID_TEXT))
        return ["+CPMS: 0,30,0,30,0,30"]

    def x_CMGS(self, form, args):
        self._sms_check()
        if form == "test":
            return []
        if form != "set" or not args:
            raise CmdError("ERROR")
        if self.cmgf == 0:
            try:
                n = int(args[0])
            except ValueError:
                raise CmdError(("cms", CMS_INVALID_PDU)) from None
            if not 7 <= n <= 164:
                raise CmdError(("cms", CMS_INVALID_PDU))
            self._cmgs_len, self._cmgs_da = n, None
        else:
            if not args[0]:
                raise CmdError(("cms", CMS_INVALID_TEXT))
            self._cmgs_len, self._cmgs_da = 0, args[0]
        self._later(self.cmd_latency_s, self._prompt)
        return _ASYNC

    def _prompt(self):
        self._mode = "pdu" if self._cmgs_da is None else "text"
        self._body = bytearray()
        self._log('< "> "')
        self._write(b"\r\n> ")
        self._flush_injections("after_prompt")
        self._busy = False
        self._process_rx()

    def _feed_body(self, b):
        if b == _CTRL_Z:
            self._busy = True
            body, self._body, mode = bytes(self._body), bytearray(), self._mode
            self._mode = "cmd"
            self._log("> %s <ctrl-Z>" % body.decode("latin-1"))
            self._submit(body.decode("latin-1"), mode)
        elif b == _ESC:
            self._busy = True
            self._body, self._mode = bytearray(), "cmd"
            self._log("> <ESC> (send cancelled)")
            if self.esc_reply_ok:
                self._later(self.cmd_latency_s, lambda: self._emit_final("OK"))
            else:
                self._later(self.cmd_latency_s, self._done)
        else:
            self._echo(bytes((b,)))
            if self._mode == "text" and b == _CR:
                # text mode: a new prompt after each CR (27.005 3.5.1)
                self._write(b"\n> " if self.echo else b"\r\n> ")
                self._body.append(_LF)
            elif len(self._body) < 2048:
                self._body.append(b)

    def _submit(self, body, mode):
        if mode == "pdu":
            code, decoded = check_submit_pdu(body, self._cmgs_len)
            if code is not None:
                self._later(self.cmd_latency_s, lambda: self._emit_final(("cms", code)))
                return
            rec = {"to": decoded["number"], "pdu": body.upper(), "text": decoded.get("text", "")}
            concat = [ie for ie in decoded.get("udh", ()) if hasattr(ie, "parts")]
            if concat:
                rec["concat"] = (concat[0].reference, concat[0].parts, concat[0].number)
        else:
            rec = {"to": self._cmgs_da, "pdu": None, "text": body}
        if not self.registered():
            self._later(self.cmd_latency_s, lambda: self._emit_final(("cms", CMS_NO_SERVICE)))
            return
        self._later(self.cmgs_latency_s, lambda: self._cmgs_done(rec))

    def _cmgs_done(self, rec):
        ctx = {"cmd": "CMGS", "final": None}
        if self._fault("cmgs_submit", ctx):
            self._emit_final(ctx["final"])
            return
        if not self.registered():  # lost the network while sending
            self._emit_final(("cms", CMS_NO_SERVICE))
            return
        mr, self.mr = self.mr, (self.mr + 1) & 0xFF
        rec = dict(rec, t=round(self.now(), 3), mr=mr)
        with self._sms_cv:
            self.sms.append(rec)
            self._sms_cv.notify_all()
        self._log("SMS accepted: %r" % rec)
        if self.on_sms is not None:
            try:
                self.on_sms(rec)
            except Exception as e:
                self.error = e
                self._log("on_sms raised %r" % e)
        self._emit_line("+CMGS: %d" % mr)
        self._later(self.cmd_latency_s / 2, lambda: self._emit_final("OK"))

    # --- GNSS (A76XX AT Command Manual, GNSS chapter: AT+CGNSSPWR, AT+CGNSSINFO)
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
        return ("+CGNSSINFO: 3,%02d,%02d,%02d,%.6f,%s,%.6f,%s,%s,%s.%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f" % (
            8, 4, 3, abs(lat), "N" if lat >= 0 else "S", abs(lon), "E" if lon >= 0 else "W",
            utc.strftime("%d%m%y"), utc.strftime("%H%M%S"), utc.microsecond // 100000,
            float(fix.get("alt_m", 35.0)), float(fix.get("speed_kn", 0.0)), 0.0, pdop, hdop, vdop))


DIALECTS = {"a76xx": ModemSim}


def create(scenario, **kw):
    """Build the simulator for scenario["modem"]["dialect"] (default "a76xx")."""
    name = ((scenario or {}).get("modem") or {}).get("dialect", "a76xx").lower()
    if name not in DIALECTS:
        raise ValueError("unknown modem dialect %r (known: %s)" % (name, ", ".join(sorted(DIALECTS))))
    return DIALECTS[name](scenario, **kw)
