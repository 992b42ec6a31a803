# Optional check-in timer: the wearer says "I'm fine" (a burst of checkin_presses presses, 2 by
# default, at any time outside an alert) at least every checkin_h hours, or an alert goes out.
# checkin_prewarn_min before the deadline she feels CHECKIN_DUE, repeated every checkin_repeat_min
# until she answers or the deadline passes. Pure: every call takes `now`, in ms of firmware.core.uptime
# (never ticks: the interval can be 7 days, beyond ticks_diff's 6.2-day range, issue 17).
#
# During an alert the timer is suspended; after it a full interval starts. The time left is
# persisted at each check-in and then every PERSIST_MS: after a reboot (or a power cut, which
# someone could cause on purpose) the timer goes on from the last saved value, so a reboot delays
# the deadline by at most PERSIST_MS and never restarts a whole interval.
from micropython import const

from firmware.system import storage

PATH = "checkin.json"
PERSIST_MS = const(600000)

NONE = 0
PREWARN = 1  # vibrate CHECKIN_DUE
MISSED = 2  # send the check-in alert

DEFAULTS = {
    "checkin_h": 0,  # 0: no check-in (default)
    "checkin_prewarn_min": 15,
    "checkin_repeat_min": 5,
    "checkin_presses": 2,
}


def _get(cfg, k):
    v = cfg.get(k, DEFAULTS[k])
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else DEFAULTS[k]


class CheckIn:
    def __init__(self, cfg, now, path=PATH, log=None):
        self.interval_ms = min(_get(cfg, "checkin_h"), 168) * 3600000
        secs = cfg.get("checkin_s")  # finer than hours: for tests and the simulator only
        if isinstance(secs, int) and not isinstance(secs, bool) and secs > 0:
            self.interval_ms = min(secs, 168 * 3600) * 1000
        self.prewarn_ms = min(_get(cfg, "checkin_prewarn_min") * 60000, self.interval_ms // 2)
        self.repeat_ms = max(60000, _get(cfg, "checkin_repeat_min") * 60000)
        self.presses = max(2, _get(cfg, "checkin_presses"))
        self.path = path
        self.log = log or (lambda *a, **k: None)
        self.suspended = False
        self._deadline = 0
        self._next_warn = 0
        self._saved = now
        if self.enabled:
            left = self._load()
            self._restart(now, left if left is not None else self.interval_ms)

    @property
    def enabled(self):
        return self.interval_ms > 0

    # --- inputs -------------------------------------------------------------------------------------
    def burst(self, n, now):
        """A press burst ended (firmware.wearer.press_bursts) outside an alert. True if it was a check-in."""
        if not self.enabled or self.suspended or n != self.presses:
            return False
        self._restart(now, self.interval_ms)
        self._save(now)
        return True

    def suspend(self):
        """An alert started: no check-in alert on top of it."""
        self.suspended = True

    def resume(self, now):
        """The alert ended: a full interval from now."""
        self.suspended = False
        if self.enabled:
            self._restart(now, self.interval_ms)
            self._save(now)

    # --- time ---------------------------------------------------------------------------------------
    def poll(self, now):
        """NONE, PREWARN (vibrate now) or MISSED (send the alert; the timer then waits for resume())."""
        if not self.enabled or self.suspended:
            return NONE
        if now - self._deadline >= 0:
            self.suspended = True
            self._save(now)
            return MISSED
        if now - self._saved >= PERSIST_MS:
            self._save(now)
        if now - self._next_warn >= 0:
            self._next_warn = now + self.repeat_ms
            return PREWARN
        return NONE

    def wait_ms(self, now):
        """ms until poll() has something to say, or -1 when disabled or suspended."""
        if not self.enabled or self.suspended:
            return -1
        w = min(self._deadline - now, self._next_warn - now, PERSIST_MS - (now - self._saved))
        return max(0, w)

    def next_ms(self, now):
        """ms until the next pre-warning or the deadline, -1 when disabled or suspended: the power
        task's timer wake (the periodic save is not worth a wake: save() runs before a deep sleep)."""
        if not self.enabled or self.suspended:
            return -1
        return max(0, min(self._deadline - now, self._next_warn - now))

    def save(self, now):
        """Persist the time left now (before a deep sleep, which restarts the uptime clock)."""
        if self.enabled:
            self._save(now)

    def slept(self, now, gap_ms):
        """After a deep-sleep wake: the time left was loaded as saved when the sleep started; the
        sleep and the boot (gap_ms) count toward the deadline, or every sleep would push it back."""
        if self.enabled and not self.suspended and gap_ms > 0:
            self._restart(now, max(0, self._deadline - now - gap_ms))

    def left_ms(self, now):
        return max(0, self._deadline - now) if self.enabled else -1

    # --- internals ----------------------------------------------------------------------------------
    def _restart(self, now, left):
        self._deadline = now + left
        self._next_warn = self._deadline - self.prewarn_ms

    def _load(self):
        d = storage.read_json(self.path) if self.path else None
        try:
            left = int(d["left_ms"])
            return max(0, min(left, self.interval_ms))
        except (TypeError, KeyError, ValueError):
            return None

    def _save(self, now):
        self._saved = now
        if not self.path:
            return
        # suspended (alert running or check-in missed): a reboot starts a full interval, it must not
        # send the check-in alert a second time
        left = self.interval_ms if self.suspended else max(0, self._deadline - now)
        try:
            storage.write_json(self.path, {"left_ms": left})
        except OSError as e:
            self.log("checkin_save_failed", err=repr(e))
