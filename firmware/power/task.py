# The power task (issue 8): applies firmware.power.PowerPolicy and the modem policy to the running
# App, keeps the state-time accounting, and puts the MCU to sleep.
#
# start(app) is called by App.run() before the button task drains its first edge:
#  1. a deep-sleep wake by the button: the waking press goes to the gesture recogniser (boot_wake);
#  2. unless the settings turn low power off ("power": {"low_power": false}, without "accounting": true),
#     the task runs: low power is on as shipped (issue 22). Turned off, nothing else happens.
# Never fatal: any failure leaves the device awake, which only costs battery.
import asyncio
from time import ticks_add, ticks_diff, ticks_ms

from firmware.wearer import boot_wake
from firmware.power import policy as power, gate as power_gate
from firmware.system import storage
from firmware.core import clock, uptime
from firmware.core.uptime import fresh
from firmware.alert.manager import DISPATCHING, IDLE
from firmware.location.gnss_power import POLL_MS as _GNSS_POLL_MS
from firmware.location.motion_watch import MotionWatch
from firmware.power.modem import ON, POSITION_IDLE_CHECK_S, ModemPolicy, ModemPower
from firmware.power.policy import ACTIVE, ALERTING, DEEP, LIGHT, W_ACCEL, W_RI, Accounting, PowerPolicy, wake_names

_POLL_MS = 500  # while awake: how often the policy is asked again (an alert trigger asks at once)
_CHECK_POLL_MS = 10  # a fall decision's FIFO read is due: asked again as soon as the monitor made it
_LIGHT_MAX_MS = 20000  # a light sleep ends before the watchdog (30 s) would
_RTC_EVERY_MS = 60000  # accounting to RTC memory while awake (a watchdog reset loses less)
FLASH_PATH = "power.acc"
_FLASH_EVERY_MS = 6 * 3600 * 1000  # flash copy: rarely (it only matters after a power loss)
_GESTURE_MARGIN_MS = 500
_CALLED_OFF_MS = 50  # after a deep sleep called off: a press's burst settles (30 ms), the task hears it
_BOOT_LIMIT_MS = 120000  # a modem that does not answer within this after boot is counted off


def gesture_window_ms(gestures):
    """How long after a press the recogniser may still complete a gesture: the MCU stays awake that
    long (its state would not survive a deep sleep)."""
    w = 0
    for g in gestures:
        span = g.get("within_ms") or g.get("gap_ms", 0) * (g.get("presses", 1) - 1)
        if "taps" in g:  # a hold then taps (the arming gesture): a hold held up to twice as long
            span = 2 * g["hold_ms"] + (g["taps"] + 1) * g["gap_ms"]
        w = max(w, span, g.get("hold_ms", 0))
    return w + _GESTURE_MARGIN_MS


def start(app):
    """Boot-wake handling, then the power task if configured. Returns the PowerTask or None."""
    board = app.board
    if not power_gate.wanted(app.cfg, board):
        return None  # low power off: nothing here runs (App does not even import this module)
    cfg = app.cfg.get("power")
    enabled = power_gate.enabled(app.cfg)
    hw = board.power_hw()
    woke = boot_wake.woke_by_button(hw.reset, hw.wake)
    if woke:
        down, n = boot_wake.feed_wake_press(app.logic, app.edges, hw.t_wake())
        app.log("wake_press", held=down, edges=n, armed_ms=ticks_diff(ticks_ms(), hw.t_wake()))
    if not enabled:
        return None
    pt = PowerTask(app, hw, cfg)
    if woke:
        pt.policy.hold_awake(hw.t_wake(), pt.window_ms, "gesture")
        pt.modem_policy.used(ticks_ms())
    pt.task = asyncio.create_task(pt.run())
    return pt


def _sooner(a, b):
    """The earlier of two timers in ms, either None for none."""
    return b if a is None or (b is not None and b < a) else a


def modem_busy(mp, at_busy, gnss_on):
    """(busy, doze) from the modem's side: an AT exchange or a modem bring-up keeps the MCU awake;
    GNSS polls and the modem's idle timer only keep it out of deep sleep. Shared with the energy
    model (tools/alertbutton/energy/day_vm.py), which has no AT channel of its own."""
    if at_busy:
        return "at_command", None
    if not mp.settled() and not (mp.state == "idle" and mp.mode != ON):
        return "modem_" + mp.state, None
    if gnss_on:
        return None, "gnss"
    if not mp.settled():
        return None, "modem_idle"
    return None, None


class PowerTask:
    def __init__(self, app, hw, cfg):
        self.app = app
        self.hw = hw
        self.log = app.log
        if getattr(app, "fall", None) is None and (cfg or {}).get("fall_detection") is not False:
            # no fall monitor runs (no accelerometer on this board, or it did not answer): there is no
            # detector to keep awake, and a rule for it would keep the MCU from ever sleeping
            cfg = dict(cfg or {})
            cfg["fall_detection"] = False
        self.policy = PowerPolicy(cfg, hw.caps_deep, hw.caps_light)
        self.low_power = self.policy.cfg["low_power"]  # on unless the settings turn it off (issue 22)
        self.window_ms = gesture_window_ms(app.cfg["gestures"])
        now = ticks_ms()
        self._x = {}  # what the last deep sleep kept beside the accounting (RTC memory)
        self._gap = 0  # ms from that dump to now (sleep + boot)
        self.acc, self._flash_at = self._restore(now)
        self._rtc_at = now
        fm = getattr(app, "fall", None)
        gp = getattr(app, "gnss_policy", None)
        chip = getattr(fm, "accel", None)
        self.watch = MotionWatch(chip, app.log) if chip is not None else None  # "she moved" (issue 22)
        self._watch_now = False  # arm the motion watch for the coming sleep
        self.impact = self.policy.cfg["fall_wake"] == "impact"
        if hw.reset == "deepsleep":
            if self.watch is not None and self._x.get("mw"):
                self.watch.armed = True  # the chip kept it through the sleep
                if hw.wake == "accel":
                    self._watch_check(hw.t_wake())  # she moved: known before the first decision
            if fm is not None and self.impact:  # a FIFO frozen at the impact: the boot bridged
                frozen = hw.wake == "accel" and getattr(fm, "impact_freeze", False)
                gap = ticks_diff(now, hw.t_wake()) if frozen else 0
                fm.resume_impact(self._x.get("ap"), gap)
            elif fm is not None:
                fm.resume(self._x.get("ap"))  # the still posture before the sleep: pre-fall history
            if hw.wake == "accel":
                self.policy.motion(hw.t_wake())  # she moves: the detector runs (FIFO light sleep)
            if gp is not None:
                gp.resume(self._x.get("g"), now, self._gap)  # the refresh schedule goes on
        ci = self._checkin()
        if hw.reset == "deepsleep" and ci is not None:
            ci.slept(uptime.ms(), self._gap)  # the check-in deadline does not wait for the wearer's sleep
        mp = ModemPolicy(self._modem_cfg(cfg), self.acc, now, self._modem_state_at_boot())
        if hw.reset == "deepsleep":
            mp.resume(self._x.get("mc"), now, self._gap)  # the registration check's schedule
        self.modem_policy = mp
        self.driver = ModemPower(app.modem, mp, hw.dtr, app.log)
        self.driver.on_check = self._sweep_inbox
        self._battery_due = True  # read at every boot and timer wake (firmware/sms/battery_watch.py)
        app.alert.listeners.append(self.driver.on_alert)
        prev = app.logic.on_press  # chained: the fall monitor cancels its window on a press

        def on_press(t):
            self.policy.hold_awake(t, self.window_ms, "gesture")
            self.modem_policy.used(t)  # a press may start an alert: wake the modem now, not at the trigger
            if prev is not None:
                prev(t)
        app.logic.on_press = on_press
        self.acc.set("accel", self._accel_state(fm), now)
        self.acc.set("mic", self._mic_state(), now)
        if hw.reset != "deepsleep":
            self.policy.hold_awake(now, self.policy.cfg["boot_awake_s"] * 1000, "boot")
        self.last = None  # the last decision, for the console
        self.task = None
        power.install(self.acc, ticks_ms, self.status)

    # ---- accounting across resets -------------------------------------------------------------------
    def _restore(self, now):
        hw = self.hw
        boot_ms = max(0, ticks_diff(now, hw.t_wake()))
        acc, x = Accounting.load(hw.rtc_load(), now)
        if acc is not None:
            gap = hw.wall_ms() - int(x.get("wall", 0))  # dump -> now on the RTC clock
            limit = int(x.get("ms", 0)) * 11 // 10 + 10000 if acc.saved_mcu == DEEP else 600000
            gap = min(max(0, gap - boot_ms), limit)  # the RC clock drifts; a clock set must not count
            acc, x = Accounting.load(hw.rtc_load(), now, gap, boot_ms)
            self.policy.resume(x.get("p"), now, gap + boot_ms)
            clock.resume(x.get("clk"))  # RTC memory and the RTC survived: the clock's source too
            self._x = x
            self._gap = gap + boot_ms
            src = "rtc"
        else:
            acc, x = Accounting.load(_read(FLASH_PATH), now)  # after a power loss: the rare copy
            src = "flash" if acc is not None else "new"
            if acc is None:
                acc, x = Accounting(now), {}
            acc.add("mcu", ACTIVE, boot_ms)
        acc.count("boots")
        if hw.reset == "deepsleep":
            acc.count("wake_" + (hw.wake or "other"))
        else:
            acc.count("reset_" + hw.reset)
        self.log("power_accounting", source=src, elapsed_s=acc.elapsed_ms(now) // 1000)
        return acc, int(x.get("fl", 0)) if x else 0

    def _modem_cfg(self, cfg):
        """A contact's POSITION between alerts (sms_position_idle) is answered within 15 min: on a board
        where RI cannot end a deep sleep, the modem's check (which reads its SMS store) comes that
        often unless the settings give check_s themselves."""
        if (cfg or {}).get("check_s") is None and self.app.cfg.get("sms_position_idle") \
                and not self.hw.caps_deep & W_RI:
            cfg = dict(cfg or {})
            cfg["check_s"] = POSITION_IDLE_CHECK_S
        return cfg

    def _checkin(self):
        w = getattr(self.app, "wearer", None)
        ci = getattr(w, "checkin", None)
        return ci if ci is not None and ci.enabled else None

    def _modem_state_at_boot(self):
        if self.hw.reset != "deepsleep":
            return "booting"  # the app brings it up at every reset ("off" mode powers it down after)
        st = self.acc.cur["modem"]
        # a deep sleep only starts with the modem settled: asleep (DTR stays high: it sleeps on until
        # needed), off (until an alert), or idle in "on" mode (the app configures it again)
        return "booting" if st in ("booting", "sending") else st

    def modem_on_at_boot(self):
        """Whether App.modem_task should bring the modem up at boot: not when it sleeps through the
        MCU's wake (the power task wakes it when needed) nor when it is off (booted by an alert)."""
        return self.modem_policy.state in ("booting", "idle")

    def _save(self, now, sleep_ms=0, posture=None):
        x = {"ms": sleep_ms, "wall": self.hw.wall_ms(), "fl": self._flash_at, "p": self.policy.carry(now)}
        if posture is not None:
            x["ap"] = posture
        x["mc"] = self.modem_policy.carry(now)
        x["clk"] = clock.carry()
        if self.watch is not None and self.watch.armed:
            x["mw"] = 1
        gp = getattr(self.app, "gnss_policy", None)
        if gp is not None:
            x["g"] = gp.carry(now)
        el = self.acc.elapsed_ms(now)
        if el - self._flash_at >= _FLASH_EVERY_MS:
            self._flash_at = el
            x["fl"] = el
            try:
                storage.write_atomic(FLASH_PATH, self.acc.dump(now, x))
            except OSError as e:
                self.log("power_flash_failed", err=repr(e))
        data = self.acc.dump(now, x)
        if not self.hw.rtc_save(data):
            try:
                storage.write_atomic(FLASH_PATH, data)
            except OSError:
                pass
        self._rtc_at = now

    # ---- inputs ---------------------------------------------------------------------------------------
    def _accel_state(self, fm, asleep=False):
        # asleep: the rate sleep_mode() just set (odr_hz: 25 Hz under the activity interrupt); awake,
        # the detector's rate (the monitor's next FIFO read restores it)
        a = getattr(fm, "accel", None)
        if a is None:
            return "off"
        lp = getattr(a, "mode", "normal") == "low-power"
        rate = getattr(a, "rate_hz", 50)
        if asleep:
            rate = getattr(a, "odr_hz", rate)
        rate = 25 if rate <= 25 else 50
        return ("lp%d" if lp else "n%d") % rate

    def _mic_state(self):
        rec = getattr(self.app, "recorder", None)
        if rec is not None and getattr(rec, "armed", False):
            return "on"
        st = self.hw.mic_state() if hasattr(self.hw, "mic_state") else getattr(self.hw, "mic_idle", None)
        return st or "off"

    def _mic_rest(self, alert, now):
        """Low power: no pre-alert ring between alerts (it would keep the MCU awake and the mic on;
        RAM does not survive a deep sleep anyway), unless the wearer armed it with the gesture
        (firmware/evidence/arming.py): then the mic stays on, and being "on" keeps the MCU awake
        (_busy), until evidence_arm_min has passed. The recorder powers the mic up on the trigger."""
        rec = getattr(self.app, "recorder", None)
        arming = getattr(self.app, "arming", None)
        if arming is not None and arming.active(now):
            return
        if self.low_power and rec is not None and rec.armed and rec.rec is None and not alert:
            rec.disarm()

    def _busy(self, now):
        """(busy, doze): why the MCU must stay awake, or why it may only light-sleep (the work goes
        on at a timer: a GNSS poll, the modem's idle timer). The fall window stays awake: the prompt's
        vibration is timed by the MCU, the wearer's cancel or duress gesture must be recognised as
        when awake, and it comes at most once per fall. A candidate under check is not here (_check):
        it light-sleeps."""
        app = self.app
        fm = getattr(app, "fall", None)
        if fm is not None and getattr(fm, "window_open", False):
            return "fall_window", None
        if self._fall_confirmed():
            return "fall_found", None
        if self.acc.cur["mic"] == "on":
            return "mic", None
        vib = getattr(app, "vibrator", None)
        if vib is not None and vib.playing():
            # a haptic code is felt whole: a light sleep would hold the motor on (or off) for the
            # sleep's length, a deep sleep cut it (the check-in's pre-warning lost its long pulse)
            return "haptic", None
        w = self._sms_work()
        if w is not None:
            return w, None
        lock = getattr(app.modem.at, "_lock", None)
        g = getattr(app, "gnss", None) or app.modem
        if getattr(g, "gnss_on", False) and getattr(g, "streams", False):
            return "gnss_stream", None  # a receiver of its own streaming NMEA: read awake, not in light sleep
        return modem_busy(self.modem_policy, lock is not None and lock.locked(), getattr(g, "gnss_on", False))

    def status(self):
        s = {"low_power": self.low_power, "modem_mode": self.modem_policy.mode,
             "wake": self.hw.wake, "reset": self.hw.reset}
        if self.last is not None:
            s["decision"] = {"state": self.last[0], "ms": self.last[1], "wake": wake_names(self.last[2]),
                             "why": self.last[3]}
        return s

    # ---- the motion watch (issue 22) ---------------------------------------------------------------------
    def _watch_check(self, now):
        """At a deep-sleep wake by INT1: she moved while the watch was armed (a standby refresh becomes
        useful). Otherwise the latch is read only when the watch is armed again before each sleep
        (_watch_set): no INT2_SRC read per step, and nothing else clears it (the fall monitor clears
        generator 1's latch alone, LIS3DH.int1_source)."""
        if self.watch is not None and self.watch.armed and self.watch.fired():
            self._moved(now)

    def _moved(self, now):
        self.policy.moved(now)
        self.acc.count("moved")
        self.log("moved", src="accel")

    def _watch_plan(self, now, gp):
        """ms until the watch must be armed (a timer wake), or None; sets _watch_now for this sleep."""
        self._watch_now = False
        if self.watch is None or gp is None or not self.low_power:
            return None
        if not self.modem_policy.gnss_standby_allowed():
            return None
        w = self.policy.watch_in_ms(now, gp.watch_age_s() * 1000)
        self._watch_now = w == 0
        return w or None

    def _watch_set(self, mask):
        """Arm the watch for the coming sleep if it is due and INT1 can wake the MCU, else take it off
        (a fresh fix needs no watch: she would wake the MCU for nothing). True if arming it again found
        its latch set (she moved since the last sleep began): the caller calls the sleep off, and the
        next decision knows (the refresh becomes useful)."""
        w = self.watch
        if w is None:
            return False
        if self._watch_now and mask & W_ACCEL:
            if not w.arm():
                self.policy.moved(ticks_ms())  # no watch: refresh on age alone rather than never
            elif w.seen:
                self._moved(ticks_ms())
                return True
        else:
            w.disarm()
        return False

    # ---- the loop -------------------------------------------------------------------------------------
    def _track(self, now):
        app, acc, mp = self.app, self.acc, self.modem_policy
        alert = app.alert.state != IDLE
        self._mic_rest(alert, now)
        acc.set("mcu", ALERTING if alert else ACTIVE, now)
        gnss = getattr(getattr(app, "gnss", None) or app.modem, "gnss_on", False)
        if gnss and acc.cur["gnss"] == "off" and not alert:
            self.policy.gnss_fix(now)  # a standby refresh starts: the next one after the age, once she moved
        acc.set("gnss", "on" if gnss else "off", now)
        acc.set("mic", self._mic_state(), now)
        mp.alert(now, alert)
        if mp.state == "booting":
            if app.modem.ready.is_set():
                mp.registered(now)
            elif ticks_diff(now, mp.since) > _BOOT_LIMIT_MS:
                # no answer: count it off and let the MCU sleep; an alert powers it on again
                self.log("modem_boot_timeout")
                mp.powered_off(now)
        last_rx = fresh(now, getattr(app.modem.at, "last_rx", None))  # days-old traffic is no traffic
        if last_rx is not None and mp.state in ("idle", "sending") and (
                mp.last_use is None or ticks_diff(last_rx, mp.last_use) > 0):
            mp.used(last_rx)  # traffic from other tasks (status polls, GNSS) keeps it awake a while
        mp.sending(now, app.alert.state == DISPATCHING and app.modem.ready.is_set())
        return alert

    async def run(self):
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the power task must never take the device down: stay awake
                self.log("power_error", err=repr(e))
                await asyncio.sleep_ms(5000)

    async def _step(self):
        now = ticks_ms()
        alert = self._track(now)
        gnss = self.acc.cur["gnss"] == "on"
        if self._battery_due:
            self._battery_due = False
            tw = getattr(self.app, "two_way", None)
            if tw is not None:
                tw.check_battery()  # a warning it starts keeps the modem and the MCU awake (_busy)
        if self.low_power and self.modem_policy.mode != ON and self.modem_policy.state != "booting":
            act = await self.driver.apply(alert, gnss, self._sms_work() is not None)
            if act is not None:
                now = ticks_ms()
                self._track(now)
        busy, doze = self._busy(now)
        chk = self._check(now)
        if chk is not None:
            if chk == 0 and busy is None:
                busy = "fall_check"  # the read that decides is due: the monitor runs at the next yield
            if doze is None:
                doze = "fall_check"  # light sleep, never deep: the detector's state is in RAM
        nxt = self.modem_policy.next_ms(now)
        gp = getattr(self.app, "gnss_policy", None)  # the GNSS refresh schedule wakes the MCU too
        if gp is not None and self.low_power:
            gp.standby_ok = self.policy.refresh_useful() and self.modem_policy.gnss_standby_allowed()
        if gp is not None:
            nxt = _sooner(nxt, gp.next_check_ms(now))
        nxt = _sooner(nxt, self._watch_plan(now, gp))  # the fix ages: wake once to arm the motion watch
        ci = self._checkin()
        c = ci.next_ms(uptime.ms()) if ci is not None else -1
        if c >= 0:
            nxt = _sooner(nxt, c)  # the check-in's pre-warning or deadline: felt, and the alert must go
        if doze == "gnss":
            nxt = _sooner(nxt, _GNSS_POLL_MS)  # the GNSS task's next poll
        if chk is not None and chk > 0:
            nxt = _sooner(nxt, chk)  # a timer wake at the decision (the FIFO watermark may come later)
        d = self.policy.decide(now, alert, busy, self.hw.usb(), nxt, doze)
        if chk is not None and d[0] == LIGHT:
            d = (LIGHT, d[1], d[2], "fall_check")  # what it waits for (moving or not: the same sleep)
        if self.last is None or d[0] != self.last[0] or d[3] != self.last[3]:
            self.log("power_state", state=d[0], why=d[3], ms=d[1], wake=wake_names(d[2]))
        self.last = d
        if ticks_diff(now, self._rtc_at) >= _RTC_EVERY_MS:
            self._save(now)
        if d[0] == LIGHT:
            await self._light(min(d[1], _LIGHT_MAX_MS), d[2], d[3] == "motion", chk is not None)
        elif d[0] == DEEP:
            if not self._deep(d[1], d[2]):
                await asyncio.sleep_ms(_CALLED_OFF_MS)  # the button task takes the press meanwhile
        else:
            wait = _CHECK_POLL_MS if busy == "fall_check" else _POLL_MS  # a due decision: ask again
            try:  # once the monitor has read the FIFO (its task runs first)
                await asyncio.wait_for_ms(self.driver.kick.wait(), wait)
            except asyncio.TimeoutError:
                pass
            self.driver.kick.clear()

    def _flush(self):
        fl = getattr(self.app.board, "flash_log", None)
        if fl is not None:
            try:
                fl.flush()
            except OSError:
                pass

    def _int1(self, mask, moving, checking=False):
        """INT1 and the LIS3DH rate for the coming sleep (FIFO watermark while moving or while the
        detector checks a candidate, activity otherwise; the impact interrupt in either case with
        power.fall_wake "impact", except during a check); the posture."""
        fm = getattr(self.app, "fall", None)
        if fm is not None and mask & W_ACCEL:
            p = fm.impact_mode() if self.impact and not checking else fm.sleep_mode(moving or checking)
            self.acc.set("accel", self._accel_state(fm, True), ticks_ms())
            return p
        return None

    def console_seen(self):
        """Bytes on the technician's console: awake for boot_awake_s more (120 s), so that a session
        is not cut by a deep sleep. The reference board senses no USB VBUS (docs/power.md), and its
        UART cannot wake a sleeping ESP32: the first line to a sleeping button waits for a press or a
        reset (the CLI says so)."""
        self.policy.hold_awake(ticks_ms(), self.policy.cfg["boot_awake_s"] * 1000, "console")
        self.driver.kick.set()

    def _sms_work(self):
        """Why the modem and the MCU must stay awake for SMS, or None: "sms_out", a reply, notice or
        warning on its way (a sleep would end it); "sms_read", the modem's store being read while the
        modem is awake (after a check: SMS that came during a deep sleep)."""
        tw = getattr(self.app, "two_way", None)
        if tw is None:
            return None
        if tw.pending():
            return "sms_out"
        if tw.reader.pending() and self.app.modem.ready.is_set():
            return "sms_read"
        return None

    def _sweep_inbox(self):
        """After each registration check of a sleeping "ready" modem: read its SMS store (RI cannot
        wake the MCU from deep sleep on the reference board, so SMS wait there until this)."""
        tw = getattr(self.app, "two_way", None)
        if tw is not None:
            tw.reader.sweep_soon()

    def _fall_confirmed(self):
        """A fall confirmed by the FIFO read before a sleep, not yet handed to its window: stay awake."""
        fm = getattr(self.app, "fall", None)
        return fm is not None and hasattr(fm, "confirmed") and fm.confirmed()

    def _check(self, now):
        """The detector under way (FallMonitor.checking(): a candidate under check, or the hold-off
        after a fall): ms until the FIFO read that decides it (0: due now, -1: no decision due), or
        None when it is idle. Its state is in RAM and it needs every sample at its rate: light sleep
        only, INT1 on the FIFO watermark, and a timer wake at the decision if it is due before the
        watermark (the decision comes when it would awake, never later)."""
        fm = getattr(self.app, "fall", None)
        if fm is None or not hasattr(fm, "checking") or not fm.checking():
            return None
        return fm.decide_in_ms(now)

    def _sleep_off(self, checking):
        # the FIFO read before a rate change (sleep_mode) confirmed a fall, or found an impact while
        # the sleep was set up for a still wearer (the activity interrupt at the sleep rate), after
        # the policy chose to sleep: the sleep is called off; the next step opens the cancel window,
        # or light-sleeps on the FIFO watermark for the check
        if self._fall_confirmed() or (not checking and self._check(ticks_ms()) is not None):
            self.log("sleep_cancelled", why="fall_check")
            return True
        return False

    def _button_unheard(self):
        """The button moved and the recogniser has not taken it yet (the ISR stored an edge the
        button task has not drained, a burst is settling, or the pin is down while the recogniser
        reads it released): its press's gesture window is not held yet, whatever the policy saw. A
        deep sleep now would lose a tap released before it began (ext0 wakes on the level only) and
        the count with it: the alert gesture's first tap. A press the recogniser already holds is
        left to ext0 (it wakes the chip at once)."""
        app = self.app
        edges, logic = getattr(app, "edges", None), getattr(app, "logic", None)
        if edges is None or logic is None:
            return False
        waiting = getattr(edges, "waiting", None)
        return bool((waiting is not None and waiting()) or logic.settling()
                    or (edges.is_pressed() and not logic.stable))

    async def _light(self, ms, mask, moving=False, checking=False):
        acc, hw = self.acc, self.hw
        checking = checking and bool(mask & W_ACCEL)
        self._int1(mask, moving, checking)
        if self._watch_set(mask) or self._sleep_off(checking):
            await asyncio.sleep_ms(0)
            return
        wdt = self.app.board.watchdog()
        if wdt is not None:
            wdt.feed()
        self._flush()
        t0 = ticks_ms()
        acc.set("mcu", LIGHT, t0)
        why = hw.lightsleep(ms, mask)
        t1 = ticks_ms()
        acc.set("mcu", ACTIVE, t1)
        if mask & W_ACCEL:
            fm = getattr(self.app, "fall", None)
            if self.impact and fm is not None and not checking:  # awake: the FIFO read, streaming again
                fm.resume_impact(None, 0)
            acc.set("accel", self._accel_state(fm), t1)
        acc.count("light_sleeps")
        acc.count("wake_" + why)
        if why == "accel" and not (moving or checking):
            # INT1 was the activity (or impact) interrupt: she moves. A FIFO watermark is not motion
            # (the chip fills its FIFO still or not): the monitor's 5 s verdicts say whether she still
            # moves (App._power_motion), else she is still after still_s and the MCU may deep-sleep.
            # The motion watch's latch is read at the next sleep's arming (_watch_set), not here.
            self.policy.motion(t1)
        elif why == "button":
            self.policy.hold_awake(t1, self.window_ms, "gesture")
        elif why == "timer":
            self._battery_due = True
        await asyncio.sleep_ms(0)

    def _deep(self, ms, mask):
        now = ticks_ms()
        self.log("deep_sleep", ms=ms, wake=wake_names(mask))
        self._flush()
        posture = self._int1(mask, False)
        if self._watch_set(mask) or self._sleep_off(False):
            return False
        if self._button_unheard():  # last, after the slow part (FIFO read, flash log)
            self.log("sleep_cancelled", why="button")
            return False
        ci = self._checkin()
        if ci is not None:
            ci.save(uptime.ms())  # the time left, for slept() after the wake
        self.acc.set("mcu", DEEP, now)
        self.acc.count("deep_sleeps")
        self._save(now, ms, posture)
        self.hw.deepsleep(ms, mask)
        return True


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""
