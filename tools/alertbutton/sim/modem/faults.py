"""Named faults of the simulated modem. sim.fault(name, **params) arms one (or a scenario's "faults":
[{"name", "at_s", params...}], armed at start or at at_s seconds). FAULTS maps each name to (hook,
stages, default parameters): the hook _fault_<hook>(stage, ctx, params) is consulted at those stages
("rx", "tx", "result", "cmgs_cmd", "prompt", "cmgs_pdu", "cmgs_submit", "cmgs_accepted", "report",
"dial", "connect", "escape") and returns True when it consumed the event; _arm_<hook>(name, params),
if defined, runs when the fault is armed. Unknown names or parameters raise ValueError. Common
parameters: times (uses before the fault disarms itself, None = forever), skip (matching occurrences
let through first), to (only SMS to this number). Random choices use one generator per fault seeded
from (seed, name). Descriptions: docs/fault-suite.md.

A ModemSim mixin: the armed faults and fault_hits live on the ModemSim (a76xx.py).
"""
import random

from alertbutton.sim.modem.at import _CR
from alertbutton.sim.modem.pdu import CMS_UNKNOWN, ST_DELIVERED, ST_INCOMPATIBLE, ST_SME_BUSY, _norm_number

REQUIRED = object()  # a fault parameter without a default
_CMGS_ERR = ("cmgs_submit", "result")


# name -> (hook, stages where _fault_<hook> is consulted, default parameters). A parameter not listed
# here is refused, so a typo in a scenario file fails loudly. Descriptions: docs/fault-suite.md.
FAULTS = {
    # +CMS ERROR <code> instead of +CMGS (after the PDU and cmgs_latency_s), or for another command
    "cms_error": ("cms_error", _CMGS_ERR, {"code": CMS_UNKNOWN, "times": 1, "skip": 0, "cmd": "CMGS",
                                           "to": None}),
    "cms_38": ("cms_error", _CMGS_ERR, {"code": 38, "times": 1, "skip": 0, "cmd": "CMGS", "to": None}),
    "cms_42": ("cms_error", _CMGS_ERR, {"code": 42, "times": 1, "skip": 0, "cmd": "CMGS", "to": None}),
    "cms_500": ("cms_error", _CMGS_ERR, {"code": 500, "times": 1, "skip": 0, "cmd": "CMGS", "to": None}),
    # one destination always refused (24.011 E.2 cause 1 unassigned number, 21 rejected, 50 ...)
    "cms_permanent": ("cms_error", _CMGS_ERR, {"code": 1, "times": None, "skip": 0, "cmd": "CMGS",
                                               "to": REQUIRED}),
    # input swallowed and nothing written; times=N: N command lines, then normal again
    "silent": ("silent", ("rx", "tx"), {"times": None}),
    # the module hangs (on the next AT+CMGS after `skip`, or at once with now=True) until a power cycle
    "silent_until_power_cycle": ("hang", ("cmgs_cmd", "rx", "tx"), {"skip": 0, "now": False}),
    "no_sim": ("no_sim", (), {}),
    # no working GNSS engine (a module variant without GNSS, or a dead one): every GNSS command ERROR
    "no_gnss": ("no_gnss", ("result",), {}),
    "sim_pin": ("sim_pin", (), {"pin": "1234"}),
    "not_registered_for": ("unregistered", (), {"duration_s": 120.0}),
    # the "> " prompt never reaches the TE: mode "lost" (the module waits for the PDU) or "ignored"
    "no_prompt": ("no_prompt", ("prompt",), {"times": 1, "skip": 0, "mode": "lost"}),
    # PDU taken, then neither +CMGS nor an error; sent=True: the network did get the SMS
    "no_cmgs": ("no_cmgs", ("cmgs_submit",), {"times": 1, "skip": 0, "sent": False, "to": None}),
    "garbage": ("garbage", ("tx",), {"rate": 0.5, "idle_hz": 2.0}),
    "baud_noise": ("baud_noise", ("tx",), {"rate": 0.3, "idle_hz": 3.0}),
    "partial_lines": ("partial_lines", (), {"min_gap_ms": 1.0, "max_gap_ms": 3.0}),
    "urc_storm_during_cmgs": ("urc_storm", ("cmgs_cmd",), {"rate_hz": 50.0, "times": None, "skip": 0}),
    # the module resets while the SMS is in flight (after `skip` SMS); sent=True: it had reached the SC
    "reboot_mid_sms": ("reboot_mid_sms", ("cmgs_pdu",), {"times": 1, "skip": 0, "sent": False}),
    "spontaneous_reboot": ("spontaneous_reboot", (), {}),
    # echo turns itself back on after `skip` + 1 accepted SMS
    "echo_reenabled": ("echo_reenabled", ("cmgs_accepted",), {"times": 1, "skip": 0}),
    "slow_cmgs": ("slow_cmgs", ("cmgs_pdu",), {"latency_s": 30.0, "times": 1, "skip": 0, "to": None}),
    "cds_failed": ("cds", ("report",), {"status": ST_INCOMPATIBLE, "times": None, "skip": 0, "to": None}),
    "cds_never": ("cds", ("report",), {"status": None, "times": None, "skip": 0, "to": None}),
    "cds_temporary_then_delivered": ("cds", ("report",), {"status": ST_SME_BUSY, "then_s": 3.0,
                                                          "final": ST_DELIVERED, "times": None, "skip": 0,
                                                          "to": None}),
    "ring_during_cmgs": ("ring", ("cmgs_pdu",), {"count": 3, "gap_s": 0.15, "times": None, "skip": 0}),
    "cmti_flood": ("cmti_flood", ("cmgs_cmd",), {"count": 40, "rate_hz": 40.0, "times": 1, "skip": 0}),
    "sms_done_late": ("sms_done_late", (), {"delay_s": 10.0}),
    # data mode (PPP): "+++" ignored, the module stays in data mode (times: escapes ignored)
    "ignore_escape": ("ignore_escape", ("escape",), {"times": None}),
    # the network drops the data call after_s after CONNECT: NO CARRIER, back to command mode
    "data_drop": ("data_drop", ("connect",), {"after_s": 0.5, "times": 1}),
    # the dial is refused: NO CARRIER instead of CONNECT
    "dial_refused": ("dial_refused", ("dial",), {"times": 1}),
}

_CLEARED_BY_POWER = ("hang", "silent")  # hooks whose faults a power cycle cures

# the GNSS commands of every simulated dialect (A76xx, SIM7600, SIM7080, BG95): what no_gnss refuses
_GNSS_CMDS = frozenset(("CGNSSPWR", "CGNSSINFO", "CGPS", "CGNSPWR", "CGNSINF", "QGPS", "QGPSEND", "QGPSLOC"))


# Junk for the garbage fault: no letters, digits, '+', '>' or space, so it can never spell a result
# code, a URC prefix or the prompt; control and high-bit bytes included.
_JUNK = b"#$%&'()*-./:;<=?@[\\]^_`{|}~" + bytes((0x00, 0x07, 0x1B, 0x7F, 0x80, 0xC3, 0xFE, 0xFF))


class FaultHooks:
    """Arming faults and their hooks (a ModemSim mixin)."""

    @classmethod
    def _check_fault(cls, name, params):
        if name not in cls.FAULTS:
            raise ValueError("unknown fault %r (known: %s)" % (name, ", ".join(sorted(cls.FAULTS))))
        defaults = cls.FAULTS[name][2]
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise ValueError("fault %s: unknown parameter(s) %s (known: %s)"
                             % (name, ", ".join(unknown), ", ".join(sorted(defaults)) or "none"))
        missing = [k for k, v in defaults.items() if v is REQUIRED and k not in params]
        if missing:
            raise ValueError("fault %s needs %s" % (name, ", ".join(missing)))

    def fault(self, name, **params):
        """Arm a named fault (see FAULTS) with its default parameters overridden by params; re-arming
        replaces its parameters."""
        self._check_fault(name, params)
        p = dict(self.FAULTS[name][2])
        p.update(params)
        with self._lock:
            self.faults[name] = p
        self._log("fault armed: %s %r" % (name, params))
        arm = getattr(self, "_arm_" + self.FAULTS[name][0], None)
        if arm is not None:
            self._post(lambda: arm(name, p))

    def clear_fault(self, name=None):
        with self._lock:
            if name is None:
                self.faults.clear()
            else:
                self.faults.pop(name, None)
        self._log("fault cleared: %s" % (name or "all"))

    # ---------------------------------------------------------------- fault machinery
    def _fault(self, stage, ctx):
        with self._lock:
            armed = [(n, p) for n, p in self.faults.items() if stage in self.FAULTS[n][1]]
        for name, params in armed:
            ctx["fault"] = name
            if getattr(self, "_fault_" + self.FAULTS[name][0])(stage, ctx, params):
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

    def _take(self, name, params, to=None):
        """Does this occurrence trigger the fault? Filters on `to`, lets `skip` occurrences through,
        then spends one use."""
        if params.get("to") is not None and _norm_number(params["to"]) != _norm_number(to):
            return False
        if params.get("skip", 0) > 0:
            params["skip"] -= 1
            return False
        self._spend(name, params)
        self._hit(name)
        return True

    def _hit(self, name):
        self.fault_hits[name] = self.fault_hits.get(name, 0) + 1

    def _frand(self, name):
        """The fault's own generator: its random choices do not depend on other faults or URCs."""
        r = self._frng.get(name)
        if r is None:
            r = self._frng[name] = random.Random("%s:%s" % (self.seed, name))
        return r

    # --- hooks (sim thread)
    def _fault_cms_error(self, stage, ctx, params):
        """+CMS ERROR: code instead of success, for the command `cmd` (CMGS: the error comes after the
        PDU, once cmgs_latency_s elapsed)."""
        cmd = params.get("cmd", "CMGS").upper().lstrip("+")
        if (stage == "cmgs_submit") != (cmd == "CMGS") or (stage == "result" and ctx["cmd"] != cmd):
            return False
        if not self._take(ctx["fault"], params, ctx.get("to")):
            return False
        ctx["final"] = ("cms", int(params.get("code", CMS_UNKNOWN)))
        ctx["lines"] = []
        return True

    def _fault_silent(self, stage, ctx, params):
        """The module stops answering: input swallowed, nothing written (no echo, no URC). times=N
        swallows N command lines then recovers; default: until clear_fault('silent') or a power cycle."""
        if stage == "rx" and ctx["byte"] == _CR:
            self._hit(ctx["fault"])
            if params.get("times") is not None:
                self._spend(ctx["fault"], params)
        return True

    def _arm_hang(self, name, params):
        if params.get("now"):
            params["_on"] = True
            self._hit(name)
            self._log("hung (silent until a power cycle)")

    def _fault_hang(self, stage, ctx, params):
        if stage == "cmgs_cmd" and not params.get("_on"):
            if params["skip"] > 0:
                params["skip"] -= 1
                return False
            params["_on"] = True
            self._hit(ctx["fault"])
            self._log("hung on AT+CMGS (silent until a power cycle)")
        return bool(params.get("_on"))

    def _arm_no_sim(self, name, params):
        if self.booted and self.sim_state != "absent":
            self._hit(name)
            self.sim_state = "absent"
            self.sms_ready = False
            self._emit_urc(self.no_sim_banner)
            self._emit_reg_urcs()

    def _fault_no_gnss(self, stage, ctx, params):
        if ctx["cmd"] not in _GNSS_CMDS:
            return False
        self._hit(ctx["fault"])
        self.gnss_on_at = None  # the handler may have switched it on: nothing runs, no READY! URC
        ctx["lines"] = []
        ctx["final"] = "ERROR"
        return True

    def _arm_unregistered(self, name, params):
        self._hit(name)
        self._unreg_until = self.clock() + float(params["duration_s"])
        self._log("network lost for %.1f s" % float(params["duration_s"]))
        if self.booted:
            self._emit_reg_urcs()
        self._schedule(self._unreg_until, self._emit_reg_urcs, net=True)

    def _fault_no_prompt(self, stage, ctx, params):
        if not self._take(ctx["fault"], params):
            return False
        ctx["mode"] = params["mode"]
        return True

    def _fault_no_cmgs(self, stage, ctx, params):
        if not self._take(ctx["fault"], params, ctx.get("to")):
            return False
        ctx["swallow"] = True
        ctx["sent"] = bool(params["sent"])
        return True

    def _arm_noise(self, name, params):
        hz = float(params.get("idle_hz", 0))
        if hz > 0:
            self._schedule(self.clock() + self._frand(name).expovariate(hz), lambda: self._noise_tick(name),
                           net=True)

    _arm_garbage = _arm_noise

    _arm_baud_noise = _arm_noise

    def _noise_tick(self, name):
        params = self.faults.get(name)
        if params is None:
            return
        r = self._frand(name)
        if self.booted:
            self._hit(name)
            self._write(self._junk(r, high=name == "baud_noise"), noise=True)
        self._schedule(self.clock() + r.expovariate(float(params["idle_hz"])), lambda: self._noise_tick(name),
                       net=True)

    @staticmethod
    def _junk(r, high=False):
        n = r.randint(1, 12)
        if high:  # wrong-baud or line noise: high-bit bytes, never a line end
            return bytes(r.randrange(0x80, 0x100) for _ in range(n))
        body = bytes(r.choice(_JUNK) for _ in range(n))
        kind = r.random()
        if kind < 0.4:
            return b"\r\n" + body + b"\r\n"         # a whole junk line
        if kind < 0.8:
            return body                              # a partial line, ended by the next frame's CRLF
        return r.choice((b"\r", b"\n", b"\r\r\n", b"\n\n"))  # stray line ends

    def _fault_garbage(self, stage, ctx, params):
        """Junk before frames (whole lines, partial lines, stray CR/LF) and whole junk lines between
        the lines of a multi-line response; never inside a line, never inside a +CDS."""
        data = ctx["data"]
        if ctx.get("noise") or not data.startswith(b"\r\n"):
            return False
        r = self._frand(ctx["fault"])
        rate = float(params["rate"])
        if r.random() < rate / 2 and b"+CDS:" not in data:
            starts = [i + 2 for i in range(2, len(data) - 2) if data[i:i + 2] == b"\r\n"
                      and data[i + 2:i + 4] != b"\r\n"]
            if starts:
                k = r.choice(starts)
                junk = bytes(r.choice(_JUNK) for _ in range(r.randint(1, 8)))
                data = data[:k] + junk + b"\r\n" + data[k:]
        if r.random() < rate:
            data = self._junk(r) + data
        if data is not ctx["data"]:
            self._hit(ctx["fault"])
        ctx["data"] = data
        return False

    def _fault_baud_noise(self, stage, ctx, params):
        data = ctx["data"]
        if ctx.get("noise") or not data.startswith(b"\r\n"):
            return False
        r = self._frand(ctx["fault"])
        if r.random() < float(params["rate"]):
            self._hit(ctx["fault"])
            ctx["data"] = self._junk(r, high=True) + data
        return False

    def _drip_gap(self):
        p = self.faults.get("partial_lines")
        if p is None:
            return None
        return self._frand("partial_lines").uniform(float(p["min_gap_ms"]), float(p["max_gap_ms"])) / 1000.0

    def _fault_urc_storm(self, stage, ctx, params):
        if self._take(ctx["fault"], params):
            self._storm_rate = float(params["rate_hz"])
            pool = self._urc_pool()
            r = self._frand(ctx["fault"])
            self._inject_at["after_prompt"].append(r.choice(pool))
            self._inject_at["before_final"].append(r.choice(pool))
            self._later(0, lambda: self._storm_tick(ctx["fault"]))
        return False

    def _storm_tick(self, name):
        if not self._cmgs_active or self._storm_rate <= 0:
            return
        self._random_urc(self._frand(name))
        self._later(self._frand(name).expovariate(self._storm_rate), lambda: self._storm_tick(name))

    def _fault_reboot_mid_sms(self, stage, ctx, params):
        if not self._take(ctx["fault"], params):
            return False
        rec, half = ctx["rec"], ctx["latency"] / 2

        def crash():
            if params["sent"]:
                self._accept(rec)  # the SC got it just before the module died
            self._reboot("crash with an SMS in flight")
        self._later(half, crash)
        return True

    def _arm_spontaneous_reboot(self, name, params):
        with self._lock:
            self.faults.pop(name, None)
        if self._power == "on":
            self._hit(name)
            self._reboot("spontaneous reset")

    def _fault_echo_reenabled(self, stage, ctx, params):
        if self._take(ctx["fault"], params):
            self.echo = True
            self._log("echo re-enabled by the module")
        return False

    def _fault_slow_cmgs(self, stage, ctx, params):
        if self._take(ctx["fault"], params, ctx["rec"]["to"]):
            ctx["latency"] = float(params["latency_s"])
        return False

    def _fault_cds(self, stage, ctx, params):
        name = ctx["fault"]
        if not self._take(name, params, ctx["to"]):
            return False
        delay = ctx["reports"][0][0]
        if params["status"] is None:
            ctx["reports"] = []
        elif "then_s" in params:
            ctx["reports"] = [(delay, int(params["status"])),
                              (delay + float(params["then_s"]), int(params["final"]))]
        else:
            ctx["reports"] = [(delay, int(params["status"]))]
        return True

    def _fault_ring(self, stage, ctx, params):
        if self._take(ctx["fault"], params):
            for k in range(int(params["count"])):
                self._later(k * float(params["gap_s"]), lambda: (self._emit_urc("RING"),
                                                                 self._emit_urc('+CLIP: "+33144556677",145,,,,0')))
        return False

    def _fault_cmti_flood(self, stage, ctx, params):
        if self._take(ctx["fault"], params):
            gap = 1.0 / float(params["rate_hz"])
            for k in range(int(params["count"])):
                self._schedule(self.clock() + k * gap,
                               lambda k=k: self._incoming("+33700000%03d" % k, "Message %d" % (k + 1)), net=True)
        return False

    def _fault_ignore_escape(self, stage, ctx, params):
        return self._take("ignore_escape", params)

    def _fault_dial_refused(self, stage, ctx, params):
        return self._take("dial_refused", params)

    def _fault_data_drop(self, stage, ctx, params):
        if self._take("data_drop", params):
            ctx["drop_s"] = float(params["after_s"])
        return False
