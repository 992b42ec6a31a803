# Power states in one place (issue 8).
#  - PowerPolicy: what the MCU should do now (deep sleep, light sleep, active, alerting), for how long,
#    and which wake sources may end the sleep. Pure: no machine, no clock reads; `now` is a
#    time.ticks_ms() value and every difference goes through ticks_diff.
#  - Accounting: time spent in each state per component (mcu, modem, gnss, accel, mic). It is carried
#    across deep sleep as bytes (dump/load: RTC memory on the ESP32, a small flash file as fallback)
#    and read on the console through report(). The host energy model (tools/alertbutton/energy/battery_life.py)
#    multiplies these times by a sourced current table: this module never guesses a current.
import json
import struct
from time import ticks_add, ticks_diff

from micropython import const

from firmware.core.uptime import STALE_MS, fresh

DEEP = "deep"
LIGHT = "light"
ACTIVE = "active"
ALERTING = "alerting"

# wake sources, a bit mask
W_BUTTON = const(1)  # ext0 on the button's RTC GPIO, level low (pressed)
W_ACCEL = const(2)  # LIS3DH INT1 (activity or FIFO watermark), ext1 ANY_HIGH
W_RI = const(4)  # modem RI, active low (incoming SMS); not an ext1 source next to INT1 (polarity)
W_TIMER = const(8)
W_ALL = const(15)
WAKE_NAMES = ((W_BUTTON, "button"), (W_ACCEL, "accel"), (W_RI, "ri"), (W_TIMER, "timer"))

COMPONENTS = ("mcu", "modem", "gnss", "accel", "mic")
STATES = {
    "mcu": (DEEP, LIGHT, ACTIVE, ALERTING),
    # booting: power key to the AT channel configured; idle: registered and awake; sleep: UART sleep
    # (AT+CSCLK=1, DTR high); psm: power saving mode granted by the network; sending: an alert's SMS
    "modem": ("off", "booting", "idle", "sleep", "psm", "sending"),
    "gnss": ("off", "on"),
    # LIS3DH: lpNN = low-power 8-bit at NN Hz, nNN = normal 10-bit at NN Hz
    "accel": ("off", "lp25", "lp50", "n25", "n50"),
    # INMP441: off = power-down (CHIPEN low), standby = clock stopped with CHIPEN high, on = clocked
    "mic": ("off", "standby", "on"),
}

DEFAULTS = {
    "low_power": True,  # master switch (issue 22: on as shipped); false: the MCU never sleeps (before issue 8)
    "debug": False,  # USB/debug mode: never sleeps, the REPL stays reachable (also when VBUS is sensed)
    "fall_detection": True,  # accelerometer INT1 is a wake source; motion keeps the MCU in light sleep
    "still_s": 30,  # no motion this long: the fall detector rests, deep sleep is allowed
    "boot_awake_s": 120,  # after a reset that is not a deep-sleep wake: awake for the technician
    "min_deep_s": 60,  # a shorter sleep is a light sleep: a deep sleep costs a whole boot
    # a timer wake at least this often: the battery is read at every wake (a low-battery warning is
    # confirmed over three readings), and the accounting saved. Issue 22: 15 min (was 6 h)
    "max_deep_s": 900,
    # with fall detection: deep sleep while still, woken by the LIS3DH activity interrupt. A fall that
    # starts then is seen only through the FIFO's last 0.64 s after the boot (docs/power.md: falls
    # lost against the boot time). False: light sleep only, every fall seen as when awake
    "fall_deep_sleep": True,
    # what wakes the MCU for the fall detector (issue 22): "fifo", every FIFO watermark while she moves
    # (light sleep) and the activity interrupt while still; "impact", the LIS3DH's own impact interrupt
    # only, moving or still (deep sleep while she moves too; the falls it loses to the boot:
    # docs/fall-detection.md, *The impact wake*)
    "fall_wake": "fifo",
}
FALL_WAKES = ("fifo", "impact")
_INT_KEYS = ("still_s", "boot_awake_s", "min_deep_s", "max_deep_s")


def config(cfg=None):
    """The policy settings: DEFAULTS overridden by cfg (the "power" section of the settings).
    ValueError on a bad value: a typo must not silently leave the device asleep or awake."""
    c = dict(DEFAULTS)
    if cfg:
        for k in cfg:
            if k in DEFAULTS and cfg[k] is not None:
                c[k] = cfg[k]
    for k in ("low_power", "debug", "fall_detection", "fall_deep_sleep"):
        if not isinstance(c[k], bool):
            raise ValueError("power.%s must be true or false" % k)
    if c["fall_wake"] not in FALL_WAKES:
        raise ValueError("power.fall_wake must be \"fifo\" or \"impact\"")
    for k in _INT_KEYS:
        v = c[k]
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 86400:
            raise ValueError("power.%s must be an integer within 0..86400 s" % k)
    if c["max_deep_s"] < 1:
        raise ValueError("power.max_deep_s must be at least 1 s")
    return c


def wake_names(mask):
    return [n for bit, n in WAKE_NAMES if mask & bit]


class PowerPolicy:
    """Decides the MCU state. caps_deep / caps_light: the wake sources the board can arm in deep /
    light sleep. Safety rules: the MCU never sleeps unless the button can wake it, and never sleeps
    deeper than the accelerometer can follow while fall detection is on."""

    def __init__(self, cfg=None, caps_deep=W_BUTTON | W_ACCEL | W_TIMER, caps_light=W_ALL):
        self.cfg = config(cfg)
        self.caps_deep = caps_deep
        self.caps_light = caps_light
        self._awake_until = None  # ticks: stay awake until then (gesture window, boot, console)
        self._awake_why = None
        self._motion_t = None  # ticks of the last motion the accelerometer reported
        self._walk_t = None  # ticks of the last sustained motion (walking: the wearer moved away)
        self._fix_t = None  # ticks of the last GNSS fix or refresh attempt

    # ---- inputs -----------------------------------------------------------------------------------
    def hold_awake(self, now, ms, why):
        """Stay awake at least until now + ms (a press: the rest of the gesture window; a boot: the
        technician's window; a console line)."""
        until = ticks_add(now, ms)
        if self._awake_until is None or ticks_diff(until, self._awake_until) > 0:
            self._awake_until = until
            self._awake_why = why

    def motion(self, now):
        """The accelerometer saw motion (INT1, or the fall detector is still analysing)."""
        self._motion_t = now

    def walked(self, now):
        """Sustained motion (walking, transport): the position may have changed."""
        self._motion_t = now
        self._walk_t = now

    def moved(self, now):
        """The accelerometer's motion watch (LIS3DH generator 2, firmware/location/motion_watch.py)
        fired while the MCU slept: she moved, the last fix may be somewhere else now."""
        self._walk_t = now

    def watch_in_ms(self, now, age_ms):
        """When the motion watch must be armed (issue 22): None for never (no refresh age, no fix or
        attempt yet, or she moved since the last one: a refresh is due anyway), 0 for now (the last
        fix or attempt is older than age_ms), else the ms until it is (a timer wake to arm it). A
        still wearer is never woken by the watch; a moving one at most once per age_ms."""
        self._fix_t = fresh(now, self._fix_t)
        self._walk_t = fresh(now, self._walk_t)
        if not age_ms or self._fix_t is None or self.refresh_useful():
            return None
        return max(0, age_ms - ticks_diff(now, self._fix_t))

    def gnss_fix(self, now):
        """A fix arrived, or a refresh attempt started (indoors it may never give one: trying again
        before she moved would give nothing more)."""
        self._fix_t = now

    def refresh_useful(self):
        """A standby GNSS refresh is worth its cost only if the wearer moved (the motion watch) or
        walked since the last fix or attempt (or there was none): sitting or sleeping, the last fix is
        still where she is."""
        if self._fix_t is None:
            return True
        return self._walk_t is not None and ticks_diff(self._walk_t, self._fix_t) > 0

    def _forget_stale(self, now):
        # "long ago" becomes None before ticks_diff could read it as recent (firmware.core.uptime)
        self._motion_t = fresh(now, self._motion_t)
        self._walk_t = fresh(now, self._walk_t)
        self._fix_t = fresh(now, self._fix_t)

    def carry(self, now):
        """The policy's time stamps as ages in ms, to keep them across a deep sleep (ticks restart)."""
        self._forget_stale(now)
        d = {}
        for k, t in (("m", self._motion_t), ("w", self._walk_t), ("f", self._fix_t)):
            if t is not None:
                d[k] = ticks_diff(now, t)
        return d

    def resume(self, d, now, gap_ms):
        """Stamps from carry() after gap_ms (sleep + boot) have passed; now is on the new clock."""
        for k, attr in (("m", "_motion_t"), ("w", "_walk_t"), ("f", "_fix_t")):
            if d and k in d:
                age = int(d[k]) + gap_ms  # a sleep of days: older than STALE_MS is "long ago"
                setattr(self, attr, ticks_add(now, -age) if 0 <= age < STALE_MS else None)

    def moving(self, now):
        self._motion_t = fresh(now, self._motion_t)
        if self._motion_t is None or not self.cfg["fall_detection"]:
            return False
        return ticks_diff(now, self._motion_t) < self.cfg["still_s"] * 1000

    # ---- decision ---------------------------------------------------------------------------------
    def decide(self, now, alert=False, busy=None, usb=False, next_timer_ms=None, doze=None):
        """(state, sleep_ms, wake_mask, reason).

        alert: an alert is not idle. busy: None, or why the MCU must stay awake (modem bring-up, an AT
        command in flight, the microphone on...). doze: None, or why the MCU may only light-sleep
        until next_timer_ms (GNSS on between two polls, the modem awake until its idle timer): the
        work resumes at the timer, a deep sleep would cost a boot for nothing. usb: VBUS sensed.
        next_timer_ms: ms until the next timed job (GNSS poll or refresh, status check), None for
        none. For ACTIVE, sleep_ms is how long the reason is known to last (0: unknown, ask again
        after the next event)."""
        c = self.cfg
        self._forget_stale(now)
        if alert:
            return (ALERTING, 0, 0, "alert")
        if c["debug"] or usb:
            return (ACTIVE, 0, 0, "usb" if usb else "debug")
        if not c["low_power"]:
            return (ACTIVE, 0, 0, "disabled")
        if not self.caps_light & W_BUTTON:
            return (ACTIVE, 0, 0, "no_button_wake")  # a sleep the button cannot end: never
        if busy:
            return (ACTIVE, 0, 0, busy)
        if self._awake_until is not None:
            left = ticks_diff(self._awake_until, now)
            if left > 0:
                return (ACTIVE, left, 0, self._awake_why)
            self._awake_until = None
        t = c["max_deep_s"] * 1000
        if next_timer_ms is not None and next_timer_ms < t:
            t = max(0, next_timer_ms)
        if t == 0:
            return (ACTIVE, 0, 0, "timer")
        light = self.caps_light & W_ALL
        fall = c["fall_detection"]
        if fall and not light & W_ACCEL:
            return (ACTIVE, 0, 0, "no_accel_wake")  # the detector needs its samples: stay awake
        if self.moving(now) and c["fall_wake"] != "impact":
            # the fall detector runs on every FIFO watermark (INT1): light sleep between them, and a
            # timer wake when the still window ends
            left = c["still_s"] * 1000 - ticks_diff(now, self._motion_t)
            return (LIGHT, min(t, left), light, "motion")
        deep = self.caps_deep & W_ALL
        if doze:
            return (LIGHT, t, light, doze)
        if fall and not c["fall_deep_sleep"]:
            return (LIGHT, t, light, "fall_light")
        if t < c["min_deep_s"] * 1000 or not deep & W_BUTTON or (fall and not deep & W_ACCEL):
            return (LIGHT, t, light, "short" if t < c["min_deep_s"] * 1000 else "light_only")
        return (DEEP, t, deep if fall else deep & ~W_ACCEL, "idle")


# ---- accounting -------------------------------------------------------------------------------------

_MAGIC = b"PWA1"


class Accounting:
    """Milliseconds per (component, state), kept exactly: every change folds the elapsed time into
    the state being left. `now` values are ticks; fold at least every few days (ticks_diff range)."""

    def __init__(self, now, states=None):
        self.ms = {}
        self.cur = {}
        self.since = {}
        for comp in COMPONENTS:
            self.ms[comp] = {}
            self.cur[comp] = STATES[comp][0] if comp != "mcu" else ACTIVE
            self.since[comp] = now
        self.counts = {}
        self.on_change = None  # fn(comp, state, t): the energy tool's timeline; None on the device
        self.saved_mcu = None  # after load(): the MCU state the dump was taken in
        if states:
            for comp in states:
                self.set(comp, states[comp], now)

    def set(self, comp, state, now):
        """comp enters state at now (a state equal to the current one only folds)."""
        table = STATES.get(comp)
        if table is None:
            raise ValueError("unknown component %r" % (comp,))
        if state not in table:
            raise ValueError("unknown %s state %r" % (comp, state))
        self._fold(comp, now)
        if state != self.cur[comp]:
            self.cur[comp] = state
            if self.on_change is not None:
                self.on_change(comp, state, now)

    def state(self, comp):
        return self.cur[comp]

    def count(self, name, n=1):
        self.counts[name] = self.counts.get(name, 0) + n

    def _fold(self, comp, now):
        d = ticks_diff(now, self.since[comp])
        if d > 0:
            st = self.cur[comp]
            t = self.ms[comp]
            t[st] = t.get(st, 0) + d
        self.since[comp] = now

    def fold(self, now):
        for comp in COMPONENTS:
            self._fold(comp, now)

    def add(self, comp, state, ms):
        """Credit time that passed without a running clock (a deep sleep, a boot)."""
        if ms > 0:
            t = self.ms[comp]
            t[state] = t.get(state, 0) + ms

    def totals(self, now):
        self.fold(now)
        out = {}
        for comp in COMPONENTS:
            out[comp] = dict(self.ms[comp])
        return out

    def elapsed_ms(self, now):
        self.fold(now)
        return sum(self.ms["mcu"].values())

    def report(self, now):
        """What the console shows: seconds per state, the share of time per state, current states
        and the counters (wakes per source, boots, deep sleeps, modem boots, SMS)."""
        tot = self.totals(now)
        el = sum(tot["mcu"].values())
        s, pct = {}, {}
        for comp in COMPONENTS:
            s[comp] = {}
            pct[comp] = {}
            for st in tot[comp]:
                s[comp][st] = tot[comp][st] // 1000
                pct[comp][st] = round(100.0 * tot[comp][st] / el, 3) if el else 0.0
        return {"elapsed_s": el // 1000, "s": s, "pct": pct, "now": dict(self.cur),
                "counts": dict(self.counts)}

    # ---- persistence ------------------------------------------------------------------------------
    def dump(self, now, extra=None):
        """Bytes for RTC memory / flash: magic, JSON, CRC32. extra: small dict kept alongside (the
        requested sleep, the wall clock at sleep) and returned by load()."""
        from firmware.settings.config_store import crc
        self.fold(now)
        body = json.dumps({"ms": self.ms, "cur": self.cur, "n": self.counts, "x": extra or {}}).encode()
        return _MAGIC + body + struct.pack("<I", crc(body))

    @classmethod
    def load(cls, data, now, slept_ms=0, boot_ms=0):
        """(accounting, extra) from dump() bytes, or (None, None) if they are missing or damaged.
        slept_ms: the time asleep since the dump, credited to every component's saved state (the
        MCU's is "deep" when the dump preceded a deep sleep); boot_ms: the boot before the clock
        started, credited to the MCU as active and to the others' saved states. The MCU is active
        from now on."""
        from firmware.settings.config_store import crc
        if not data or len(data) < 9 or bytes(data[:4]) != _MAGIC:
            return None, None
        body = bytes(data[4:-4])
        if crc(body) != struct.unpack("<I", bytes(data[-4:]))[0]:
            return None, None
        try:
            d = json.loads(body)
            acc = cls(now)
            for comp in COMPONENTS:
                st = d["cur"][comp]
                if st not in STATES[comp]:
                    return None, None
                acc.cur[comp] = st
                acc.ms[comp] = dict(d["ms"][comp])
            acc.counts = dict(d.get("n") or {})
            extra = d.get("x") or {}
        except (ValueError, KeyError, TypeError):
            return None, None
        for comp in COMPONENTS:
            st = acc.cur[comp]
            acc.add(comp, st, slept_ms)
            acc.add(comp, ACTIVE if comp == "mcu" else st, boot_ms)
        acc.saved_mcu = acc.cur["mcu"]  # DEEP when the dump preceded a deep sleep
        acc.cur["mcu"] = ACTIVE
        return acc, extra


# ---- the console's view ---------------------------------------------------------------------------

_installed = None  # (accounting, clock) set by the power task


def install(acc, clock, status=None):
    """Make `acc` the one report() shows; status: fn() -> dict merged in (policy, last decision)."""
    global _installed
    _installed = (acc, clock, status)


def report():
    """The accounting as a dict for the console (`AB1 power`), {"enabled": False} without one."""
    if _installed is None:
        return {"enabled": False}
    acc, clock, status = _installed
    r = acc.report(clock())
    r["enabled"] = True
    if status is not None:
        r.update(status())
    return r
