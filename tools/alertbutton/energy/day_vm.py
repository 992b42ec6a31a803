# Runs INSIDE the MicroPython VM (started by tools/alertbutton/energy/battery_life.py): one simulated day,
# accelerated by injecting time into the firmware's own decision objects (firmware.power.PowerPolicy,
# firmware.power.modem.ModemPolicy, firmware.location.gnss_power.GnssPower) and keeping the firmware's own
# state-time accounting (firmware.power.Accounting), which crosses every deep sleep only as the bytes
# that would sit in RTC memory. Nothing here draws current: the host multiplies the accounting by the
# current table.
#
# What this harness adds, and only this: the outside world on a virtual clock (the scenario's motion,
# the button presses, how long the modem takes to boot, register, wake and send, when a GNSS fix
# comes) and the MCU's boot time after a deep sleep. Those durations are the scenario's parameters,
# each sourced or marked as an assumption there.
#
# argv[1]: a JSON file written by battery_life.py (the scenario with every parameter resolved).
# stdout: "BIN <i> <json>" per bin of the timeline, "EV <json>" for notable moments,
#         "RESULT <json>" last: the accounting's totals (ms) and counts, latencies.
import json
import sys
from time import ticks_add, ticks_diff

from firmware.fall.detector import FallDetector
from firmware.fall.monitor import SLEEP_HZ
from firmware.location.gnss_power import POLL_MS, GnssPower
from firmware.power.modem import ModemPolicy, ModemPower
from firmware.power.task import modem_busy
from firmware.power.policy import (ACTIVE,
    ALERTING,
    COMPONENTS,
    DEEP,
    LIGHT,
    W_ACCEL,
    W_BUTTON,
    Accounting,
    PowerPolicy)

INF = 1 << 60
T0 = ticks_add(0, -7200000)  # the virtual day starts 2 h before the ticks counter wraps


def tk(v):
    return ticks_add(T0, v)


class Bins:
    """Time per (component, state) in fixed bins of the day, from the accounting's change hook."""

    def __init__(self, bin_ms, n, acc, v):
        self.bin_ms = bin_ms
        self.bins = [{} for _ in range(n)]
        self.cur = dict(acc.cur)
        self.since = dict((c, v) for c in COMPONENTS)

    def change(self, comp, state, v):
        self._spread(comp, self.cur[comp], self.since[comp], v)
        self.cur[comp] = state
        self.since[comp] = v

    def _spread(self, comp, state, a, b):
        key = comp + "." + state
        while a < b:
            i = a // self.bin_ms
            if i >= len(self.bins):
                return
            end = min(b, (i + 1) * self.bin_ms)
            d = self.bins[i]
            d[key] = d.get(key, 0) + end - a
            a = end

    def close(self, v):
        for c in COMPONENTS:
            self.change(c, self.cur[c], v)


class Day:
    def __init__(self, P):
        self.P = P
        self.D = int(P["duration_s"] * 1000)
        m, mc, g = P["modem"], P["mcu"], P["gnss"]
        self.mode = P["mode"]
        self.boot_ms = int(mc["boot_ms"])
        self.arm_ms = int(mc["arm_ms"])
        self.fifo_ms = int(mc["fifo_ms"])
        self.cpu_ms = max(1, int(round(mc["fifo_cpu_ms"])))
        self.at_ms = int(mc.get("at_ms", 50))  # one AT exchange (a GNSS poll, AT+CEREG?) awake
        self.at_until = 0  # the MCU is awake for an AT exchange until then
        self.caps_deep = W_BUTTON | W_ACCEL | 8
        self.caps_light = 15
        self.pcfg = dict(P["power"])
        self.pcfg["low_power"] = not P.get("baseline")  # baseline: the firmware before issue 8
        self.mcfg = {"modem_mode": self.mode, "idle_to_sleep_s": int(m["idle_to_sleep_s"]),
                     "off_after_s": int(m["off_after_s"]), "wake_ms": int(m["wake_ms"]),
                     "psm": m.get("psm"), "edrx_s": m.get("edrx_s"), "check_s": int(m.get("check_s", 14400))}
        self.fall = bool(self.pcfg.get("fall_detection", True))
        self.segments = [(int(a * 1000), int(b * 1000), k, s) for a, b, k, s in P["segments"]]
        # power.fall_wake "impact": the LIS3DH's impact interrupt alone wakes the MCU, at the rates per
        # hour of each activity measured by replaying real recordings through the simulated chip
        # (alertbutton.energy.impact_wake); each wake costs a boot and impact_awake_ms of checking
        self.impact = self.fall and self.pcfg.get("fall_wake") == "impact"
        iw = P.get("impact_wake") or {}
        self.impact_awake_ms = iw.get("awake_ms", 0)  # ms, or {activity: ms}
        self.impacts = self._impact_times(iw.get("wakes_per_h", {})) if self.impact else []
        self.ii = 0
        self.check_until = 0  # the detector's check after an impact wake: light sleep on the watermark
        # "fifo" mode with the detector's checks counted (energy --count-checks): the measured fraction
        # of each activity's time the detector spends checking candidates. The firmware light-sleeps
        # through a check (firmware/power/task.py PowerTask._check): a FIFO wake that finds one costs
        # check_extra_ms more CPU (the per-sample path and the decision, energy/check_cpu.py), and a
        # decision may need its own timer wake (at most one per candidate, which lasts >= decide_ms)
        self.check_frac = (P.get("detector_checks") or {}).get("check_frac", {})
        self.check_extra_ms = float(mc.get("check_extra_ms", 0))
        self.wake_overhead_ms = float(mc.get("wake_overhead_ms", 1.0))
        self.decide_ms = FallDetector(rate_hz=int(mc.get("rate_hz", 50))).decide_ms
        self.check_ms_acc = 0.0  # fractions of a ms (and of a wake) carried to the next FIFO wake
        self.check_wake_acc = 0.0
        self.alerts = sorted(int(a["t_s"] * 1000) for a in P["alerts"])
        self.presses_ms = [int(x) for x in P["gesture_ms"]]
        self.window_ms = int(P["gesture_window_ms"])
        self.presses = []  # (t, gesture start, last press of the gesture?)
        for t0 in self.alerts:
            for i, d in enumerate(self.presses_ms):
                self.presses.append((t0 + d, t0, i == len(self.presses_ms) - 1))
        self.presses.sort()
        self.pi = 0
        self.lost = []  # gestures that lost presses while the MCU booted
        self.v = 0
        acc = Accounting(tk(0))
        self.bins = Bins(int(P["bin_s"] * 1000), (self.D + int(P["bin_s"] * 1000) - 1) // int(P["bin_s"] * 1000),
                         acc, 0)
        self._hook(acc)
        first = ACTIVE if P.get("baseline") else DEEP
        acc.set("mcu", first, tk(0))  # steady state: the day starts asleep, the modem settled
        st = P["hardware"]["accel_state"]
        self.accel_states = (st, "%s%d" % (st.rstrip("0123456789"), SLEEP_HZ))  # awake, under INT1 activity
        acc.set("accel", st if self.fall else "off", tk(0))
        acc.set("mic", "off" if P["hardware"]["mic_chipen"] else "standby", tk(0))
        start = "off" if self.mode == "off" else ("idle" if self.mode == "on" else "sleep")
        self.acc = acc
        self.policy = PowerPolicy(self.pcfg, self.caps_deep, self.caps_light)
        self.policy.gnss_fix(tk(-3600000))  # yesterday evening's last refresh; she has not moved since
        # the motion watch (LIS3DH generator 2, firmware/location/motion_watch.py): the activities that
        # exceed its threshold (the scenario's assumption), armed for this sleep, due at the next sleep
        self.moved_by = tuple(P["gnss"].get("moved_by", ("walking",)))
        self.watch = False
        self.watch_due = False
        self.modem = ModemPolicy(self.mcfg, acc, tk(0), start)
        if self.mode != "on" and m.get("psm_granted_s") is not None:
            self.modem.psm_granted(int(m["psm_granted_s"]))
        self.gnss = GnssPower(P.get("gnss_power"), blocks_lte=False, now=None)
        self.gnss_on = False
        self.fix_at = INF
        self.op = None  # (end_v, what) modem operation in progress: wake / boot / off
        self.alert = None  # dict while an alert runs
        self.sms_left = 0
        self.sms_at = INF
        self.fifo_next = INF  # next FIFO watermark while the detector runs
        self.lat = []
        self.awake_ms = {}
        self.mcu_state = first
        self.data = None
        self.events = []

    def _hook(self, acc):
        acc.on_change = lambda c, s, t: self.bins.change(c, s, ticks_diff(t, T0))

    def ev(self, **kw):
        kw["t_s"] = round(self.v / 1000.0, 3)
        print("EV", json.dumps(kw))

    # ---- the world ---------------------------------------------------------------------------------
    def segment(self, v):
        for a, b, k, s in self.segments:
            if a <= v < b:
                return k, s
        return "still", None

    def moving(self, v):
        k, s = self.segment(v)
        if k == "walking":
            return True
        if k == "moves":
            every, burst = int(s["every_s"] * 1000), int(s["burst_s"] * 1000)
            return (v - self._seg_start(v)) % every < burst
        return False

    def _seg_start(self, v):
        for a, b, k, s in self.segments:
            if a <= v < b:
                return a
        return 0

    def next_motion_start(self, v, kinds=None):
        """Virtual time the accelerometer's activity interrupt next fires (motion starts); kinds: only
        these activities (the motion watch's)."""
        if self.moving(v) and (kinds is None or self.segment(v)[0] in kinds):
            return v
        best = INF
        for a, b, k, s in self.segments:
            if b <= v or (kinds is not None and k not in kinds):
                continue
            if k == "walking":
                best = min(best, max(a, v))
            elif k == "moves":
                every = int(s["every_s"] * 1000)
                start = max(a, v)
                n = (start - a + every - 1) // every
                t = a + n * every
                if t < b:
                    best = min(best, t)
        return best

    def _impact_times(self, rates):
        # evenly spread: a wake each time the moving time weighted by its activity's rate adds up to 1
        out = []
        acc = 0.0
        for sec in range(self.D // 1000):
            v = sec * 1000
            if self.moving(v):
                acc += float(rates.get(self.segment(v)[0], 0)) / 3600.0
                if acc >= 1.0:
                    acc -= 1.0
                    out.append(v)
        return out

    def next_accel(self, v):
        """Virtual time INT1 next fires while the MCU sleeps without the FIFO watermark: the impact
        interrupt (power.fall_wake "impact"), else the activity interrupt (motion starts)."""
        if not self.impact:
            return self.next_motion_start(v)
        while self.ii < len(self.impacts) and self.impacts[self.ii] < v:
            self.ii += 1
        return self.impacts[self.ii] if self.ii < len(self.impacts) else INF

    def next_press(self):
        return self.presses[self.pi][0] if self.pi < len(self.presses) else INF

    def presses_due(self, v):
        """Presses up to v, seen by the awake firmware (live, or stored by the ISR during a boot)."""
        while self.pi < len(self.presses) and self.presses[self.pi][0] <= v:
            t, t0, last = self.presses[self.pi]
            self.pi += 1
            self.policy.hold_awake(tk(v), self.window_ms, "gesture")
            self.modem.used(tk(v))  # a press may start an alert: wake the modem now (power task)
            if last and t0 not in self.lost and self.alert is None:
                self.trigger(t0, v)

    def outdoors(self, v):
        return self.segment(v)[0] == "walking"

    # ---- one step ------------------------------------------------------------------------------------
    def run(self):
        while self.v < self.D:
            self.step()
        self.bins.close(self.D)
        now = tk(self.D)
        tot = self.acc.totals(now)
        return {"totals_ms": tot, "counts": self.acc.counts, "latency": self.lat, "duration_ms": self.D,
                "awake_ms_by_reason": self.awake_ms}

    def step(self):
        v = self.v
        now = tk(v)
        self.presses_due(v)
        acc, mp, pol = self.acc, self.modem, self.policy
        if self.watch and self.moving(v) and self.segment(v)[0] in self.moved_by:
            pol.moved(now)  # the watch's latch, read when the power task arms it again (PowerTask._watch_set)
            acc.count("moved")
            self.watch = False
        # modem operations that take time
        if self.op is not None and v >= self.op[0]:
            what = self.op[1]
            self.op = None
            if what == "wake":
                mp.woke(now)
            elif what == "boot":
                mp.registered(now)
            elif what == "off":
                mp.powered_off(now)
        # alert progress: the trigger, the modem's readiness, one SMS after the other
        a = self.alert
        if a is not None:
            if a["phase"] == "wait_modem" and mp.state in ("idle", "sending") and self.op is None:
                a["phase"] = "sending"
                self.sms_left = int(self.P["modem"]["contacts"])
                self.sms_at = v + int(self.P["modem"]["sms_s"] * 1000)
                mp.sending(now, True)
            if a["phase"] == "sending" and v >= self.sms_at:
                self.sms_left -= 1
                acc.count("sms")
                if "first_sms" not in a:
                    a["first_sms"] = v
                if self.sms_left:
                    self.sms_at = v + int(self.P["modem"]["sms_s"] * 1000)
                else:
                    self.sms_at = INF
                    mp.sending(now, False)
                    self.lat.append({"press_ms": a["press"], "trigger_ms": a["trigger"],
                                     "first_sms_after_trigger_ms": a["first_sms"] - a["trigger"],
                                     "first_sms_after_first_press_ms": a["first_sms"] - a["press"],
                                     "all_sms_after_trigger_ms": v - a["trigger"]})
                    self.ev(event="dispatch_done", **self.lat[-1])
                    self.alert = None  # a test alert ends after its dispatch
                    mp.alert(now, False)
                    self.gnss.alert(now, False)
        alert = self.alert is not None
        mp.tick(now)
        # GNSS: the firmware's policy, asked only when a refresh is useful (or an alert runs)
        if self.gnss_on and v >= self.fix_at:
            self.gnss.on_fix(now)
            pol.gnss_fix(now)
            self.fix_at = INF
        # the power task's gate (firmware/power/task.py): a standby refresh only once she moved
        if self.pcfg["low_power"]:  # without low power the power task does not run: no gate
            self.gnss.standby_ok = pol.refresh_useful() and mp.gnss_standby_allowed()
        want_gnss = self.gnss.want_on(now)
        if alert and mp.state in ("off", "booting"):
            want_gnss = False  # the receiver lives in the modem
        if want_gnss != self.gnss_on:
            self.gnss_on = want_gnss
            acc.set("gnss", "on" if want_gnss else "off", now)
            if want_gnss:
                acc.count("gnss_sessions")
                if not alert:
                    pol.gnss_fix(now)  # a refresh attempt: the next one after the age, once she moved
                fix_s = self.P["gnss"]["fix_s"]
                self.fix_at = v + int(fix_s * 1000) if self.outdoors(v) else INF
        if self.op is None and mp.state == "idle" and mp.check_due(now):  # ModemPower.check(): AT+CEREG?
            acc.count("reg_checks")
            mp.checked(now, True)
            mp.used(now)
            self.at_until = v + self.at_ms
        # the modem policy, with the durations the real modem would take
        if self.op is None:
            w = mp.want(now, alert, self.gnss_on)
            st = mp.state
            if w == "awake" and st in ("sleep", "psm"):
                self.op = (v + int(self.P["modem"]["wake_ms"]), "wake")
            elif w == "awake" and st == "off":
                mp.booting(now)
                m = self.P["modem"]
                self.op = (v + ModemPower.ON_PULSE_MS + int((m["boot_s"] + m["config_s"] + m["register_s"]) * 1000),
                           "boot")
            elif w == "sleep" and st == "idle":
                mp.slept(now)
            elif w == "off" and st in ("idle", "sleep", "psm"):
                self.op = (v + ModemPower.OFF_HOLD_MS, "off")
        # the MCU
        # the power task's busy / doze split (firmware/power/task.py modem_busy); a modem power operation
        # in flight (its durations are the model's) keeps the MCU awake as the AT exchanges would
        if self.op is not None:
            busy, doze = "modem_op", None
        else:
            busy, doze = modem_busy(mp, v < self.at_until, self.gnss_on)
        if v < self.check_until and doze is None:
            doze = "fall_check"  # an impact wake's check light-sleeps on the watermark (PowerTask._check)
        nxt = mp.next_ms(now)
        g = self.gnss.next_check_ms(now)
        wms = None  # PowerTask._watch_plan: arm the motion watch now (0), or a timer wake when the fix ages
        if self.fall and self.pcfg["low_power"] and mp.gnss_standby_allowed():
            wms = pol.watch_in_ms(now, self.gnss.watch_age_s() * 1000)
        self.watch_due = wms == 0
        if wms and (g is None or wms < g):
            g = wms
        if doze == "gnss":
            g = POLL_MS if g is None else min(g, POLL_MS)
        if g is not None and (nxt is None or g < nxt):
            nxt = g
        d = pol.decide(now, alert, busy, False, nxt, doze)
        state, ms, mask, why = d
        events = [self.D, self.next_press()]
        if self.op is not None:
            events.append(self.op[0])
        if self.at_until > v:
            events.append(self.at_until)
        if self.sms_at < INF:
            events.append(self.sms_at)
        if self.fix_at < INF:
            events.append(self.fix_at)
        if self.check_until > v:
            events.append(self.check_until)
        if state in (ACTIVE, ALERTING):
            self.mcu(state, v)
            t = v + (ms if ms > 0 else (60000 if why == "disabled" else 1000))
            t = min([t] + [e for e in events if e > v])
            if self.fall and self.moving(v):
                pol.motion(now)  # awake: the detector reads the FIFO as it fills
            self.advance(t)
            self.awake_ms[why] = self.awake_ms.get(why, 0) + self.v - v  # what kept the MCU awake
        elif state == LIGHT:
            self.sleep_light(v, ms, mask, events)
        else:
            self.sleep_deep(v, ms, mask, events)

    def mcu(self, state, v):
        if self.mcu_state != state:
            self.mcu_state = state
            self.acc.set("mcu", state, tk(v))

    def advance(self, t):
        self.v = min(max(t, self.v + 1), self.D)

    def trigger(self, t0, v):
        now = tk(v)
        self.alert = {"press": t0, "trigger": v, "phase": "wait_modem"}
        self.acc.count("alerts")
        self.ev(event="trigger", press_ms=t0, trigger_ms=v)
        self.modem.alert(now, True)
        self.gnss.alert(now, True, need_fix=False)
        self.mcu(ALERTING, v)

    def accel_rate(self, v, still_sleep):
        """The LIS3DH at SLEEP_HZ while INT1 is the activity interrupt (FallMonitor.sleep_mode), at
        the detector's rate from the wake on (its first FIFO read restores it)."""
        if self.fall:
            self.acc.set("accel", self.accel_states[1 if still_sleep else 0], tk(v))

    def arm_watch(self, mask):
        """PowerTask._watch_set: the watch for this sleep, if due and INT1 can wake the MCU."""
        self.watch = self.watch_due and bool(mask & W_ACCEL)

    def watch_wake(self, v, wake, src):
        if self.watch:
            t = self.next_motion_start(v + 1, self.moved_by)
            if t < wake:
                return t, "accel"
        return wake, src

    def sleep_light(self, v, ms, mask, events):
        self.arm_watch(mask)
        wake = v + ms
        src = "timer"
        motion_mode = self.policy.moving(tk(v))
        impact_check = v < self.check_until  # after an impact wake: INT1 on the watermark until decided
        still = bool(mask & W_ACCEL) and (self.impact or not motion_mode) and not impact_check
        self.accel_rate(v, still)
        if mask & W_ACCEL and self.fall:
            # the detector runs: a FIFO watermark wakes it; otherwise INT1 fires when motion starts
            # (or at an impact)
            if (motion_mode and not self.impact) or impact_check:
                t = v + self.fifo_ms  # the next watermark (a check light-sleeps too)
            else:
                t = self.next_accel(v + 1)
            if t < wake:
                wake, src = t, "accel"
        wake, src = self.watch_wake(v, wake, src)
        p = self.next_press()
        if p < wake:
            wake, src = p, "button"
        for e in events:
            if v < e < wake:
                wake, src = e, "event"
        self.mcu(LIGHT, v)
        self.acc.count("light_sleeps")
        if wake >= self.D:
            self.v = self.D
            return
        self.v = wake
        if still:
            self.accel_rate(wake, False)
        self.woke(src, wake)
        self.mcu(ACTIVE, wake)
        if self.gnss_on and src == "timer":
            self.at_until = wake + self.at_ms  # App.gnss_task's poll: AT+CGNSSINFO
        # a FIFO wake: read the FIFO, run the detector, back to sleep (a check too: light sleep on the
        # watermark, its per-sample work and decision as extra CPU, its decision's timer wake counted)
        busy = self.cpu_ms
        f = 0.0
        if src == "accel" and impact_check:
            f = 1.0  # an impact wake's check: every watermark finds the candidate
        elif src == "accel" and motion_mode and not self.impact and self.check_frac and self.moving(wake):
            f = float(self.check_frac.get(self.segment(wake)[0], 0))
        if f:
            wakes = f * self.fifo_ms / self.decide_ms  # decision timer wakes per FIFO wake, at most
            self.check_ms_acc += f * self.check_extra_ms + wakes * self.wake_overhead_ms
            self.check_wake_acc += wakes
            extra = int(self.check_ms_acc)
            self.check_ms_acc -= extra
            busy += extra
            n = int(self.check_wake_acc)
            if n:
                self.check_wake_acc -= n
                self.acc.count("check_timer_wakes", n)
        self.v = min(wake + (busy if src == "accel" else 1), self.D)

    def woke(self, src, v):
        now = tk(v)
        self.acc.count("wake_" + src)
        if src == "accel" and self.moving(v):
            self.policy.motion(now)
        elif src == "button":
            self.policy.hold_awake(now, self.window_ms, "gesture")
            self.modem.used(now)

    def sleep_deep(self, v, ms, mask, events):
        now = tk(v)
        self.arm_watch(mask)
        if mask & W_ACCEL:
            self.accel_rate(v, True)
        self.mcu(DEEP, v)
        self.acc.count("deep_sleeps")
        data = self.acc.dump(now, {"ms": ms, "p": self.policy.carry(now), "g": self.gnss.carry(now),
                                   "mc": self.modem.carry(now)})  # the RTC memory (power_task._save)
        wake, src = v + ms, "timer"
        if mask & W_ACCEL and self.fall:
            t = self.next_accel(v + 1)
            if t < wake:
                wake, src = t, "accel"
        wake, src = self.watch_wake(v, wake, src)
        p = self.next_press()
        if p < wake:
            wake, src = p, "button"
        if wake >= self.D:
            self.v = self.D  # the day ends asleep
            return
        # the reboot: only the bytes survive; ticks restart (any base works: all is relative)
        v1 = wake + self.boot_ms
        now1 = tk(v1)
        acc, x = Accounting.load(data, now1, slept_ms=wake - v, boot_ms=self.boot_ms)
        if acc is None:
            raise RuntimeError("accounting lost across deep sleep")
        self.bins.change("mcu", ACTIVE, wake)  # the timeline: the boot starts at the wake
        self._hook(acc)
        self.acc = acc
        self.mcu_state = ACTIVE
        acc.count("boots")
        pol = PowerPolicy(self.pcfg, self.caps_deep, self.caps_light)
        pol.resume(x.get("p"), now1, wake - v + self.boot_ms)
        self.policy = pol
        mp = ModemPolicy(self.mcfg, acc, now1, acc.cur["modem"])
        mp.psm_active_ms = self.modem.psm_active_ms
        mp.resume(x.get("mc"), now1, wake - v + self.boot_ms)
        self.modem = mp
        gp = GnssPower(self.P.get("gnss_power"), blocks_lte=False, now=None)  # App after a deep-sleep wake
        gp.pct = self.gnss.pct
        gp.resume(x.get("g"), now1, wake - v + self.boot_ms)
        self.gnss = gp
        self.v = v1
        if mask & W_ACCEL:
            self.accel_rate(v1, False)  # the boot's first FIFO read
        if src == "accel" and self.impact:
            self.acc.count("impact_wakes")
            aw = self.impact_awake_ms
            if isinstance(aw, dict):
                aw = aw.get(self.segment(wake)[0], 0)
            self.check_until = v1 + int(aw)
        if src == "button":
            self._wake_press(wake)
        self.woke(src, v1)

    def _wake_press(self, wake):
        """The gesture from deep sleep: presses that start before the ISR is armed are lost, except
        the waking one (fed as a synthetic press at the wake: firmware/wearer/boot_wake.py). The others
        were stored by the ISR and are seen when the firmware runs (presses_due at the boot's end)."""
        for t, t0, last in self.presses[self.pi:]:
            if t0 == wake and wake < t < wake + self.arm_ms:
                if t0 not in self.lost:
                    self.lost.append(t0)
                    self.acc.count("gesture_lost")
        self.ev(event="wake_press", armed_ms=self.arm_ms, boot_ms=self.boot_ms,
                gesture_ok=wake not in self.lost)


def main():
    with open(sys.argv[1]) as f:
        P = json.load(f)
    day = Day(P)
    res = day.run()
    for i, b in enumerate(day.bins.bins):
        print("BIN", i, json.dumps(b))
    print("RESULT", json.dumps(res))


main()
