# Evidence recorder: microphone -> pre-alert ring (always, while armed) -> on an alert, the ring's last
# `evidence_prealert_s` seconds become chunk 0 of a new recording and the following
# `evidence_record_s` seconds (default 10 min) go to chunks of about `evidence_chunk_s` seconds.
# The microphone callback only encodes into the ring; one task copies ring blocks to flash in small
# slices, so SMS dispatch is never held up by flash writes. Times come from the sample clock: a
# chunk starts (block - trigger block) x 505 / 8000 s after the trigger, whose wall time is the RTC's.
# A new alert during a recording extends it (the chunks after it carry the new alert id).
# Sealed (issue 21, docs/evidence-sealing.md): each recording is encrypted to the association's public
# key with a key computed ahead of time (firmware/evidence/sealing.py); after each chunk closes, its head
# is signed with the device key and appended to heads.abh. Without an association key nothing is
# recorded at all (the alert and its SMS are unaffected): a plaintext recording would hand her words and
# positions to whoever seizes the button; the self-test reports it as a failure.
import asyncio
import gc
import time
from time import ticks_ms, ticks_add, ticks_us, ticks_diff

from firmware.core import clock
from firmware.evidence.audio_ring import AudioRing, BLOCK_SAMPLES, blocks_for
from firmware.evidence.store import Store
from firmware.core import evidence_seal as seal
from firmware.core.evidence_chunk import (H_MIC_WARMUP,
    H_PREALERT,
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
    def __init__(self, mic, cfg, log, position, device_id, keys=None, signer=None, store=None, rate=8000):
        """mic: drivers.inmp441.Inmp441 (or anything with start(sink)/stop(), and `warmup`: the blocks of
        start-up silence at the head of what start() delivers, 0 when absent); position(): the best
        known location.Fix or None; keys: firmware.evidence.sealing.KeyAhead (None, or its association
        key None: nothing is recorded; set before start()); signer: firmware.evidence.device_key.Signer
        (its steps(message) sign in pieces), or None (no signed heads: logged)."""
        self.mic = mic
        self.keys = keys
        self.signer = signer
        self.sign_ms = None  # what the last head signature took (ms)
        self._unsigned = []  # closed chunks whose heads wait to be signed: (rec, alert, index, head, final)
        self.busy = lambda: False  # True while the alert sends SMS (App: its state is "dispatching")
        self.last_head = None  # (index, head bytes) of the latest closed chunk: the follow-up SMS's reference
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
        self.low_bytes = (blocks_for(self.prealert_s + self.record_s, rate) * seal.BLOCK_RECORD
                          + (self.record_s // max(1, cfg.get("evidence_chunk_s", 10)) + 2)
                          * (seal.file_size(0, seal.END_TRAILER) + seal.HEAD_RECORD_SIZE))
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
        self._warm_end = 0  # ring block where the microphone's start-up silence ends (since the last arm())
        self._warm = 0  # start-up blocks at the head of the open chunk
        self._wake = asyncio.Event()
        self.task = None
        # called as f(rec, alert, index, head_hex, final, signed_hex) after each chunk is closed on flash
        # (signed_hex: the 120-byte signed head record, or None when unsigned): the platform link
        # publishes the chain head, so a third party holds it from that moment on
        self.chunk_listeners = []

    # --- control ----------------------------------------------------------------------------------
    def head_ref(self):
        """`<index>:<13 base32>` of the latest closed chunk's head, for the follow-up SMS; None before one."""
        h = self.last_head
        return None if h is None else seal.sms_ref(h[0], h[1])

    def can_record(self):
        """False without an association key: nothing could be sealed, so nothing is recorded."""
        return self.keys is not None and self.keys.can_seal()

    def arm(self, by="policy"):
        """Start the microphone into the ring (the power policy decides when; `by` is logged: policy,
        alert, gesture)."""
        if not self.armed and self.can_record():
            self.ring.reset()
            base = self.ring.total
            self.mic.start(self.ring.push)
            # a cold start (CHIPEN was low): the first blocks are silence by hardware, marked in the chunks
            self._warm_end = base + getattr(self.mic, "warmup", 0)
            self.armed = True
            self.log("evidence_armed", prealert_s=self.prealert_s, by=by)

    def disarm(self, why="power"):
        if self.armed and self.rec is None:
            self.mic.stop()
            self.armed = False
            self.log("evidence_disarmed", why=why)

    def on_alert(self, event, manager):
        """AlertManager listener: note the trigger moment; the task does the work."""
        if event == "triggered":
            if not self.can_record():
                self.log("evidence_not_recorded", alert=manager.alert_id, why="no association key")
                return
            self._trigger = (manager.alert_id, self.ring.total, ticks_ms(), unix_ms())
            self._wake.set()

    def start(self):
        for rec in self.store.recover():
            self.log("evidence_closed", rec=rec, interrupted=True)
        self.warn_if_low()
        if not self.can_record():
            self.log("evidence_off", why="no association key: set it with `alertbutton keys set-association`")
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
                if (self.rec is None and self._trigger is None and not self._unsigned and self.can_record()
                        and not self.keys.ready() and not self.busy()):
                    await self._prepare_key()  # idle: the next recording's X25519 now, in pieces
            self._wake.clear()
            try:
                if self._trigger is not None:
                    t = self._trigger
                    self._trigger = None
                    self._begin(t)
                if self.rec is not None:
                    await self._drain()
                if self._unsigned and self._trigger is None:
                    await self._sign_due()
            except Exception as e:  # never take the device down: log, close, go on
                self.log("evidence_error", err=repr(e))
                self._abort()

    async def _prepare_key(self):
        """The next recording's key, yielding to the other tasks between pieces of the X25519, and
        paused while an alert sends SMS (its recording starts once the key is made; the pre-alert ring
        keeps the sound meanwhile)."""
        try:
            for _ in self.keys.prepare_steps():
                await asyncio.sleep_ms(0)
                while self.busy():
                    await asyncio.sleep_ms(50)
        except Exception as e:  # retried at the next idle moment; take() tries once more on an alert
            self.log("evidence_key_error", err=repr(e))

    def _begin(self, trig):
        alert, block, ticks, unix = trig
        end = block + blocks_for(self.record_s, self.rate)
        if self.rec is not None:
            self._alert = alert
            self._stop_block = end
            self.log("evidence_extended", rec=self.rec.rec, alert=alert)
            return
        if not self.armed:  # the power policy had the ring off: record from now on, no pre-alert
            self.arm(by="alert")
            block = 0
            end = blocks_for(self.record_s, self.rate)
        if not self.store.make_room(self._chunk_bytes(self.ring.prealert_blocks)):
            self.log("evidence_flash_full", alert=alert)
            return
        self.rec = self.store.begin(self.device_id, self.rate, self.keys.take())
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
        """Flash taken by a sealed chunk of `blocks` blocks and its signed head record."""
        return seal.file_size(blocks, seal.END_TRAILER) + seal.HEAD_RECORD_SIZE

    def _open(self, block, flags):
        b0, ticks0, unix0 = self._anchor
        off = (block - b0) * BLOCK_SAMPLES * 1000 // self.rate
        fix = self.position()
        self._chunk_end = self._prealert_end if flags & H_PREALERT else block + self.chunk_blocks
        # chunks are continuous: the microphone's start-up silence can only be at a chunk's head
        self._warm = max(0, min(self._chunk_end, self._stop_block, self._warm_end) - block)
        if self._warm:
            flags |= H_MIC_WARMUP
        self.rec.open_chunk(self._alert, flags, None if unix0 is None else unix0 + off, off,
                            ticks_add(ticks0, off), None if fix is None else fix.as_tuple())

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
        digest = rec.close_chunk(final, flags, self._lost, min(self._warm, rec.chunk.blocks))
        self._lost = 0
        index = rec.index - 1
        self.last_head = (index, digest)
        self.log("evidence_chunk", rec=rec.rec, index=index, final=final)
        if final:
            self.store.end(rec)
            self.rec = None
            self.log("evidence_done", rec=rec.rec, chunks=rec.index, head=_hex(digest))
            self.warn_if_low()
        else:
            self._open(self._next, 0)
        # signed later, in this task, once the audio is written up to date and no SMS is being sent
        # (an Ed25519 signature holds the CPU ~2 s on an ESP32: docs/evidence-sealing.md)
        self._unsigned.append((rec.rec, self._alert, index, digest, final))

    async def _sign_due(self):
        """Sign the closed chunks' heads, one at a time, yielding between them; not while the alert
        is sending SMS (busy()): a signature would hold up its dispatch."""
        while self._unsigned and not self.busy():
            rec_no, alert, index, digest, final = self._unsigned[0]
            signed = await self._sign(rec_no, index, digest, final)
            self._unsigned.pop(0)  # only now: "nothing unsigned" means every head is signed and told
            self._tell(rec_no, alert, index, digest, final, signed)
            await asyncio.sleep_ms(0)

    async def _sign(self, rec_no, index, digest, final):
        """The signed head record of chunk `index` (120 bytes), appended to heads.abh; or None. The
        signature is made in pieces (the signer's steps()), yielding to the other tasks in between."""
        if self.signer is None:
            if index == 0:
                self.log("evidence_unsigned", rec=rec_no, why="no device key")
            return None
        try:
            msg = seal.head_message(self.device_id, rec_no, index, digest, final)
            gc.collect()  # the signature's big integers need contiguous blocks: start from a compacted free list
            t0 = ticks_us()
            for sig in self.signer.steps(msg):
                if sig is None:
                    await asyncio.sleep_ms(0)
            self.sign_ms = ticks_diff(ticks_us(), t0) // 1000
            record = msg + sig
            self.store.append_head_record(rec_no, record)
            self.log("evidence_signed", rec=rec_no, index=index, ms=self.sign_ms)
            return record
        except Exception as e:  # a head left unsigned never stops the recording
            self.log("evidence_sign_error", rec=rec_no, index=index, err=repr(e))
            return None

    def _tell(self, rec_no, alert, index, digest, final, signed):
        if not self.chunk_listeners:
            return
        head = _hex(digest)
        signed = None if signed is None else _hex(signed)
        for f in self.chunk_listeners:
            try:
                f(rec_no, alert, index, head, final, signed)
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
                rec.close_chunk(True, T_INTERRUPTED, self._lost, min(self._warm, rec.chunk.blocks))
        except Exception:
            pass  # left as .part: recover() closes it at the next boot
        if not rec.final:
            rec.abandon()  # the key is wiped whatever happened


def _hex(b):
    return "".join("%02x" % x for x in b)
