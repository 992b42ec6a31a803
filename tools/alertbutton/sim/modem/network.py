"""The simulated modem's SIM and network side: SIM state and PIN (AT+CPIN), identities (IMEI, IMSI),
signal, functionality, registration (+CREG/+CGREG/+CEREG, read and URCs), operator, serving cell,
network time (AT+CCLK), battery voltage, and the settings a driver only reads back.

A ModemSim mixin: its state (sim_state, cfun, the *_n URC settings, registration times) lives on the
ModemSim (a76xx.py), which also decides when the module is registered (registered()).
"""
import datetime

from alertbutton.sim.modem.at import CmdError, _int_arg


class NetworkCommands:
    """SIM, registration and network commands (a ModemSim mixin)."""

    def _emit_reg_urcs(self):
        """+CREG/+CGREG/+CEREG URCs with the current state, for those the TE enabled; on registering
        to a network that sends its time (NITZ), the +CTZV time-zone report when AT+CTZR=1."""
        if self.booted and self.cfun == 1:
            for name, n in (("CREG", self.creg_n), ("CGREG", self.cgreg_n), ("CEREG", self.cereg_n)):
                if n:
                    self._emit_urc(self._reg_urc(name, n))
            if self.nitz and self.ctzr and self.registered():
                self._emit_urc("+CTZV: %+03d,0" % self._tzq)

    _on_registered = _emit_reg_urcs

    def _reg_stat(self):
        if self.registered():
            return 1
        return 2 if self.sim_state == "ready" else 0  # searching; not searching without a usable SIM

    def _reg_tail(self):
        """Location fields for n=2 (TAC, cell id, AcT 7 = E-UTRAN); absent while not registered."""
        return ',"1A2B","01A2B3C4",7' if self.registered() else ""

    def _reg_urc(self, name, n):
        return "+%s: %d%s" % (name, self._reg_stat(), self._reg_tail() if n >= 2 else "")

    # ---------------------------------------------------------------- SIM and network commands
    def x_CPIN(self, form, args):
        st = self.sim_state
        if form == "test":
            return []
        if st == "absent":
            raise CmdError(("cme", 10))
        if form == "read":
            return ["+CPIN: " + {"ready": "READY", "pin": "SIM PIN", "puk": "SIM PUK"}[st]]
        if st == "ready":
            raise CmdError(("cme", 3))  # no PIN to enter on this SIM
        if st == "puk":
            raise CmdError(("cme", 12))
        p = self.faults.get("sim_pin") or {}
        if args and args[0] == str(p.get("pin", "")):
            self.sim_state = "ready"
            self._reg_at = self.clock() + self.reregister_s
            self._schedule(self._reg_at, self._emit_reg_urcs)
            for i, banner in enumerate(self.boot_banners[1:]):  # after the OK
                self._later(self.cmd_latency_s + (i + 1) * self.banner_gap_s, lambda b=banner: self._banner(b))
            return []
        self._pin_tries -= 1
        if self._pin_tries <= 0:
            self.sim_state = "puk"
        raise CmdError(("cme", 16))

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
        if self.sim_state != "ready":
            raise CmdError(("cme", {"absent": 10, "pin": 11, "puk": 12}[self.sim_state]))
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
            if self.nitz and self.ctzu and self.registered():
                local = self._utc_now() + datetime.timedelta(minutes=15 * self._tzq)
                return ['+CCLK: "%s%+03d"' % (local.strftime("%y/%m/%d,%H:%M:%S"), self._tzq)]
            # never synced (no NITZ, or AT+CTZU=0): the module's RTC counts from 1970 like a real A7670
            t = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(self.now()))
            return ['+CCLK: "%s+00"' % t.strftime("%y/%m/%d,%H:%M:%S")]
        if form == "test":
            return []
        return []  # setting the clock is accepted and ignored

    def x_CBC(self, form, args):
        if form == "test":
            return []
        return ["+CBC: %.3fV" % self.vbat_v]

    def _switch(self, name, form, args):
        """A 0/1 setting read back as "+NAME: <n>" (test form: "+NAME: (0-1)")."""
        attr = name.lower()
        if form == "read":
            return ["+%s: %d" % (name, getattr(self, attr))]
        if form == "test":
            return ["+%s: (0-1)" % name]
        setattr(self, attr, _int_arg(args, 0, 0, 1))
        return []

    def x_CTZU(self, form, args):
        """AT+CTZU=<0|1>: the RTC takes the network's time (NITZ) or not (A76XX AT manual V1.09)."""
        return self._switch("CTZU", form, args)

    def x_CTZR(self, form, args):
        """AT+CTZR=<0|1>: a +CTZV URC for each time-zone report from the network, or none."""
        return self._switch("CTZR", form, args)

    def x_CSCLK(self, form, args):
        return [] if form != "read" else ["+CSCLK: 0"]
