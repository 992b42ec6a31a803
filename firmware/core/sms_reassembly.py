# Concatenated SMS (23.040 9.2.3.24.1): parts are joined per (sender, reference, reference size,
# part count) in a fixed number of preallocated slots; nothing grows with what the network sends.
# Pure: every call takes `now` (ticks_ms) and all arithmetic goes through ticks_diff.
#
# Parts stay on the SIM until their message is complete (the caller deletes the storage indices
# returned then), so a reboot in the middle loses nothing: the startup sweep reads them again.
# A message still incomplete after timeout_ms is dropped and its parts' indices are returned for
# deletion: the SIM store is small and must not fill up with orphans. A new message that finds every
# slot taken evicts the oldest one (same treatment). Messages of more than max_parts parts are
# refused at once: commands are a few characters, and this bounds the RAM.
#
# Dedupe: a part already held (same message, same part number) is a duplicate; so is a whole message
# identical (sender, SC timestamp, reference, text) to one completed within the last `recent_ms`:
# networks redeliver when their acknowledgement got lost.
from micropython import const
from time import ticks_diff

COMPLETE = const(0)  # (COMPLETE, sms with the whole text, indices to delete)
PENDING = const(1)  # (PENDING, None, ()): keep the part on the SIM
DUPLICATE = const(2)  # (DUPLICATE, None, indices to delete)
REFUSED = const(3)  # (REFUSED, reason, indices to delete)


class _Slot:
    __slots__ = ("used", "meta", "t0", "got", "texts", "idx")

    def __init__(self, max_parts):
        self.used = False
        self.meta = None  # the first Sms received (sender, reference, timestamps)
        self.t0 = 0
        self.got = 0
        self.texts = [None] * max_parts
        self.idx = [-1] * max_parts

    def clear(self):
        self.used = False
        self.meta = None
        self.got = 0
        for k in range(len(self.texts)):
            self.texts[k] = None
            self.idx[k] = -1

    def indices(self):
        return [i for i in self.idx if i >= 0]


class Reassembler:
    def __init__(self, slots=4, max_parts=6, timeout_ms=600000, recent=8, recent_ms=600000):
        if slots < 1 or max_parts < 2 or recent < 1:
            raise ValueError("need at least one slot, two parts and one recent entry")
        self.max_parts = max_parts
        self.timeout_ms = timeout_ms
        self.recent_ms = recent_ms
        self._slots = [_Slot(max_parts) for _ in range(slots)]
        self._recent = [None] * recent  # (key, ticks) of completed messages, a ring
        self._rk = 0
        self._orphans = []  # storage indices of dropped parts, until expire() hands them out
        self.dropped = []  # (sender, parts received, parts expected, why): the caller logs and clears it

    # --- public ------------------------------------------------------------------------------------
    def add(self, sms, index, now):
        """Feed one decoded part (firmware.core.sms_deliver.Sms) stored at `index` (-1: not stored)."""
        here = (index,) if index >= 0 else ()
        if sms.total <= 1:
            return self._complete(sms, here, now)
        if sms.total > self.max_parts:
            return (REFUSED, "too_many_parts", here)
        slot = self._find(sms)
        if slot is None:
            slot = self._take(now)
            slot.used = True
            slot.meta = sms
            slot.t0 = now
        k = sms.seq - 1
        if slot.texts[k] is not None:
            if slot.idx[k] == index:
                return (DUPLICATE, None, ())  # the same stored part read twice (CMTI and sweep)
            return (DUPLICATE, None, here)
        slot.texts[k] = sms.text
        slot.idx[k] = index
        slot.got += 1
        if sms.seq == 1:
            slot.meta = sms  # part 1 carries the reference timestamp people see
        if slot.got < sms.total:
            return (PENDING, None, ())
        meta = slot.meta
        meta.text = "".join(slot.texts[:sms.total])
        meta.seq = 1
        indices = tuple(slot.indices())
        slot.clear()
        return self._complete(meta, indices, now)

    def expire(self, now):
        """Storage indices to delete: parts of messages that timed out now or were evicted since the
        last call (each drop is also recorded in self.dropped for the log). Call after every add()."""
        for s in self._slots:
            if s.used and ticks_diff(now, s.t0) >= self.timeout_ms:
                self._drop(s, "timeout")
        out, self._orphans = self._orphans, []
        return out

    def next_deadline(self, now):
        """ms until the next expiry (0 if one is due), or -1 when nothing is pending."""
        best = -1
        for s in self._slots:
            if s.used:
                left = max(0, self.timeout_ms - ticks_diff(now, s.t0))
                if best < 0 or left < best:
                    best = left
        return best

    def pending(self):
        return sum(1 for s in self._slots if s.used)

    # --- internals ---------------------------------------------------------------------------------
    def _find(self, sms):
        for s in self._slots:
            m = s.meta
            if s.used and m.sender == sms.sender and m.ref == sms.ref and m.ref16 == sms.ref16 \
                    and m.total == sms.total:
                return s
        return None

    def _take(self, now):
        oldest = None
        for s in self._slots:
            if not s.used:
                return s
            if oldest is None or ticks_diff(s.t0, oldest.t0) < 0:
                oldest = s
        self._drop(oldest, "evicted")
        return oldest

    def _drop(self, s, why):
        self._orphans.extend(s.indices())
        if len(self.dropped) >= 8:  # bounded even if nobody reads it
            self.dropped.pop(0)
        self.dropped.append((s.meta.sender, s.got, s.meta.total, why))
        s.clear()

    def _complete(self, sms, indices, now):
        key = (sms.sender, sms.scts, sms.ref, sms.ref16, sms.total, sms.text)
        for e in self._recent:
            if e is not None and e[0] == key and ticks_diff(now, e[1]) < self.recent_ms:
                return (DUPLICATE, None, indices)
        self._recent[self._rk] = (key, now)
        self._rk = (self._rk + 1) % len(self._recent)
        return (COMPLETE, sms, indices)
