# Modem power policies (issue 8). Currents from the A7670 hardware design manual V1.06 (Table 40),
# via /work/shared/hardware/currents.md:
#  "ready": registered all the time; between uses the UART sleeps (AT+CSCLK=1 then DTR high: 2 mA at
#           DRX 0.32 s instead of 23 mA idle). DTR low wakes it; the first SMS goes out in seconds.
#  "off":   powered off with the power key between alerts (<= 20 uA). An alert boots it first: the
#           first SMS waits Ton(uart) 11.1 s + network registration (time not found) + the send.
#  "on":    registered and awake all the time (the behaviour before issue 8).
# PSM and eDRX (3GPP 27.007 +CPSMS / +CEDRXS) are requested when configured. The network decides and
# the modem may refuse: the answers are logged, and the accounting shows "psm" only after the network
# granted an active time (+CEREG with n=4) and that time ran out.
#
# ModemPolicy is pure (time injected, no I/O) and keeps the accounting's modem state; ModemPower
# drives the real modem (DTR pin, power key, AT commands) from it.
import asyncio
from time import ticks_add, ticks_diff, ticks_ms

from firmware.core.errors import AtError, AtTimeout
from firmware.core.uptime import STALE_MS, fresh

ON = "on"
READY = "ready"
POSITION_IDLE_CHECK_S = 900  # check_s's default with sms_position_idle: answered within 15 min
OFF = "off"
MODES = (ON, READY, OFF)

DEFAULTS = {
    "modem_mode": READY,
    "idle_to_sleep_s": 5,  # awake this long after the last use before DTR goes high again
    "off_after_s": 60,  # "off" mode: powered this long after the alert ended (delivery reports)
    "wake_ms": 100,  # DTR low -> first AT command (the HD gives no figure we could source)
    "psm": None,  # {"tau_s": requested T3412, "active_s": requested T3324} or None
    "edrx_s": None,  # requested E-UTRAN eDRX cycle in s (rounded up to the 24.008 table) or None
    # "ready": wake the sleeping modem this often for AT+CEREG? and a look at its SMS store (0: never).
    # RI cannot wake the MCU from deep sleep on the reference board (docs/power.md): an SMS that came
    # during one waits for the next check. Between alerts only a POSITION request with
    # sms_position_idle set needs an answer: the power task then checks every POSITION_IDLE_CHECK_S
    "check_s": 14400,
}

# ---- 3GPP TS 24.008 timer encodings (the strings +CPSMS and +CEDRXS take) ----------------------------
# GPRS Timer 3 (T3412 extended), bits 8..6 -> unit in s, bits 5..1 the value (0..31)
_T3_UNITS = ((0b011, 2), (0b100, 30), (0b101, 60), (0b000, 600), (0b001, 3600), (0b010, 36000),
             (0b110, 1152000))
# GPRS Timer 2 (T3324 active time)
_T2_UNITS = ((0b000, 2), (0b001, 60), (0b010, 360))
# Extended DRX parameters, E-UTRAN (WB-S1): 4-bit value -> cycle in ms
_EDRX_MS = (5120, 10240, 20480, 40960, 61440, 81920, 102400, 122880, 143360, 163840, 327680, 655360,
            1310720, 2621440)


def _bits(n, width):
    s = ""
    for i in range(width - 1, -1, -1):
        s += "1" if n >> i & 1 else "0"
    return s


def _timer(seconds, units):
    if not isinstance(seconds, int) or seconds < 0:
        raise ValueError("timer must be a whole number of seconds >= 0")
    for code, unit in units:  # finest unit first: the closest value not below the request
        v = (seconds + unit - 1) // unit
        if v <= 31:
            return _bits(code << 5 | v, 8), v * unit
    raise ValueError("timer %d s is out of range" % seconds)


def gprs_timer3(seconds):
    """(8-bit string, actual seconds) for a requested periodic TAU (T3412 extended)."""
    return _timer(seconds, _T3_UNITS)


def gprs_timer2(seconds):
    """(8-bit string, actual seconds) for a requested active time (T3324)."""
    return _timer(seconds, _T2_UNITS)


def decode_timer(bits, timer3=True):
    """Seconds from an 8-bit GPRS Timer 3 (or Timer 2) string; None if deactivated or unknown."""
    if len(bits) != 8:
        return None
    try:
        n = int(bits, 2)
    except ValueError:
        return None
    code, v = n >> 5, n & 31
    for c, unit in (_T3_UNITS if timer3 else _T2_UNITS):
        if c == code:
            return v * unit
    return None


def edrx_value(seconds):
    """(4-bit string, actual ms) of the shortest E-UTRAN eDRX cycle not below `seconds`."""
    ms = int(seconds * 1000)
    for i, c in enumerate(_EDRX_MS):
        if c >= ms:
            return _bits(i, 4), c
    raise ValueError("eDRX cycle above %d s" % (_EDRX_MS[-1] // 1000))


def parse_cereg_psm(payload):
    """(active_s, tau_s) the network granted, from a +CEREG read answer with n=4:
    <n>,<stat>[,[<tac>],[<ci>],[<AcT>][,[<cause_type>],[<reject_cause>][,[<Active-Time>],[<Periodic-TAU>]]]]
    (27.007 10.1.22). None if absent (no PSM granted, or another n)."""
    f = payload.split(b",")
    if len(f) < 9:
        return None
    a = f[7].strip().strip(b'"').decode()
    t = f[8].strip().strip(b'"').decode()
    if not a:
        return None
    active = decode_timer(a, False)
    if active is None:
        return None
    return active, decode_timer(t, True) if t else None


def config(cfg=None):
    c = dict(DEFAULTS)
    if cfg:
        for k in DEFAULTS:
            if k in cfg and cfg[k] is not None:
                c[k] = cfg[k]
    if c["modem_mode"] not in MODES:
        raise ValueError("modem_mode must be one of %s" % ", ".join(MODES))
    for k in ("idle_to_sleep_s", "off_after_s", "check_s"):
        if not isinstance(c[k], int) or not 0 <= c[k] <= 86400:
            raise ValueError("%s must be within 0..86400 s" % k)
    if not isinstance(c["wake_ms"], int) or not 0 <= c["wake_ms"] <= 5000:
        raise ValueError("wake_ms must be within 0..5000")
    p = c["psm"]
    if p is not None:
        if not isinstance(p, dict):
            raise ValueError("psm: {tau_s, active_s} or null")
        gprs_timer3(p.get("tau_s"))
        gprs_timer2(p.get("active_s"))
    if c["edrx_s"] is not None:
        edrx_value(c["edrx_s"])
    return c


class ModemPolicy:
    """When the modem should be awake, asleep (UART sleep) or off, and the accounting's modem state.

    acc: a firmware.power.Accounting (or None). Transitions are reported by the driver (or by the
    energy simulation): booting(), registered(), slept(), woke(), powered_off(), used()."""

    def __init__(self, cfg=None, acc=None, now=0, state="off"):
        self.cfg = config(cfg)
        self.mode = self.cfg["modem_mode"]
        self.acc = acc
        self.state = state
        self.since = now
        # a modem found asleep or off (after a deep-sleep wake) was last used long enough ago: the
        # MCU's wake alone must not wake it
        self.last_use = now if state in ("idle", "booting", "sending") else \
            ticks_add(now, -(self.cfg["idle_to_sleep_s"] * 1000 + 1))
        self._alert_end = None  # ticks the last alert ended ("off" mode keeps the modem on a while)
        self._alerting = False
        self.psm_active_ms = None  # granted T3324 in ms, once the network answered
        self._check_t = now  # ticks of the last registration check (or of the boot: it registered)
        self.reg_lost = 0  # checks in a row that found the modem not registered
        if acc is not None:
            acc.set("modem", state, now)

    def _to(self, state, now):
        self.state = state
        self.since = now
        if self.acc is not None:
            self.acc.set("modem", state, now)

    # ---- what the driver reports --------------------------------------------------------------------
    def booting(self, now):
        self._to("booting", now)
        if self.acc is not None:
            self.acc.count("modem_boots")

    def registered(self, now):
        self.last_use = now
        self._to("idle", now)

    def used(self, now):
        """An AT exchange (or an SMS) just happened: the idle timer restarts."""
        self.last_use = now

    def sending(self, now, on):
        """An alert is dispatching (on) or finished (off): "sending" while the modem is awake."""
        if on and self.state == "idle":
            self._to("sending", now)
        elif not on and self.state == "sending":
            self.last_use = now
            self._to("idle", now)

    def slept(self, now):
        self._to("sleep", now)

    def woke(self, now):
        self.last_use = now
        self._to("idle", now)

    def powered_off(self, now):
        self._to("off", now)

    def checked(self, now, registered):
        """The registration check ran (AT+CEREG? answered): the next one is check_s later."""
        self._check_t = now
        self.reg_lost = 0 if registered else self.reg_lost + 1

    def _forget_stale(self, now):
        # stamps days old are "long ago" (None) before ticks_diff could read them as recent: an
        # alert that ended a week ago must not keep an "off"-mode modem powered (firmware.core.uptime)
        self.last_use = fresh(now, self.last_use)
        self._alert_end = fresh(now, self._alert_end)
        self._check_t = fresh(now, self._check_t)

    def check_due(self, now):
        c = self.cfg["check_s"]
        self._forget_stale(now)
        return self.mode == READY and c > 0 and (self._check_t is None or ticks_diff(now, self._check_t) >= c * 1000)

    def carry(self, now):
        """The check's time stamp as an age, across a deep sleep (ticks restart)."""
        self._forget_stale(now)
        return {} if self._check_t is None else {"c": ticks_diff(now, self._check_t)}

    def resume(self, d, now, gap_ms):
        if d and "c" in d:
            age = int(d["c"]) + gap_ms  # asleep for days: a check is due
            self._check_t = ticks_add(now, -age) if 0 <= age < STALE_MS else None

    def psm_granted(self, active_s):
        self.psm_active_ms = None if active_s is None else active_s * 1000

    def alert(self, now, active):
        """Whether an alert is running; called at every power-task step: only the end of an alert
        (running -> not running) starts the "off"-mode grace time (a stamp renewed at every idle
        step would keep an "off" modem powered for ever)."""
        if active:
            self._alerting = True
        elif self._alerting:
            self._alerting = False
            self._alert_end = now

    # ---- decision -----------------------------------------------------------------------------------
    def tick(self, now):
        """Time-driven state changes: UART sleep turns into PSM once the granted active time ran out
        (dated exactly, whenever this is called)."""
        if self.state == "sleep" and self.psm_active_ms is not None:
            at = ticks_add(self.since, self.psm_active_ms)
            if ticks_diff(now, at) >= 0:
                self._to("psm", at)

    def want(self, now, alert=False, gnss=False, busy=False):
        """"awake", "sleep" or "off". alert: an alert is not idle; gnss: the receiver (inside the
        modem) is on; busy: anything else needs the AT channel now."""
        if self.mode == ON or alert or gnss or busy:
            return "awake"
        self._forget_stale(now)
        if self.mode == READY:
            if self._recently_used(now) or self.check_due(now):
                return "awake"
            return "sleep"
        if self._alert_end is not None and ticks_diff(now, self._alert_end) < self.cfg["off_after_s"] * 1000:
            return "awake"
        return "off"

    def _recently_used(self, now):
        return self.last_use is not None and ticks_diff(now, self.last_use) < self.cfg["idle_to_sleep_s"] * 1000

    def next_ms(self, now):
        """ms until want() or tick() may change by themselves (inputs aside), or None."""
        if self.mode == ON:
            return None
        self._forget_stale(now)
        waits = []
        if self.state in ("idle", "sending"):
            # a timer already run out is no timer: something else keeps the modem awake (GNSS, an
            # alert), and the MCU must not spin on it
            left = None
            if self.mode == READY:
                if self.last_use is not None:
                    left = self.cfg["idle_to_sleep_s"] * 1000 - ticks_diff(now, self.last_use)
            elif self._alert_end is not None:
                left = self.cfg["off_after_s"] * 1000 - ticks_diff(now, self._alert_end)
            if left is not None and left > 0:
                waits.append(left)
        if self.state == "sleep" and self.psm_active_ms is not None:
            waits.append(self.psm_active_ms - ticks_diff(now, self.since))
        if self.state in ("sleep", "psm") and self.mode == READY and self.cfg["check_s"]:
            waits.append(0 if self._check_t is None else self.cfg["check_s"] * 1000 - ticks_diff(now, self._check_t))
        if not waits:
            return None
        return max(0, min(waits))

    def gnss_standby_allowed(self):
        """Standby GNSS refreshes: not in "off" mode, where each one would boot the modem (the
        receiver is inside it) for Ton 11.1 s plus the fix; the alert still turns GNSS on."""
        return self.mode != OFF

    def settled(self):
        """True when the modem is in a state the MCU may sleep through (not booting, not sending,
        not awake waiting for its idle timer)."""
        if self.mode == ON:
            return self.state in ("idle", "off")
        return self.state in ("sleep", "psm", "off")


class ModemPower:
    """Drives the modem through a ModemPolicy. dtr: the DTR output pin (low = awake) or None;
    the power key comes with the modem driver (modem.power_key, GPIO high = key pressed)."""

    # A7670 HD V1.06 power key timing: >= 50 ms low turns it on (p.30), >= 2.5 s low turns it off and
    # it wants >= 2 s off before the next power-on (p.31)
    OFF_HOLD_MS = 2600
    ON_PULSE_MS = 100
    OFF_GAP_MS = 2000
    REGISTER_WAIT_MS = 60000  # after a power-on: the alert sends anyway past this (it waits 60 s too)

    def __init__(self, modem, policy, dtr=None, log=None, clock=ticks_ms):
        self.modem = modem
        self.policy = policy
        self.dtr = dtr
        self.log = log or (lambda *a, **k: None)
        self.clock = clock
        self.kick = asyncio.Event()  # set by the alert listener: act now
        self._csclk = False  # AT+CSCLK=1 sent since the modem booted
        self._off_at = None  # ticks of the last power-off (the A7670 wants 2 s before a power-on)
        self.on_check = None  # fn(): called after each registration check (the SMS store's sweep)

    def on_alert(self, event, mgr):
        """Alert listener: on a trigger, DTR goes low at once (the wake overlaps composing the SMS)."""
        if event == "triggered":
            if self.dtr is not None:
                self.dtr.value(0)
            self.kick.set()

    async def apply(self, alert=False, gnss=False, busy=False):
        """One step: bring the modem to what the policy wants. Returns the action taken or None."""
        p = self.policy
        now = self.clock()
        p.tick(now)
        w = p.want(now, alert, gnss, busy)
        st = p.state
        if w == "awake":
            if st == "off":
                return "on" if await self.power_on() else "on_failed"
            woke = st in ("sleep", "psm")
            if woke and not await self.wake():
                return "wake_failed"
            if p.state == "idle" and p.check_due(self.clock()):
                await self.check()  # due while asleep (the wake's reason) or while awake for another
                return "check"
            return "wake" if woke else None
        elif w == "sleep" and st == "idle":
            await self.sleep()
            return "sleep"
        elif w == "off" and st in ("idle", "sleep", "psm"):
            await self.power_off()
            return "off"
        return None

    async def check(self):
        """Registration check while the modem is awake ("ready" mode, every check_s): AT+CEREG?
        (the driver's status poll). Not registered is logged and counted; the modem keeps trying
        by itself, and an alert still goes through the outbox's retries."""
        m = self.modem
        try:
            await m.poll_status()
        except (AtError, AtTimeout) as e:
            self.log("modem_check_failed", err=repr(e))
        reg = bool(getattr(m, "registered", False))
        self.policy.checked(self.clock(), reg)
        self.policy.used(self.clock())
        self.log("modem_check", registered=reg, lost=self.policy.reg_lost)
        if self.on_check is not None:
            self.on_check()  # SMS that came while the MCU deep-slept (RI could not wake it)
        return reg

    async def sleep(self):
        at = self.modem.at
        if not self._csclk:
            try:
                await at.command("AT+CSCLK=1")  # sleep allowed while DTR is high (A76xx AT manual)
                self._csclk = True
            except (AtError, AtTimeout) as e:  # stay awake: it only costs power
                self.log("modem_sleep_refused", err=repr(e))
                self.policy.used(self.clock())
                return False
        if self.dtr is not None:
            self.dtr.value(1)
        self.modem.ready.clear()  # the alert path waits for wake() instead of writing into a sleeping UART
        self.policy.slept(self.clock())
        self.log("modem_sleep")
        return True

    async def wake(self):
        if self.dtr is not None:
            self.dtr.value(0)
        await asyncio.sleep_ms(self.policy.cfg["wake_ms"])
        if not await self.modem.sync(timeout_ms=3000):
            self.log("modem_wake_failed")
            return False
        self.modem.ready.set()
        self.policy.woke(self.clock())
        self.log("modem_wake")
        return True

    async def power_off(self):
        pk = self.modem.power_key
        if pk is None:
            self.log("modem_off_unavailable")
            self.policy.used(self.clock())
            return False
        self.modem.ready.clear()
        pk.value(1)
        await asyncio.sleep_ms(self.OFF_HOLD_MS)
        pk.value(0)
        self._csclk = False
        self._off_at = self.clock()
        self.policy.powered_off(self._off_at)
        self.log("modem_off")
        return True

    async def power_on(self):
        pk = self.modem.power_key
        if pk is None:
            return False
        if self._off_at is not None:
            left = self.OFF_GAP_MS - ticks_diff(self.clock(), self._off_at)
            if left > 0:
                await asyncio.sleep_ms(left)
        if self.dtr is not None:
            self.dtr.value(0)
        pk.value(1)
        await asyncio.sleep_ms(self.ON_PULSE_MS)
        pk.value(0)
        self.policy.booting(self.clock())
        self.log("modem_on")
        # not modem.bring_up(): it sets `ready` once the AT side is configured, and an SMS before
        # registration fails (+CMS ERROR 331, no network service) and waits for a retry
        m = self.modem
        for i in range(3):
            try:
                if await m.sync():
                    await m.configure()
                    break
            except (AtError, AtTimeout) as e:
                self.log("modem_config_failed", err=repr(e))
        else:
            self.log("modem_on_failed")
            return False
        t0 = self.clock()
        while not m.registered and ticks_diff(self.clock(), t0) < self.REGISTER_WAIT_MS:
            await asyncio.sleep_ms(500)
            await m.poll_status()
        await self.configure_low_power()
        m.ready.set()
        self.log("modem_registered", registered=m.registered, ms=ticks_diff(self.clock(), t0))
        self.policy.registered(self.clock())
        return True

    async def configure_low_power(self):
        """Request PSM / eDRX as configured (after every boot: the requests may not survive one).
        Returns {"psm": granted active s | None | "refused", "edrx": "ok" | "refused" | None}."""
        c = self.policy.cfg
        at = self.modem.at
        out = {"psm": None, "edrx": None}
        if c["psm"]:
            tau, _ = gprs_timer3(c["psm"]["tau_s"])
            act, _ = gprs_timer2(c["psm"]["active_s"])
            try:
                await at.command('AT+CPSMS=1,,,"%s","%s"' % (tau, act))
                await at.command("AT+CEREG=4")
                r = await at.command("AT+CEREG?", expect="+CEREG:")
                g = parse_cereg_psm(r.line(b"+CEREG:") or b"")
                self.policy.psm_granted(g[0] if g else None)
                out["psm"] = g[0] if g else None
            except (AtError, AtTimeout) as e:
                out["psm"] = "refused"
                self.log("modem_psm_refused", err=repr(e))
        if c["edrx_s"]:
            v, _ = edrx_value(c["edrx_s"])
            try:
                await at.command('AT+CEDRXS=1,4,"%s"' % v)
                out["edrx"] = "ok"
            except (AtError, AtTimeout) as e:
                out["edrx"] = "refused"
                self.log("modem_edrx_refused", err=repr(e))
        if c["psm"] or c["edrx_s"]:
            self.log("modem_low_power", psm=out["psm"], edrx=out["edrx"])
        return out
