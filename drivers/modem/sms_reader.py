# Received SMS, modem side (3GPP TS 27.005, PDU mode): +CMTI -> AT+CMGR=<i> -> decode -> reassemble ->
# on_message(sms) -> AT+CMGD=<i>. A message is deleted from the SIM only once handled (a
# concatenated one once complete), so a reset in between loses nothing: at start, and then every
# sweep_ms, AT+CMGL=4 lists the whole store (messages that arrived while the firmware was down, or
# whose +CMTI was lost).
#
# Never fatal: an index that reads as an error is skipped (the modem's random +CMTI), an unreadable
# PDU is looked at a second time by a sweep retry_ms later (a line garbled on the UART reads right
# then) and deleted if it still cannot be decoded, however many there are: every index that failed
# once is remembered with a fingerprint of its PDU (a new message at the same index gets its own
# first look), and the set is persisted through `bad_store` (load() and save() of [[index, fp], ...])
# so a reset between the two looks does not start over. Twelve undecodable SMS from a stranger cannot fill the
# SIM and stop the button reading STOP or POSITION. Other PDU types (stored status reports, SUBMITs)
# are deleted, a failing on_message is logged and the message deleted anyway. Nothing of a message's
# content ever reaches the log.
import asyncio
from binascii import crc32
from micropython import const
from time import ticks_add, ticks_diff, ticks_ms

from firmware.core.errors import AtError, AtTimeout
from firmware.core import clock
from firmware.core.sms_deliver import NotDeliver, decode
from firmware.core.sms_reassembly import COMPLETE, DUPLICATE, REFUSED, Reassembler

_QLEN = const(8)  # +CMTI indices waiting; more at once -> one sweep reads them all
_NONE = const(-1)
_BAD_MAX = const(255)  # undecodable indices remembered (a store has fewer); beyond it: deleted at once


def fingerprint(pdu):
    """What tells a PDU from another one stored later at the same index (CRC-32 of its hex line)."""
    return crc32(pdu) & 0x3FFFFFFF if pdu is not None else 0  # a small int on the 32-bit VM too


def _valid_bad(pairs):
    """{index: fingerprint} from the persisted [[index, fingerprint], ...], dropping anything else (a
    damaged file)."""
    out = {}
    if isinstance(pairs, list):
        for p in pairs:
            if (isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) and isinstance(p[1], int)
                    and p[0] >= 0 and len(out) < _BAD_MAX):
                out[p[0]] = p[1]
    return out


def parse_cmti(line):
    """Storage index of a '+CMTI: "SM",3' line, or -1."""
    i = line.rfind(b",")
    if i < 0:
        return _NONE
    try:
        return int(line[i + 1:].strip())
    except ValueError:
        return _NONE


def _index_of(header):
    """<index> of a '+CMGL: <index>,<stat>,[<alpha>],<length>' line, or -1."""
    i = header.find(b":")
    j = header.find(b",", i + 1)
    try:
        return int(header[i + 1:j if j > 0 else len(header)].strip())
    except ValueError:
        return _NONE


class SmsReader:
    def __init__(self, modem, on_message, log=None, reassembler=None, sweep_ms=600000, now=ticks_ms,
                 bad_store=None, retry_ms=30000):
        """on_message(sms) gets each whole message (firmware.core.sms_deliver.Sms); it runs in the reader
        task and must only decide and schedule (a reply is sent by another task). bad_store: where the
        undecodable indices are kept across resets (load() -> list, save(list); None: RAM only); retry_ms: when their second look
        comes."""
        self.modem = modem
        self.at = modem.at
        self.on_message = on_message
        self.log = log or (lambda *a, **k: None)
        self.reasm = reassembler or Reassembler()
        self.sweep_ms = sweep_ms
        self.now = now
        self._q = [_NONE] * _QLEN
        self._qn = 0
        self._sweep = True  # startup sweep
        self._stepping = False
        self.bad_store = bad_store
        self.retry_ms = retry_ms
        self._bad = {}  # index -> fingerprint of a PDU that failed to decode once (deleted the next time)
        if bad_store is not None:
            try:
                self._bad = _valid_bad(bad_store.load())
            except Exception as e:  # a damaged file: start with an empty set (first looks again)
                self.log("sms_bad_list_unreadable", err=repr(e))
        self._retry_at = None  # ticks of the sweep that gives a bad PDU its second look
        self._wake = asyncio.Event()
        self.stats = {"read": 0, "handled": 0, "deleted": 0, "bad": 0, "sweeps": 0}
        self.task = None
        modem.on_sms_received = self.on_cmti

    def start(self):
        self.task = asyncio.create_task(self.run())
        return self.task

    # --- URC side (reader task of the AT channel: only note and wake) -------------------------------
    def on_cmti(self, line):
        idx = parse_cmti(line)
        if idx < 0:
            return
        for k in range(self._qn):
            if self._q[k] == idx:
                return
        if self._qn < _QLEN:
            self._q[self._qn] = idx
            self._qn += 1
        else:
            self._sweep = True  # a flood: one listing reads them all
        self._wake.set()

    def sweep_soon(self):
        """Ask for a full listing (e.g. after the modem rebooted and lost its +CNMI setting)."""
        self._sweep = True
        self._wake.set()

    # --- task -------------------------------------------------------------------------------------
    def pending(self):
        """Work to do on the modem's store now (a sweep asked for, announced indices, or a step
        running): the power task keeps the MCU awake for it while the modem is awake."""
        return self._sweep or self._qn > 0 or self._stepping

    async def run(self):
        while True:
            # never an AT+CMGL into a modem asleep (UART sleep) or off: the work waits for its next
            # wake (the power task wakes it at least every check_s for this, issue 22)
            await self.modem.ready.wait()
            self._stepping = True
            try:
                await self.step()
            except Exception as e:  # the reader must survive anything; the next wake retries
                self.log("sms_reader_error", err=repr(e))
                await asyncio.sleep_ms(1000)
            finally:
                self._stepping = False
            now = self.now()
            wait = self.reasm.next_deadline(now)
            if wait < 0 or wait > self.sweep_ms:
                wait = self.sweep_ms
            if self._retry_at is not None:
                wait = max(0, min(wait, ticks_diff(self._retry_at, now)))
            if not self._wake.is_set():
                try:
                    await asyncio.wait_for_ms(self._wake.wait(), max(1, wait))
                except asyncio.TimeoutError:
                    if self.reasm.next_deadline(self.now()) != 0:
                        self._sweep = True  # periodic sweep, or the second look at bad PDUs
            if self._retry_at is not None and ticks_diff(self.now(), self._retry_at) >= 0:
                self._sweep = True
            self._wake.clear()

    async def step(self):
        """Everything due now: a sweep if asked, then each announced index, then expiries."""
        if self._sweep:
            self._sweep = False
            self._qn = 0  # the listing covers them
            self._retry_at = None
            await self.sweep()
        while self._qn:
            idx = self._q[0]
            for k in range(1, self._qn):
                self._q[k - 1] = self._q[k]
            self._qn -= 1
            await self.read(idx)
        await self._expire()

    async def sweep(self):
        self.stats["sweeps"] += 1
        try:
            r = await self.at.command("AT+CMGL=4", timeout_ms=15000, expect="+CMGL:", follow=True)
        except (AtError, AtTimeout) as e:
            self.log("sms_list_failed", err=repr(e))
            return
        lines = r.lines
        found = 0
        listed = []
        for k in range(len(lines)):
            if not lines[k].startswith(b"+CMGL:"):
                continue
            idx = _index_of(lines[k])
            pdu = lines[k + 1] if k + 1 < len(lines) and not lines[k + 1].startswith(b"+CMGL:") else None
            if idx >= 0:
                found += 1
                listed.append(idx)
                await self._handle(idx, pdu)
        gone = [i for i in self._bad if i not in listed]  # deleted by someone else: forget them
        if gone:
            for i in gone:
                del self._bad[i]
            self._save_bad()
        if found:
            self.log("sms_sweep", found=found)

    async def read(self, idx):
        try:
            r = await self.at.command("AT+CMGR=%d" % idx, timeout_ms=5000, expect="+CMGR:", follow=True)
        except AtError as e:
            self.log("sms_read_failed", index=idx, err=e.final)  # empty or invalid index
            return
        except AtTimeout:
            self._sweep = True  # try again with the next listing
            return
        lines = r.lines
        for k in range(len(lines)):
            if lines[k].startswith(b"+CMGR:"):
                await self._handle(idx, lines[k + 1] if k + 1 < len(lines) else None)
                return
        self.log("sms_read_empty", index=idx)

    # --- internals --------------------------------------------------------------------------------
    async def _handle(self, idx, pdu):
        self.stats["read"] += 1
        try:
            if pdu is None:
                raise ValueError("no PDU line")
            sms = decode(pdu.decode())
        except NotDeliver as e:
            self.log("sms_not_deliver", index=idx, mti=e.mti)
            await self._delete(idx)
            return
        except (ValueError, UnicodeError) as e:
            self.stats["bad"] += 1
            fp = fingerprint(pdu)
            if self._bad.get(idx) == fp or len(self._bad) >= _BAD_MAX:
                self._bad.pop(idx, None)
                self.log("sms_undecodable", index=idx, err=repr(e), deleted=True)
                await self._delete(idx)
            else:
                self._bad[idx] = fp
                self.log("sms_undecodable", index=idx, err=repr(e), deleted=False)
                if self._retry_at is None:
                    self._retry_at = ticks_add(self.now(), self.retry_ms)
            self._save_bad()
            return
        if idx in self._bad:
            del self._bad[idx]
            self._save_bad()
        st, msg, delete = self.reasm.add(sms, idx, self.now())
        if st == COMPLETE:
            self.stats["handled"] += 1
            self.log("sms_received", index=idx, parts=msg.total, enc=msg.enc)
            try:
                self.on_message(msg)
            except Exception as e:  # a failing feature must not leave the message to loop forever
                self.log("sms_handler_error", err=repr(e))
        elif st == DUPLICATE and delete:
            self.log("sms_duplicate", index=idx)
        elif st == REFUSED:
            self.log("sms_refused", index=idx, why=msg, parts=sms.total)
        for i in delete:
            await self._delete(i)
        await self._expire()

    async def _expire(self):
        for i in self.reasm.expire(self.now()):
            await self._delete(i)
        d = self.reasm.dropped
        while d:
            sender, got, total, why = d.pop(0)
            self.log("sms_parts_dropped", got=got, total=total, why=why)

    def _save_bad(self):
        if self.bad_store is None:
            return
        try:
            self.bad_store.save([[i, self._bad[i]] for i in self._bad])
        except Exception as e:  # flash full: the set stays in RAM (a reset then gives first looks again)
            self.log("sms_bad_list_unsaved", err=repr(e))

    async def _delete(self, idx):
        try:
            await self.at.command("AT+CMGD=%d" % idx, timeout_ms=5000)
            self.stats["deleted"] += 1
        except (AtError, AtTimeout) as e:
            self.log("sms_delete_failed", index=idx, err=repr(e))
