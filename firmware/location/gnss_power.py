# When the GNSS receiver should be powered. Pure policy: no I/O, no clock reads; `now` is a
# time.ticks_ms() value and all arithmetic goes through ticks_diff/ticks_add.
#
#  - idle: off, except a standby refresh of the last-known fix at a battery-aware interval
#    (gnss_refresh: [[min_battery_pct, interval_s], ...], interval 0 = no refresh at that level).
#    A refresh keeps the position in the first SMS young and the receiver's ephemeris valid (a few
#    hours), so powering on at an alert is a hot start. A refresh ends at the first fix or after
#    gnss_refresh_timeout_s (indoors); the next one is counted from the start of this one, so a
#    receiver that never gets a fix costs one timeout per interval, not more.
#  - low power (issue 22): the power task lets a standby refresh start only once the last one is older
#    than the refresh age and the accelerometer says she moved (firmware/location/motion_watch.py).
#    watch_age_s() is that age: the interval, doubled after each refresh that timed out in a row (an
#    indoor wearer who moves about gets 30 min, 1 h, 2 h, 4 h, then every 4 h), back to the interval
#    at the first fix.
#  - boot: the first refresh starts at once, with the longer gnss_boot_timeout_s.
#  - alert: on immediately when the alert starts (hot start), and kept on while the alert is active
#    and a follow-up still needs a position (FollowupPolicy.needs_fix()); off when neither holds.
#  - selftest: on for a bounded time while the technician's self-test looks for GNSS data.
#  - modems where GNSS and LTE cannot run together (SIM7080: blocks_lte): off while an SMS or any
#    LTE exchange is pending. The SMS always wins.
from time import ticks_add, ticks_diff

from firmware.core.uptime import STALE_MS, fresh

OFF = "off"
ALERT = "alert"
REFRESH = "refresh"
BOOT = "boot"
PAUSED = "paused"  # wanted on, but the LTE side needs the radio (blocks_lte)
SELFTEST = "selftest"
POLL_MS = 2000  # the app polls a receiver that is on this often (the power task sleeps in between)
_MISS_SHIFT_MAX = 3  # watch_age_s(): at most 8 x the interval after refreshes that timed out

DEFAULTS = {
    "gnss_refresh": [[50, 1800], [20, 7200], [0, 0]],  # >= 50 %: every 30 min; >= 20 %: 2 h; else never
    "gnss_refresh_timeout_s": 120,
    "gnss_boot_timeout_s": 300,
    "gnss_alert_min_on_s": 120,  # on at least this long after an alert starts, even if nothing needs a fix
}


def _cfg(cfg):
    c = dict(DEFAULTS)
    if cfg:
        for k in DEFAULTS:
            if k in cfg and cfg[k] is not None:
                c[k] = cfg[k]
    table = []
    try:
        for pct, s in c["gnss_refresh"]:
            if not (0 <= pct <= 100 and (s == 0 or 60 <= s <= 86400)):
                raise ValueError
            table.append((pct, int(s)))
    except (TypeError, ValueError):
        raise ValueError("gnss_refresh: [[min_pct 0..100, interval_s 0 or 60..86400], ...]")
    table.sort(key=lambda e: -e[0])
    c["gnss_refresh"] = table
    for k in ("gnss_refresh_timeout_s", "gnss_boot_timeout_s", "gnss_alert_min_on_s"):
        if not isinstance(c[k], (int, float)) or not 0 <= c[k] <= 86400:
            raise ValueError("%s must be within 0..86400 s" % k)
    return c


class GnssPower:
    def __init__(self, cfg=None, blocks_lte=False, now=None):
        self.cfg = _cfg(cfg)
        self.blocks_lte = blocks_lte
        self.pct = None
        self.alert_active = False
        self.need_fix = False
        self.lte_busy = False
        self._alert_t0 = 0
        self._refresh_t0 = now  # start of the running refresh, or None
        self._refresh_timeout_ms = int(self.cfg["gnss_boot_timeout_s"] * 1000)
        self._last_refresh = None  # start of the last refresh attempt
        self._boot = now is not None  # a boot refresh is running from `now`
        self.mode = BOOT if self._boot else OFF
        self.standby_ok = True  # the power task's gate: a standby refresh is worth starting now
        self._test_until = None  # end of a self-test's hold, None without one
        self.misses = 0  # standby refreshes in a row that timed out without a fix

    # ---- inputs -----------------------------------------------------------------------------------
    def battery(self, pct):
        self.pct = pct

    def alert(self, now, active, need_fix=True):
        """The alert starts (active=True: hot start now) or ends."""
        if active and not self.alert_active:
            self._alert_t0 = now
        elif not active and self.alert_active:
            # the alert kept the receiver on: that was a refresh, the standby schedule restarts here
            self._refresh_t0 = None
            self._last_refresh = now
            self._boot = False
        self.alert_active = bool(active)
        self.need_fix = bool(need_fix) if active else False

    def set_need_fix(self, need):
        """FollowupPolicy.needs_fix(), refreshed by the caller whenever it may have changed."""
        self.need_fix = bool(need)

    def set_lte_busy(self, busy):
        """An SMS or another LTE exchange is pending (only matters when blocks_lte)."""
        self.lte_busy = bool(busy)

    def carry(self, now):
        """The last refresh's start as an age, to keep the schedule across a deep sleep."""
        self._last_refresh = fresh(now, self._last_refresh)
        d = {} if self._last_refresh is None else {"r": ticks_diff(now, self._last_refresh)}
        if self.misses:
            d["m"] = self.misses
        return d

    def resume(self, d, now, gap_ms):
        """After a deep-sleep wake (construct with now=None: no boot refresh): the schedule goes on
        from carry()'s stamp, gap_ms (sleep + boot) later."""
        if d and "m" in d:
            self.misses = min(int(d["m"]), _MISS_SHIFT_MAX)
        if d and "r" in d:
            age = int(d["r"]) + gap_ms  # asleep for days: "long ago", a refresh is due
            self._last_refresh = ticks_add(now, -age) if 0 <= age < STALE_MS else None

    def selftest(self, now, ms):
        """Keep the receiver on for ms from now (the self-test looks for data); ms=0 ends it."""
        self._test_until = ticks_add(now, ms) if ms > 0 else None

    def _test_wants(self, now):
        if self._test_until is None:
            return False
        if ticks_diff(self._test_until, now) > 0:
            return True
        self._test_until = None
        return False

    def on_fix(self, now):
        """A fix arrived: a running refresh is complete."""
        if self._refresh_t0 is not None:
            self._end_refresh()
        self.misses = 0

    # ---- decision ---------------------------------------------------------------------------------
    def refresh_interval_s(self):
        """Standby refresh interval for the current battery level (0: no refresh). Unknown battery
        counts as 50 %."""
        pct = 50 if self.pct is None else self.pct
        for lo, s in self.cfg["gnss_refresh"]:
            if pct >= lo:
                return s
        return 0

    def watch_age_s(self):
        """The age after which a move makes a standby refresh worth it (low power): the interval for
        this battery level, doubled per refresh in a row that timed out (at most 8 x); 0: none."""
        return self.refresh_interval_s() << self.misses

    def _end_refresh(self):
        self._last_refresh = self._refresh_t0
        self._refresh_t0 = None
        self._boot = False

    def _alert_wants(self, now):
        if not self.alert_active:
            return False
        if self.need_fix:
            return True
        return ticks_diff(now, self._alert_t0) < int(self.cfg["gnss_alert_min_on_s"] * 1000)

    def _refresh_wants(self, now):
        if self._refresh_t0 is not None:
            if ticks_diff(now, self._refresh_t0) < self._refresh_timeout_ms:
                return True
            self._end_refresh()  # timed out (indoors): give up until the next interval
            self.misses = min(self.misses + 1, _MISS_SHIFT_MAX)
        iv = self.refresh_interval_s()
        if iv == 0 or not self.standby_ok:
            return False
        if self._last_refresh is not None and ticks_diff(now, self._last_refresh) < iv * 1000:
            return False
        self._refresh_t0 = now
        self._refresh_timeout_ms = int(self.cfg["gnss_refresh_timeout_s"] * 1000)
        return True

    def want_on(self, now):
        """Should the receiver be on now? Sets .mode to the reason."""
        self._last_refresh = fresh(now, self._last_refresh)  # days without a refresh: one is due
        if self._alert_wants(now):
            mode = ALERT
        elif not self.alert_active and self._refresh_wants(now):
            mode = BOOT if self._boot else REFRESH
        elif self._test_wants(now):
            mode = SELFTEST
        else:
            mode = OFF
        if mode != OFF and self.blocks_lte and self.lte_busy:
            mode = PAUSED
        self.mode = mode
        return mode not in (OFF, PAUSED)

    def next_check_ms(self, now):
        """ms after which want_on() may change by itself (inputs aside), or None."""
        self._last_refresh = fresh(now, self._last_refresh)
        waits = []
        if self.alert_active and not self.need_fix:
            left = int(self.cfg["gnss_alert_min_on_s"] * 1000) - ticks_diff(now, self._alert_t0)
            if left > 0:
                waits.append(left)
        if not self.alert_active:
            if self._refresh_t0 is not None:
                waits.append(max(0, self._refresh_timeout_ms - ticks_diff(now, self._refresh_t0)))
            elif self.standby_ok:
                iv = self.refresh_interval_s()
                if iv:
                    if self._last_refresh is None:
                        waits.append(0)
                    else:
                        waits.append(max(0, iv * 1000 - ticks_diff(now, self._last_refresh)))
        if self._test_until is not None:
            waits.append(max(0, ticks_diff(self._test_until, now)))
        return min(waits) if waits else None
