"""Data mode of the simulated modem: AT+CGDCONT, then ATD*99# / ATD*99***<cid># / AT+CGDATA="PPP",<cid>
-> CONNECT and a first PPP frame; the bytes that follow go to a fake PPP peer (swallowed, or echoed
with "data_echo": true) until "+++" framed by guard_s of silence (-> OK, command mode, call held);
ATH ends the call. The network answers a dial after "dial_latency_s"; any character the TE sends
meanwhile (after V.250's 125 ms) aborts it: NO CARRIER, command mode.

A ModemSim mixin: data_rx keeps what the TE sent in data mode, data_log the call's events (both on
the ModemSim, a76xx.py). The data-mode faults (ignore_escape, data_drop, dial_refused) are faults.py's.
"""
from alertbutton.sim.modem.at import _ASYNC, CmdError, _int_arg

# The fake PPP peer's first frame after CONNECT (HDLC flags, an LCP Configure-Request) with a CRLF
# "OK" CRLF inside: an AT reader that kept parsing after CONNECT would take it for a result code.
PPP_FRAME = b"\x7e\xff\x7d\x23\xc0\x21\x7d\x21\x7d\x21\x7d\x20\x7d\x2a\r\nOK\r\n\x7e"


class DataMode:
    """Packet data calls and the PPP byte stream (a ModemSim mixin)."""

    def b_D(self, form, args):
        """ATD*99# / ATD*99***<cid># (27.007 10.2.1.1): packet data on a PDP context. Voice: ERROR."""
        dial = args[0].strip()
        if dial == "*99#":
            cid = 1
        elif dial.startswith("*99***") and dial.endswith("#") and dial[6:-1].isdigit():
            cid = int(dial[6:-1])
        else:
            raise CmdError("ERROR")
        return self._data_call(cid)

    def b_H(self, form, args):
        """ATH: end the data call held after "+++" (V.250: OK with or without a call)."""
        if self._call:
            self._call = False
            self.data_log.append({"t": round(self.now(), 3), "event": "ath"})
        return []

    def x_CGDATA(self, form, args):
        if form == "test":
            return ['+CGDATA: ("PPP")']
        if form != "set" or not args or args[0].upper() != "PPP":
            raise CmdError(("cme", 4))
        return self._data_call(_int_arg(args, 1, 1, 15, default=1))

    def x_CGDCONT(self, form, args):
        if form == "read":
            return ['+CGDCONT: %d,"%s","%s"' % (c, t, a) for c, (t, a) in sorted(self.pdp.items())]
        if form == "test":
            return ['+CGDCONT: (1-15),"IP",,,(0-2),(0-4)']
        cid = _int_arg(args, 0, 1, 15)
        if len(args) == 1:
            self.pdp.pop(cid, None)
            return []
        ptype = args[1].upper()
        if ptype not in ("IP", "IPV6", "IPV4V6"):
            raise CmdError(("cme", 50))
        self.pdp[cid] = (ptype, args[2] if len(args) > 2 else "")
        return []

    def _data_call(self, cid):
        ctx = {"cid": cid}
        if cid not in self.pdp or not self.registered() or self._fault("dial", ctx):
            self.data_log.append({"t": round(self.now(), 3), "event": "refused", "cid": cid})
            self._later(self.cmd_latency_s, lambda: self._emit_final("NO CARRIER"))
            return _ASYNC
        token = object()
        self._dialing = (token, self.clock())
        self._later(self.dial_latency_s, lambda: self._dial_answered(token, cid))
        return _ASYNC

    def _dial_answered(self, token, cid):
        if self._dialing is None or self._dialing[0] is not token:
            return  # aborted by the TE meanwhile
        self._dialing = None
        self._connect(cid)

    # ITU-T V.250 5.6.1 "Aborting commands": any character from the DTE aborts an action command in
    # progress, except during the first 125 ms after the command line's termination character
    # (ignored, so that a DTE may follow CR with LF); for D the DCE then answers NO CARRIER and stays
    # in command mode. SIMCom's ATD entries (SIM900 AT manual V1.07 2.2.6) keep the rule: "can be
    # aborted generally when receiving a character during execution", though not "during some states
    # of connection establishment such as handshaking" (the A76xx manual found says nothing more).
    def _dial_rx(self):
        """A byte from the TE while a dial waits for the network: True when it was consumed."""
        if self.clock() - self._dialing[1] < 0.125:
            self._log("> (ignored: within 125 ms of the dial)")
            return True
        self._dialing = None
        self.data_log.append({"t": round(self.now(), 3), "event": "abort"})
        self._log("> (dial aborted by the TE)")
        self._emit_final("NO CARRIER")
        return True

    def _connect(self, cid):
        self._call = True
        self._mode = "data"
        self._plus = 0
        self._data_rx_t = self.clock()
        self.data_log.append({"t": round(self.now(), 3), "event": "connect", "apn": self.pdp[cid][1]})
        self._log("< CONNECT 115200 (data mode)")
        # the peer's first LCP frame follows CONNECT at once; it carries a CRLF OK CRLF inside, which
        # a TE still parsing lines would take for a result code
        self._write(b"\r\nCONNECT 115200\r\n" + PPP_FRAME)
        ctx = {}
        self._fault("connect", ctx)
        if "drop_s" in ctx:
            self._later(ctx["drop_s"], self._drop_call)
        self._done()

    def _drop_call(self):
        if self._mode == "data":
            self.data_log.append({"t": round(self.now(), 3), "event": "drop"})
            self._call = False
            self._mode = "cmd"
            self._write(b"\r\nNO CARRIER\r\n")

    def _feed_data(self, b):
        """Data mode: bytes go to the fake PPP peer, except a "+++" framed by guard times."""
        now = self.clock()
        quiet = now - self._data_rx_t >= self.guard_s
        self._data_rx_t = now
        self.data_rx.append(b)
        if b == 0x2B and (self._plus > 0 or quiet):
            self._plus += 1
            if self._plus == 3:
                self._plus = 0
                epoch = self._data_rx_t
                self._later(self.guard_s, lambda: self._escape(epoch))
            return
        self._plus = 0
        if self.data_echo:
            self._write(bytes((b,)))

    def _escape(self, last_rx):
        if self._mode != "data" or self._data_rx_t != last_rx:
            return  # not a silence after the "+++": it was data
        if self._fault("escape", {}):
            self._log("  (+++ ignored)")
            return
        self._mode = "cmd"
        self._line = bytearray()
        self.data_log.append({"t": round(self.now(), 3), "event": "escape"})
        self._emit_line("OK")
