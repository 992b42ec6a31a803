"""SMS on the simulated modem (3GPP TS 27.005): message format and indications (CMGF, CSCS, CNMI,
CSMP, CSMS, CNMA, CSCA, CPMS), sending (AT+CMGS, the "> " prompt, PDU or text body, the message
reference, the network's latency), delivery reports (+CDS, PDU or text mode), and the SIM message
store (+CMTI, AT+CMGR, AT+CMGL, AT+CMGD) that received SMS land in.

A ModemSim mixin: its state (store, mr, cnmi, the SMS accepted) lives on the ModemSim (a76xx.py).
The PDUs themselves are pdu.py's; the independent multi-part SMS-DELIVER side is inbound.py.
"""
from alertbutton.sim.modem.at import _ASYNC, _CR, _CTRL_Z, _ESC, _LF, CmdError, _int_arg
from alertbutton.sim.modem.pdu import (CMS_INVALID_PDU, CMS_INVALID_TEXT, CMS_NO_CNMA, CMS_NO_SERVICE, ST_DELIVERED,
                                       check_submit_pdu, deliver_pdu, status_report_pdu, text_timestamp)


class SmsCommands:
    """SMS commands, sending, delivery reports and the SIM store (a ModemSim mixin)."""

    def _incoming(self, sender, text):
        """Store a received SMS at the lowest free index and announce it; while the module is off or
        the SIM store is full the network keeps it and tries again (every second)."""
        free = [i for i in range(1, self.store_size + 1) if i not in self.store]
        if not self.booted or not self.registered() or not free:
            self._schedule(self.clock() + 1.0, lambda: self._incoming(sender, text), net=True)
            return
        pdu, n = deliver_pdu(sender, text, self._utc_now(), self._tzq, self.smsc)
        self.store[free[0]] = [0, pdu, n]  # 0 = REC UNREAD
        self.cmti_index = free[0]
        if self.cnmi[1] in (1, 3):
            self._emit_urc('+CMTI: "SM",%d' % free[0])

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
        """New message indications: <mode>,<mt>,<bm>,<ds>,<bfr>. ds=1 routes status reports to the TE
        as +CDS; ds=0 (power-on default) drops them; ds=2 (+CDSI, stored) is accepted, not simulated."""
        self._sms_check()
        if form == "read":
            return ["+CNMI: %d,%d,%d,%d,%d" % tuple(self.cnmi)]
        if form == "test":
            return ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0-1)"]
        his = (3, 3, 3, 2, 1)
        new = list(self.cnmi)
        for i in range(min(len(args), 5)):
            if args[i] != "":
                new[i] = _int_arg(args, i, 0, his[i])
        if len(args) > 5:
            raise CmdError(("cms", CMS_INVALID_TEXT))
        self.cnmi = new
        return []

    def x_CSMP(self, form, args):
        """Text-mode parameters <fo>,<vp>,<pid>,<dcs>; <fo> bit 5 (0x20) requests a status report."""
        self._sms_check()
        if form == "read":
            return ["+CSMP: %d,%d,%d,%d" % tuple(self.csmp)]
        if form == "test":
            return []
        for i in range(min(len(args), 4)):
            if args[i] != "":
                self.csmp[i] = _int_arg(args, i, 0, 255)
        return []

    def x_CSMS(self, form, args):
        """Message service: 0 (phase 2, no acknowledgement) or 1 (phase 2+, +CDS must be +CNMA'd)."""
        if form == "read":
            return ["+CSMS: %d,1,1,1" % self.csms]
        if form == "test":
            return ["+CSMS: (0,1)"]
        self.csms = _int_arg(args, 0, 0, 1)
        return ["+CSMS: 1,1,1"]

    def x_CNMA(self, form, args):
        """Acknowledge a +CDS/+CMT: only expected with AT+CSMS=1 (27.005 3.4.4), else +CMS ERROR 340.
        A missing acknowledgement is not simulated (the report is not repeated)."""
        if form == "test":
            return []
        if self.csms == 1 and self._cds_ack:
            self._cds_ack = False
            return []
        raise CmdError(("cms", CMS_NO_CNMA))

    def x_CSCA(self, form, args):
        if form == "read":
            return ['+CSCA: "%s",%d' % (self.smsc, 145 if self.smsc.startswith("+") else 129)]
        if form == "test":
            return []
        if not args or not args[0]:
            raise CmdError(("cms", CMS_INVALID_TEXT))
        self.smsc = args[0]
        return []

    def x_CPMS(self, form, args):
        self._sms_check()
        if form == "read":
            return ['+CPMS: "SM",{0},{1},"SM",{0},{1},"SM",{0},{1}'.format(len(self.store), self.store_size)]
        if form == "test":
            return ['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")']
        for a in args:
            if a.upper() not in ("SM", "ME", "MT"):
                raise CmdError(("cms", CMS_INVALID_TEXT))
        return ["+CPMS: {0},{1},{0},{1},{0},{1}".format(len(self.store), self.store_size)]

    def x_CMGR(self, form, args):
        """Read one stored message (PDU mode): '+CMGR: <stat>,,<length>' then the PDU on its own line;
        an empty index is +CMS ERROR 321 (invalid memory index)."""
        self._sms_check()
        if form == "test":
            return []
        i = _int_arg(args, 0, 0, 255)
        if i not in self.store or self.cmgf != 0:
            raise CmdError(("cms", 321 if self.cmgf == 0 else CMS_INVALID_TEXT))
        rec = self.store[i]
        out = ["+CMGR: %d,,%d\r\n%s" % (rec[0], rec[2], rec[1])]
        rec[0] = 1  # REC READ
        return out

    def x_CMGL(self, form, args):
        """List stored messages with <stat> (4 = all) in PDU mode, one header + PDU pair each."""
        self._sms_check()
        if form == "test":
            return ["+CMGL: (0-4)"]
        want = _int_arg(args, 0, 0, 4, default=0)
        out = []
        for i in sorted(self.store):
            rec = self.store[i]
            if want == 4 or rec[0] == want:
                out.append("+CMGL: %d,%d,,%d\r\n%s" % (i, rec[0], rec[2], rec[1]))
                if rec[0] == 0:
                    rec[0] = 1
        return ["\r\n".join(out)] if out else []

    def x_CMGD(self, form, args):
        """Delete <index>; <delflag> 1-4 deletes read / read+sent / read+sent+unsent / all messages."""
        self._sms_check()
        if form == "test":
            return ["+CMGD: (%s),(0-4)" % ",".join(str(i) for i in sorted(self.store))]
        i = _int_arg(args, 0, 0, 255)
        flag = _int_arg(args, 1, 0, 4, default=0)
        if flag == 0:
            self.store.pop(i, None)
        else:
            for k in [k for k, r in self.store.items() if flag == 4 or r[0] == 1]:
                del self.store[k]
        return []

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
        if self._fault("cmgs_cmd", {"cmd": "CMGS"}):
            return _ASYNC  # swallowed: the module hangs
        self._cmgs_active = True
        self._later(self.cmd_latency_s, self._prompt)
        return _ASYNC

    def _prompt(self):
        ctx = {}
        lost = self._fault("prompt", ctx)
        if lost and ctx.get("mode") == "ignored":
            self._log('  ("> " never comes: command dropped)')
            self._done()
            return
        self._mode = "pdu" if self._cmgs_da is None else "text"
        self._body = bytearray()
        if lost:
            self._log('  ("> " lost on the way: waiting for the PDU anyway)')
        else:
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
            raw = bytes.fromhex(body)
            rec = {"to": decoded["number"], "pdu": body.upper(), "text": decoded.get("text", ""),
                   "srr": bool(raw[1 + raw[0]] & 0x20)}  # TP-SRR: status report requested
            concat = [ie for ie in decoded.get("udh", ()) if hasattr(ie, "parts")]
            if concat:
                rec["concat"] = (concat[0].reference, concat[0].parts, concat[0].number)
        else:
            rec = {"to": self._cmgs_da, "pdu": None, "text": body, "srr": bool(self.csmp[0] & 0x20)}
        self.submits.append({"t": round(self.now(), 3), "to": rec["to"]})
        if not self.registered():
            self._later(self.cmd_latency_s, lambda: self._emit_final(("cms", CMS_NO_SERVICE)))
            return
        ctx = {"rec": rec, "latency": self.cmgs_latency_s}
        if self._fault("cmgs_pdu", ctx):
            return  # the fault owns what happens next
        self._later(ctx["latency"], lambda: self._cmgs_done(rec))

    def _cmgs_done(self, rec):
        ctx = {"cmd": "CMGS", "final": None, "to": rec["to"]}
        if self._fault("cmgs_submit", ctx):
            if ctx.get("swallow"):  # no answer at all; the module is free again
                if ctx.get("sent"):
                    self._accept(rec)
                self._log("  (+CMGS never comes)")
                self._done()
            else:
                self._emit_final(ctx["final"])
            return
        if not self.registered():  # lost the network while sending
            self._emit_final(("cms", CMS_NO_SERVICE))
            return
        rec = self._accept(rec)
        self._fault("cmgs_accepted", {"rec": rec})
        self._emit_line("+CMGS: %d" % rec["mr"])
        self._later(self.cmd_latency_s / 2, lambda: self._emit_final("OK"))

    def _accept(self, rec):
        """The network took the SMS: a message reference, the record, its status report(s)."""
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
        if rec.get("srr"):
            ctx = {"to": rec["to"], "mr": mr, "reports": [(self.delivery_s, ST_DELIVERED)]}
            self._fault("report", ctx)
            scts = self._utc_now()
            for delay, st in ctx["reports"]:
                self._reports_pending += 1
                self._schedule(self.clock() + delay, lambda st=st: self._deliver_report(rec, st, scts), net=True)
        return rec

    def _deliver_report(self, rec, status, scts):
        """The SC's SMS-STATUS-REPORT reaches the module; routed to the TE as +CDS when CNMI ds=1."""
        if not self.booted or not self.registered():
            # the network keeps it and tries again once the module is back
            self._schedule(self.clock() + 1.0, lambda: self._deliver_report(rec, status, scts), net=True)
            return
        self._reports_pending -= 1
        routed = self.cnmi[3] == 1
        self.reports.append({"t": round(self.now(), 3), "to": rec["to"], "mr": rec["mr"], "status": status,
                             "routed": routed})
        if not routed:
            self._log("status report mr=%d st=0x%02X dropped (CNMI ds=%d)" % (rec["mr"], status, self.cnmi[3]))
            return
        dt = self._utc_now()
        if self.cmgf == 0:
            pdu, n = status_report_pdu(rec["mr"], rec["to"], scts, dt, status, self._tzq, self.smsc)
            head = "+CDS: %d" % n
            self._log("< [urc] %s / %s" % (head, pdu))
            self._write(b"\r\n" + head.encode() + b"\r\n" + pdu.encode() + b"\r\n")
        else:
            ra = rec["to"]
            line = '+CDS: 6,%d,"%s",%d,"%s","%s",%d' % (rec["mr"], ra, 145 if ra.startswith("+") else 129,
                                                        text_timestamp(scts, self._tzq),
                                                        text_timestamp(dt, self._tzq), status)
            self._emit_urc(line)
        self._cds_ack = self.csms == 1
