# Evidence recorder: microphone -> pre-alert ring (always, while armed) -> on an alert, the ring's last
# `evidence_prealert_s` seconds become chunk 0 of a new recording and the following
# `evidence_record_s` seconds (default 10 min) go to chunks of about `evidence_chunk_s` seconds.
# The microphone callback only encodes into the ring; one task copies ring blocks to flash in small
# slices, so SMS dispatch is never held up by flash writes. Times come from the sample clock: a
# chunk starts (block - trigger block) x 505 / 8000 s after the trigger, whose wall time is the RTC's.
# A new alert during a recording extends it (the chunks after it carry the new alert id).
import asyncio
import time
from time import ticks_ms, ticks_add

from firmware.core import clock
from firmware.evidence.audio_ring import AudioRing, BLOCK_BYTES, BLOCK_SAMPLES, blocks_for
from firmware.evidence.store import Store
from firmware.core.evidence_chunk import (H_PREALERT,
    HEADER_SIZE,
    TRAILER_SIZE,
    T_FLASH_FULL,
    T_GAP,
    T_INTERRUPTED)

_SLICE = 8  # blocks written per step before yielding to other tasks (2 KB)
_IDLE_MS = 250
_SAFETY = 2  # blocks next to the ring's write position never copied (they may be overwritten)
_UNIX_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0  # ESP32 epoch is 2000-01-01


def unix_ms():
    """Wall clock in Unix milliseconds, or None while the RTC has not been set."""
    t = clock.utc_now()
    return None if t is None else (int(t) + _UNIX_OFFSET) * 1000


class Recorder:
    def __init__(self, mic, cfg, log, position, device_id, store=None, rate=8000):
        """mic: drivers.inmp441.Inmp441 (or anything with start(sink)/stop()); position(): the best
        known location.Fix or None."""
        self.mic = mic
        self.log = log
        self.position = position
        self.device_id = device_id
        self.rate = rate
        self.prealert_s = cfg.get("evidence_prealert_s", 30)
        self.record_s = cfg.get("evidence_record_s", 600)
        self.chunk_blocks = max(1, blocks_for(cfg.get("evidence_chunk_s", 10), rate))
        self.ring = AudioRing(self.prealert_s, rate, cfg.get("evidence_headroom_s", 8))
        self.store = store or Store(capacity=cfg.get("evidence_flash_bytes"), log=log)
        # "low space": less than one full recording left
        self.low_bytes = (blocks_for(self.prealert_s + self.record_s, rate) * BLOCK_BYTES
                          + (self.record_s // max(1, cfg.get("evidence_chunk_s", 10)) + 2) * (HEADER_SIZE + TRAILER_SIZE))
        self.store.low_bytes = self.low_bytes
        self.armed = False
        self.rec = None  # evidence.Recording in progress
        self._trigger = None  # (alert id, ring block, ticks, unix ms) noted by the listener
        self._anchor = None  # the recording's (trigger block, ticks, unix ms)
        self._alert = 0
        self._next = 0  # next ring block to copy
        self._stop_block = 0
        self._lost = 0
        self._prealert_end = 0
        self._chunk_end = 0
        self._wake = asyncio.Event()
        self.task = None
        # called as f(rec, alert, index, head_hex, final) after each chunk is closed on flash: the
        # platform link publishes the chain head, so a third party holds it from that moment on
        self.chunk_listeners = []

    # --- control ----------------------------------------------------------------------------------
    def arm(self):
        """Start the microphone into the ring (the power policy decides when)."""
        if not self.armed:
            self.ring.reset()
            self.mic.start(self.ring.push)
            self.armed = True
            self.log("evidence_armed", prealert_s=self.prealert_s)

    def disarm(self):
        if self.armed and self.rec is None:
            self.mic.stop()
            self.armed = False
            self.log("evidence_disarmed")

    def on_alert(self, event, manager):
        """AlertManager listener: note the trigger moment; the task does the work."""
        if event == "triggered":
            self._trigger = (manager.alert_id, self.ring.total, ticks_ms(), unix_ms())
            self._wake.set()

    def start(self):
        for rec in self.store.recover():
            self.log("evidence_closed", rec=rec, interrupted=True)
        self.warn_if_low()
        self.arm()
        self.task = asyncio.create_task(self.run())
        return self.task

    def status(self):
        s = self.store.status()
        s["armed"] = self.armed
        return s

    def warn_if_low(self):
        s = self.store.status()
        if s["low"]:
            self.log("evidence_space_low", free=s["free"], need=self.low_bytes)
        return s["low"]

    # --- the task ---------------------------------------------------------------------------------
    async def run(self):
        while True:
            try:
                await asyncio.wait_for_ms(self._wake.wait(), _IDLE_MS)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                if self._trigger is not None:
                    t = self._trigger
                    self._trigger = None
                    self._begin(t)
                if self.rec is not None:
                    await self._drain()
            except Exception as e:  # never take the device down: log, close, go on
                self.log("evidence_error", err=repr(e))
                self._abort()

    def _begin(self, trig):
        alert, block, ticks, unix = trig
        end = block + blocks_for(self.record_s, self.rate)
        if self.rec is not None:
            self._alert = alert
            self._stop_block = end
            self.log("evidence_extended", rec=self.rec.rec, alert=alert)
            return
        if not self.armed:  # the power policy had the ring off: record from now on, no pre-alert
            self.arm()
            block = 0
            end = blocks_for(self.record_s, self.rate)
        if not self.store.make_room(self._chunk_bytes(self.ring.prealert_blocks)):
            self.log("evidence_flash_full", alert=alert)
            return
        self.rec = self.store.begin(self.device_id, self.rate)
        self._anchor = (block, ticks, unix)
        self._alert = alert
        self._stop_block = end
        first = max(self._safe_oldest(), block - self.ring.prealert_blocks)
        self._lost = 0
        self._next = first
        self.log("evidence_recording", rec=self.rec.rec, alert=alert,
                 prealert_s=round(self.ring.seconds(block - first), 1), record_s=self.record_s)
        self._prealert_end = block
        self._open(first, H_PREALERT)

    def _safe_oldest(self):
        """Oldest ring block not about to be overwritten (the writer may be filling the next slot)."""
        return max(0, self.ring.total - self.ring.capacity + _SAFETY)

    def _chunk_bytes(self, blocks):
        return HEADER_SIZE + blocks * BLOCK_BYTES + TRAILER_SIZE

    def _open(self, block, flags):
        b0, ticks0, unix0 = self._anchor
        off = (block - b0) * BLOCK_SAMPLES * 1000 // self.rate
        fix = self.position()
        self.rec.open_chunk(self._alert, flags, None if unix0 is None else unix0 + off, off,
                            ticks_add(ticks0, off), None if fix is None else fix.as_tuple())
        self._chunk_end = self._prealert_end if flags & H_PREALERT else block + self.chunk_blocks

    async def _drain(self):
        ring, rec = self.ring, self.rec
        while self.rec is not None:
            if self._next < self._safe_oldest():  # fell behind the ring: audio lost
                skip = self._safe_oldest() - self._next
                self._next += skip
                self.log("evidence_overrun", rec=rec.rec, blocks=skip)
                # each chunk stays continuous: end this one, the next starts after the gap and says so
                self._close(final=self._next >= self._stop_block)
                self._lost = skip
                rec = self.rec
                if rec is None:
                    return
                continue
            limit = min(ring.total, self._chunk_end, self._stop_block)
            if self._next < limit:
                n = min(_SLICE, limit - self._next)
                for _ in range(n):
                    rec.add(ring.block(self._next))
                    self._next += 1
                await asyncio.sleep_ms(0)  # let the alert and the button run between slices
                continue
            if self._next >= self._stop_block:
                self._close(final=True)
                return
            if self._next >= self._chunk_end:
                self._close(final=False)
                continue
            rec.chunk.flush()  # up to date on flash: a power cut keeps what was recorded
            return

    def _close(self, final, flags=0):
        rec = self.rec
        if self._lost:
            flags |= T_GAP
        if not final and not self.store.make_room(self._chunk_bytes(self.chunk_blocks)):
            final = True
            flags |= T_FLASH_FULL
            self.log("evidence_flash_full", rec=rec.rec)
        digest = rec.close_chunk(final, flags, self._lost)
        self._lost = 0
        self.log("evidence_chunk", rec=rec.rec, index=rec.index - 1, final=final)
        self._tell(rec, digest, final)
        if final:
            self.store.end(rec)
            self.rec = None
            self.log("evidence_done", rec=rec.rec, chunks=rec.index, head=_hex(digest))
            self.warn_if_low()
        else:
            self._open(self._next, 0)

    def _tell(self, rec, digest, final):
        if not self.chunk_listeners:
            return
        head = _hex(digest)
        for f in self.chunk_listeners:
            try:
                f(rec.rec, self._alert, rec.index - 1, head, final)
            except Exception as e:  # a listener never stops the recording
                self.log("evidence_listener_error", err=repr(e))

    def _abort(self):
        rec = self.rec
        self.rec = None
        if rec is None:
            return
        self.store.end(rec)
        try:
            if rec.chunk is not None:
                rec.close_chunk(True, T_INTERRUPTED, self._lost)
        except Exception:
            pass  # left as .part: recover() closes it at the next boot


def _hex(b):
    return "".join("%02x" % x for x in b)
