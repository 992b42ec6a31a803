# Wrong contacts' PINs received by SMS, counted per sender (contact slot), with a lockout that
# survives a reboot. Why per sender: sender numbers can be spoofed, and a lockout shared by all
# contacts let anyone who knows one contact's number lock every contact out of STOP and POSITION
# with ten junk guesses. Now a spoofed number locks only the slot it spoofs; the other contacts'
# commands still work, and a lock withholds nothing but STOP/POSITION (the alert and its follow-ups
# go on: failing closed keeps her safe).
#
# sms_pin_fails_max wrong PINs in a row from a slot lock that slot for sms_pin_lock_s, doubling with
# each further lock (capped at 24 h); the right PIN from that slot clears both. A locked slot's
# attempts are not checked and not counted. With the defaults (5, 1 h) five spoofed numbers get 25
# guesses in the first hour, about 175 in the first two days and 25 a day after that.
#
# Persisted in smspin.rec (firmware.settings.config_store.RecordFile: CRC, last good copy) at each
# failure, and every PERSIST_MS while a lock runs (tick()): after a reboot a lock resumes from the
# remaining time last written, so it can last up to PERSIST_MS longer, never shorter. A damaged
# record locks every slot once (the worst case), never "no failure". Times are firmware.core.uptime ms
# handed in by the caller (no clock read here).
from micropython import const

from firmware.settings.config_store import RecordFile

PATH = "smspin.rec"
_MAGIC = b"ABsp"
_SLOTS = const(5)
_LOCK_CAP_MS = 24 * 3600 * 1000
PERSIST_MS = 60 * 1000


class PinGuard:
    def __init__(self, fails_max, lock_s, now, path=PATH, log=None):
        self.fails_max = fails_max
        self.lock_ms = lock_s * 1000
        self.log = log or (lambda *a, **k: None)
        self.fails = [0] * _SLOTS
        self.locks = [0] * _SLOTS  # locks in a row (the next one is twice as long)
        self.until = [None] * _SLOTS  # uptime ms when the slot's lock ends
        self.rec = RecordFile(path, _MAGIC) if path else None
        self._saved_at = now
        if self.rec is not None:
            self._load(now)

    def _load(self, now):
        try:
            _schema, obj, _src, problems = self.rec.read()
        except Exception as e:
            obj, problems = None, [repr(e)]
        if obj is None:
            if problems:  # damaged: assume the worst once
                self.log("sms_pin_record_damaged", problems="; ".join(problems))
                for i in range(_SLOTS):
                    self.fails[i] = self.fails_max
                    self.until[i] = now + self.lock_ms
            return
        slots = obj.get("slots") if isinstance(obj, dict) else None
        if not isinstance(slots, list):
            return
        for i in range(min(_SLOTS, len(slots))):
            s = slots[i]
            if not (isinstance(s, list) and len(s) == 3 and all(isinstance(x, int) and x >= 0 for x in s)):
                continue
            self.fails[i], self.locks[i], rem = s[0], s[1], min(s[2], _LOCK_CAP_MS)
            if rem > 0:
                self.until[i] = now + rem

    def remaining_ms(self, slot, now):
        u = self.until[slot]
        if u is None:
            return 0
        if u - now > 0:
            return u - now
        self.until[slot] = None
        self.fails[slot] = 0
        return 0

    def right(self, slot, now):
        """The right PIN from slot: its count and lock history start over."""
        if self.fails[slot] or self.locks[slot]:
            self.fails[slot] = 0
            self.locks[slot] = 0
            self._save(now)

    def wrong(self, slot, now):
        """A wrong PIN from slot; True if that locked it."""
        self.fails[slot] += 1
        locked = False
        if self.fails[slot] >= self.fails_max:
            self.locks[slot] += 1
            ms = self.lock_ms << min(self.locks[slot] - 1, 16)
            if ms > _LOCK_CAP_MS:
                ms = _LOCK_CAP_MS
            self.until[slot] = now + ms
            self.fails[slot] = 0
            locked = True
            self.log("sms_pin_locked", contact=slot, lock_s=ms // 1000)
        self._save(now)
        return locked

    def tick(self, now):
        """About once a minute: write the remaining lock times so a reboot resumes them."""
        if now - self._saved_at >= PERSIST_MS:
            for i in range(_SLOTS):
                if self.until[i] is not None and self.remaining_ms(i, now):
                    self._save(now)
                    return

    def _save(self, now):
        self._saved_at = now
        if self.rec is None:
            return
        slots = [[self.fails[i], self.locks[i], self.remaining_ms(i, now)] for i in range(_SLOTS)]
        try:
            self.rec.write(1, {"slots": slots})
        except OSError as e:  # flash full: the counts hold in RAM until the next reboot
            self.log("sms_pin_record_unsaved", err=repr(e))
