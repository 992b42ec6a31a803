# Technician PIN: stored as a salted SHA-256 in the configuration; MAX_FAILS wrong PINs in a row lock
# the console for LOCKOUT_MS, and the lockout survives reboots.
#
# The RTC may be unset (no GNSS or network time yet), so the lockout is kept as a deadline in
# firmware.core.uptime ms (never ticks: a deadline read days later must not wrap back) plus the
# remaining time written to flash (pinlock.rec) at each failure and then every
# PERSIST_MS while locked. After a reboot the lockout resumes from the last remaining time written:
# a reboot can make it last up to PERSIST_MS longer, never shorter.
import binascii
import hashlib
import os
from firmware.core import uptime
from firmware.settings.config_store import RecordFile

MAX_FAILS = 5
LOCKOUT_MS = 15 * 60 * 1000
PERSIST_MS = 60 * 1000
PIN_MIN = 4
PIN_MAX = 8
PATH = "pinlock.rec"
MAGIC = b"ABpl"


def check_format(pin):
    if not isinstance(pin, str) or not (PIN_MIN <= len(pin) <= PIN_MAX):
        raise ValueError("the PIN has %d to %d digits" % (PIN_MIN, PIN_MAX))
    for ch in pin:
        if ch < "0" or ch > "9":
            raise ValueError("the PIN has only digits")
    return pin


def _digest(salt_hex, pin):
    return binascii.hexlify(hashlib.sha256(salt_hex.encode() + b":" + pin.encode()).digest()).decode()


def make(pin):
    """The stored form of a new PIN: {"salt", "hash"}."""
    check_format(pin)
    salt = binascii.hexlify(os.urandom(8)).decode()
    return {"salt": salt, "hash": _digest(salt, pin)}


def matches(stored, pin):
    if not isinstance(stored, dict) or not isinstance(pin, str):
        return False
    try:
        want = stored["hash"]
        got = _digest(stored["salt"], pin)
    except (KeyError, TypeError, AttributeError):
        return False
    diff = len(want) ^ len(got)
    for i in range(min(len(want), len(got))):  # compare every character: no early exit
        diff |= ord(want[i]) ^ ord(got[i])
    return diff == 0


class LockedOut(Exception):
    def __init__(self, remaining_ms):
        super().__init__(remaining_ms)
        self.remaining_ms = remaining_ms


class PinLock:
    """Counts wrong PINs and enforces the lockout. now() is uptime ms (tests pass their own clock)."""

    def __init__(self, path=PATH, now=uptime.ms):
        self.rec = RecordFile(path, MAGIC)
        self.now = now
        self.fails = 0
        self.until = None
        self.problem = None
        _schema, obj, _src, problems = self.rec.read()
        if obj is None and problems:
            # a damaged lockout record: assume the worst (locked), never "no failure"
            self.problem = "; ".join(problems)
            self.fails = MAX_FAILS
            self.until = now() + LOCKOUT_MS
        elif isinstance(obj, dict):
            f, rem = obj.get("fails", 0), obj.get("remaining_ms", 0)
            self.fails = f if isinstance(f, int) and f >= 0 else MAX_FAILS
            if not isinstance(rem, int) or rem < 0 or rem > LOCKOUT_MS:
                rem = LOCKOUT_MS if self.fails >= MAX_FAILS else 0
            if rem > 0:
                self.until = now() + rem
        self._saved_at = now()

    def remaining_ms(self):
        """ms left in the lockout, 0 when not locked (an expired lockout is cleared here)."""
        if self.until is None:
            return 0
        r = self.until - self.now()
        if r > 0:
            return r
        self.until = None
        self.fails = 0
        self._save()
        return 0

    def tries_left(self):
        return max(0, MAX_FAILS - self.fails)

    def attempt(self, stored, pin):
        """True if pin is the PIN. A wrong PIN counts; LockedOut while locked (nothing is checked)."""
        r = self.remaining_ms()
        if r:
            raise LockedOut(r)
        if matches(stored, pin):
            if self.fails:
                self.fails = 0
                self._save()
            return True
        self.fails += 1
        if self.fails >= MAX_FAILS:
            self.until = self.now() + LOCKOUT_MS
        self._save()
        return False

    def tick(self):
        """Called about once a minute: writes the remaining lockout time so a reboot resumes it."""
        if self.until is not None and self.now() - self._saved_at >= PERSIST_MS:
            if self.remaining_ms():
                self._save()

    def clear(self):
        """Factory reset: no PIN, no count."""
        self.fails = 0
        self.until = None
        self._save()

    def _save(self):
        rem = 0
        if self.until is not None:
            rem = max(0, self.until - self.now())
        try:
            self.rec.write(1, {"fails": self.fails, "remaining_ms": rem})
        except OSError:
            pass  # the lockout still holds in RAM until the next reboot
        self._saved_at = self.now()
