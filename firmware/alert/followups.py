# Position follow-ups during an alert: which contact must get an update SMS, and when. Pure policy:
# no I/O, no clock reads. Every method takes `now` (a time.ticks_ms() value) and all arithmetic goes
# through ticks_diff/ticks_add, so it survives the ticks wraparound.
#
# Rules (issue 3, "position policy"), every number configurable (DEFAULTS):
#  - 'fix': the first SMS never waits. A contact whose first SMS went without a fresh fix
#    (older than followup_fresh_s, or none) gets exactly ONE follow-up as soon as a fix no older than
#    followup_fresh_s with accuracy <= followup_acc_m is known. Sent even if the contact already
#    acknowledged (followup_fix_after_ack): someone acting on the alert needs the precise position most.
#  - 'periodic': every update_first_s during the first update_first_window_s, then every
#    update_moving_s while moving and update_still_s while still (accelerometer), until the contact
#    acknowledges, the alert ends, or the battery falls to battery_floor_pct (resumes at
#    battery_resume_pct: a charger plugged in). Before any motion report the wearer counts as moving
#    (the shorter interval): not knowing is no reason to say less.
#  - acknowledgements (docs/two-way-sms.md): one with the contacts' PIN stops that contact's periodic
#    updates; one without it (an "OK" anyone can forge from a known number) stops them only while at
#    least one other contact still gets them. Once every contact has acknowledged and at least one
#    did so without the PIN, those contacts get updates again at update_still_s: five forged "OK"
#    can slow the follow-ups, never silence them. An acknowledgement never touches another contact.
#  - one SMS per contact at a time: a 'fix' and a 'periodic' falling due together make one 'fix' SMS
#    (it carries the newest position anyway) and the periodic slot counts as served.
# The schedule is a grid counted from start(); a late caller gets one update, not a burst of missed
# ones, and the grid restarts from that moment. The caller must call due() at least every few days
# (ticks_diff covers 2**29 ms, ~6 days); next_deadline() tells it when.
from micropython import const
from time import ticks_add, ticks_diff

FIX = "fix"
PERIODIC = "periodic"
DURESS = "duress"  # the wearer made the duress gesture: everyone is told at once

DEFAULTS = {
    "followup_fresh_s": 60,  # a fix at most this old counts as fresh
    "followup_acc_m": 50,  # and at most this inaccurate counts as good
    "followup_fix_after_ack": True,
    "update_first_s": 120,  # periodic interval in the first window
    "update_first_window_s": 600,
    "update_moving_s": 600,
    "update_still_s": 1800,
    "battery_floor_pct": 10,  # periodic updates stop at or below this
    "battery_resume_pct": 15,  # and resume at or above this
}

_MAX_CONTACTS = const(16)


def _cfg(cfg):
    c = dict(DEFAULTS)
    if cfg:
        for k in DEFAULTS:
            if k in cfg and cfg[k] is not None:
                c[k] = cfg[k]
    for k in ("followup_fresh_s", "followup_acc_m", "update_first_window_s", "battery_floor_pct",
              "battery_resume_pct"):
        if not isinstance(c[k], (int, float)) or c[k] < 0:
            raise ValueError("%s must be a number >= 0" % k)
    for k in ("update_first_s", "update_moving_s", "update_still_s"):
        # under 10 s would flood the contacts; above 2**28 ms ticks_diff could not tell past from future
        if not isinstance(c[k], (int, float)) or not 10 <= c[k] <= 86400:
            raise ValueError("%s must be within 10..86400 s" % k)
    if c["battery_resume_pct"] < c["battery_floor_pct"]:
        raise ValueError("battery_resume_pct must be >= battery_floor_pct")
    return c


class FollowupPolicy:
    def __init__(self, cfg=None):
        c = _cfg(cfg)
        self.cfg = c
        self._fresh_s = c["followup_fresh_s"]
        self._acc_m = c["followup_acc_m"]
        self._first_ms = int(c["update_first_s"] * 1000)
        self._window_ms = int(c["update_first_window_s"] * 1000)
        self._moving_ms = int(c["update_moving_s"] * 1000)
        self._still_ms = int(c["update_still_s"] * 1000)
        self.active = False
        self.n = 0
        self._acked = bytearray(_MAX_CONTACTS)
        self._need_fix = bytearray(_MAX_CONTACTS)  # 1: the 'fix' follow-up is still owed
        self._duress = bytearray(_MAX_CONTACTS)  # 1: the 'duress' follow-up is owed (sent at once)
        self._fix_ready = False  # a good fix is known since start(): owed 'fix' follow-ups are due
        self._t0 = 0  # ticks of start()
        self._in_window = True  # latched off once the first window is over (no ticks_diff to t0 later)
        self._last = 0  # ticks of the last periodic slot (or of start)
        self.moving = True
        self.battery_low = False

    # ---- inputs -----------------------------------------------------------------------------------
    def fresh(self, age_s):
        """The same freshness test the policy uses: the alert manager decides first_fix_fresh with it."""
        return age_s is not None and 0 <= age_s <= self._fresh_s

    def start(self, now, first_fix_fresh, contacts):
        """An alert starts; its first SMS goes out now. first_fix_fresh: that SMS carries a fix no older
        than followup_fresh_s (pass a list of bools for one value per contact)."""
        if not 0 <= contacts <= _MAX_CONTACTS:
            raise ValueError("contacts must be within 0..%d" % _MAX_CONTACTS)
        self.active = True
        self.n = contacts
        self._fix_ready = False
        self._t0 = now
        self._in_window = True
        self._last = now
        per_contact = isinstance(first_fix_fresh, (list, tuple))
        if per_contact and len(first_fix_fresh) != contacts:
            raise ValueError("first_fix_fresh: one value per contact")
        for i in range(_MAX_CONTACTS):
            self._acked[i] = 0
            self._duress[i] = 0
            if i >= contacts:
                self._need_fix[i] = 0
            else:
                self._need_fix[i] = 0 if (first_fix_fresh[i] if per_contact else first_fix_fresh) else 1

    def stop(self):
        """The alert ended: nothing is due any more."""
        self.active = False

    # ---- across a reset ---------------------------------------------------------------------------
    def export(self, now):
        """The schedule as plain JSON values, times relative to now (ticks do not survive a reset)."""
        n = self.n
        return {"n": n, "ack": list(self._acked[:n]), "need": list(self._need_fix[:n]),
                "dur": list(self._duress[:n]),
                "ready": self._fix_ready, "win": self._in_window, "t0": ticks_diff(now, self._t0),
                "last": ticks_diff(now, self._last), "moving": self.moving, "blow": self.battery_low}

    def restore(self, d, now):
        """Resume a schedule export()ed before a reset; the time the board was off is not counted (the
        next update comes at most that much later). ValueError if d is not one."""
        try:
            n = d["n"]
            ack, need = d["ack"], d["need"]
            if not (isinstance(n, int) and 0 <= n <= _MAX_CONTACTS and len(ack) == n == len(need)):
                raise ValueError
            t0, last = int(d["t0"]), int(d["last"])
            if t0 < 0 or last < 0 or last > t0 + self._first_ms:
                raise ValueError
            self.start(ticks_add(now, -t0), False, n)
            for i in range(n):
                self._acked[i] = min(2, max(0, int(ack[i])))
                self._need_fix[i] = 1 if need[i] else 0
                self._duress[i] = 1 if i < len(d.get("dur") or ()) and d["dur"][i] else 0
            self._fix_ready = bool(d["ready"])
            self._in_window = bool(d["win"])
            self._last = ticks_add(now, -last)
            self.moving = bool(d["moving"])
            self.battery_low = bool(d["blow"])
        except (KeyError, TypeError, ValueError, IndexError):
            raise ValueError("not a follow-up schedule")

    def on_fix(self, now, fix_age_s, acc_m):
        """A position became known (GNSS poll or external receiver)."""
        if not self.active or fix_age_s is None or acc_m is None:
            return
        if self.fresh(fix_age_s) and 0 <= acc_m <= self._acc_m:
            self._fix_ready = True

    def duress(self):
        """The wearer made the duress gesture: every contact gets a follow-up at once (saying "sous
        contrainte"), acknowledged or not; it serves as their 'fix' follow-up too if one was owed."""
        for i in range(self.n):
            self._duress[i] = 1

    def on_motion(self, moving):
        self.moving = bool(moving)

    def ack(self, contact, confirmed=False):
        """The contact acknowledged (two-way SMS), with the contacts' PIN if confirmed."""
        self._check(contact)
        v = 2 if confirmed else 1
        if self._acked[contact] < v:
            self._acked[contact] = v

    def _all_acked(self):
        for i in range(self.n):
            if not self._acked[i]:
                return False
        return self.n > 0

    def battery(self, pct):
        if pct is None:
            return
        if pct <= self.cfg["battery_floor_pct"]:
            self.battery_low = True
        elif pct >= self.cfg["battery_resume_pct"]:
            self.battery_low = False

    def _check(self, contact):
        if not 0 <= contact < self.n:
            raise ValueError("no contact %r" % (contact,))

    # ---- schedule ---------------------------------------------------------------------------------
    def _interval_ms(self):
        # the short interval while its next slot still falls within the first window (from start);
        # a long alert outlives the ticks period, hence the latch instead of comparing with t0 forever
        if self._all_acked():
            return self._still_ms  # only contacts who acknowledged without the PIN still get them
        if self._in_window:
            if ticks_diff(ticks_add(self._last, self._first_ms), self._t0) <= self._window_ms:
                return self._first_ms
            self._in_window = False
        return self._moving_ms if self.moving else self._still_ms

    def _periodic_wanted(self, i):
        if self.battery_low:
            return False
        a = self._acked[i]
        return a == 0 or (a == 1 and self._all_acked())

    def _any_periodic(self):
        for i in range(self.n):
            if self._periodic_wanted(i):
                return True
        return False

    def _fix_owed(self, i):
        return self._need_fix[i] and (self.cfg["followup_fix_after_ack"] or not self._acked[i])

    def next_periodic(self):
        """ticks of the next periodic slot, or None when no contact wants one."""
        if not self.active or not self._any_periodic():
            return None
        return ticks_add(self._last, self._interval_ms())

    def due(self, now):
        """[(contact_index, 'fix' | 'periodic')] that must get a follow-up SMS now. Each item is returned
        once: the caller owns delivery and retries (its outbox)."""
        out = []
        if not self.active:
            return out
        nxt = self.next_periodic()
        periodic = nxt is not None and ticks_diff(now, nxt) >= 0
        if periodic:
            late = ticks_diff(now, nxt) >= self._interval_ms()
            self._last = now if late else nxt  # late caller: restart the grid, never a burst
        for i in range(self.n):
            if self._duress[i]:
                self._duress[i] = 0
                if self._fix_ready:
                    self._need_fix[i] = 0
                out.append((i, DURESS))
            elif self._fix_ready and self._fix_owed(i):
                self._need_fix[i] = 0
                out.append((i, FIX))
            elif periodic and self._periodic_wanted(i):
                out.append((i, PERIODIC))
        return out

    def next_deadline(self, now):
        """ticks when due() will next have something (now if it has already), or None: sleep until then
        or until an input (fix, motion, ack, battery) changes."""
        if not self.active:
            return None
        for i in range(self.n):
            if self._duress[i] or (self._fix_ready and self._fix_owed(i)):
                return now
        nxt = self.next_periodic()
        if nxt is None:
            return None
        return now if ticks_diff(nxt, now) <= 0 else nxt

    def sleep_ms(self, now):
        """ms until next_deadline (0 if due), or None."""
        d = self.next_deadline(now)
        return None if d is None else max(0, ticks_diff(d, now))

    def needs_fix(self):
        """True while a follow-up may still need a new position: GNSS should stay on for it."""
        if not self.active:
            return False
        for i in range(self.n):
            if self._need_fix[i] and (self.cfg["followup_fix_after_ack"] or not self._acked[i]):
                return True
        return self._any_periodic()

    def finished(self):
        """Active but nothing left to send to anyone (all acknowledged, no fix owed, or battery floor
        with no fix owed)."""
        return self.active and not self.needs_fix()
