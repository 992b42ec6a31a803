"""The AT command line of the simulated modem (ITU-T V.250, 3GPP TS 27.007): the line discipline
(echo until ATE0, backspace, over-long lines dropped), a command line split into name, form and
parameters, the handler it goes to (x_<NAME> for AT+NAME, b_<LETTER> for basic commands), the final
result codes (+CME ERROR by AT+CMEE, +CMS ERROR) and the basic commands E, I, Z, &F, &W.

Handlers raise CmdError for an error result, or return _ASYNC when they schedule their own final
result. The mixin's state (echo, cmee, the command line being typed) lives on the ModemSim (a76xx.py).
"""

_CTRL_Z = 0x1A
_ESC = 0x1B
_CR = 0x0D
_LF = 0x0A
_BS = 0x08
_MAX_LINE = 556  # longer command lines are dropped, as the module's line buffer would


# 3GPP TS 27.007 section 9.2 verbose texts (AT+CMEE=2) for the codes this sim produces.
CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    16: "incorrect password",
    30: "no network service",
    50: "Incorrect parameters",
    100: "unknown",
}


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


class AtCommandLine:
    """Command lines in, result codes out (a ModemSim mixin)."""

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

    def _final_text(self, final):
        if final in ("OK", "ERROR", "NO CARRIER"):
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
        if self._cmgs_active:
            self._cmgs_active = False
            self._storm_rate = 0.0
        self._process_rx()

    def _respond(self, lines, final, delay=None):
        """Info lines after half the latency, the final result code after all of it (URCs fit between)."""
        delay = self.cmd_latency_s if delay is None else delay
        if lines:
            self._later(delay / 2, lambda: [self._emit_line(x) for x in lines])
        self._later(delay, lambda: self._emit_final(final))

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

    def x_CMEE(self, form, args):
        if form == "read":
            return ["+CMEE: %d" % self.cmee]
        if form == "test":
            return ["+CMEE: (0-2)"]
        self.cmee = _int_arg(args, 0, 0, 2, default=0)
        return []
