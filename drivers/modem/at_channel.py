# AT command channel over a UART-like stream (machine.UART on the device, a pty in the simulator).
# One reader task splits the byte stream into lines. A command ends on its final result code; the
# timeout is only the failure path. Unsolicited result codes (URCs) can arrive at any moment, even
# between a command's response and its result, and go to their own handlers.
#
# Data mode hand-over: a dial answered CONNECT gives the UART to PPP. The reader stops at once (the
# rest of that chunk is PPP's first frame: dropped, PPP retransmits) and reads nothing until claim().
# Commands issued meanwhile wait for claim() up to their timeout, then raise AtReleased; nothing is
# written to the UART while PPP owns it. leave_data() ("+++") claims it back once PPP has stopped.
# A dial still waiting for the network holds the channel (up to its timeout): abort_dial() ends it
# at once with one CR (V.250: any character aborts it; the modem answers NO CARRIER).
import asyncio
from micropython import const
from time import ticks_ms, ticks_diff

_LINE_MAX = const(600)  # longest line kept: +CMGR PDUs are up to ~350 hex chars
_CHUNK = const(256)
_GUARD_MARGIN_MS = const(200)  # the modem times its escape guard from bytes it got late (UART FIFOs)
_ABORT_GUARD_MS = const(200)  # V.250 ignores characters for 125 ms after a command's CR; margin

from firmware.core.errors import AtError, AtReleased, AtTimeout  # noqa: F401  (raised here)

FINAL_OK = (b"OK",)
FINAL_ERR = (b"ERROR", b"+CME ERROR", b"+CMS ERROR", b"NO CARRIER", b"BUSY", b"NO ANSWER", b"NO DIALTONE")


class Response:
    __slots__ = ("final", "lines")

    def __init__(self, final, lines):
        self.final = final
        self.lines = lines

    def line(self, prefix):
        """The first info line starting with prefix, without the prefix, stripped; or None."""
        for ln in self.lines:
            if ln.startswith(prefix):
                return ln[len(prefix):].strip()
        return None


class AtChannel:
    def __init__(self, uart, log=None):
        self._uart = uart
        self._reader = asyncio.StreamReader(uart)
        self._writer = asyncio.StreamWriter(uart, {})
        self._chunk = bytearray(_CHUNK)
        self._line = bytearray(_LINE_MAX)
        self._n = 0
        self._overflow = False
        self._lock = asyncio.Lock()
        self._done = asyncio.Event()
        self._prompt = asyncio.Event()
        self._urcs = []  # (prefix, handler, lines)
        self._cont = None  # (handler, first line) of a two-line URC waiting for its second line
        self._cmd = None  # echo of the command in progress
        self._expect = None  # info-line prefix of the command in progress
        self._follow = False  # keep the line after each expected line (+CMGR/+CMGL PDUs)
        self._want_follow = False
        self._lines = None
        self._final = None
        self._want_prompt = False
        self.log = log
        self._last_rx = ticks_ms()
        self.stats = {"lines": 0, "urcs": 0, "stray": 0, "overflow": 0, "timeouts": 0, "released": 0,
                      "dial_aborts": 0}
        self.task = None
        self.released = False  # True while PPP owns the UART (after CONNECT, until claim())
        self._claimed = asyncio.Event()
        self._claimed.set()
        self._connect = False  # the command in progress may end on CONNECT (a dial)
        self._reading = False  # the reader waits in readinto (release() must interrupt it)
        self._interrupt = False  # a cancel of ours is on its way to the reader
        self._rx_on = asyncio.Event()  # the reader may read the UART
        self._dropped = False  # NO CARRIER seen while leaving data mode
        self._sent_at = None  # ticks_ms when the dial in progress was written, None before that
        self._abort = 0  # 0: none, 1: wanted (within the guard time), 2: CR written
        self._rx_on.set()

    @property
    def dialing(self):
        """True while a dial (connect=True) is in progress and has not got its answer yet."""
        return self._connect and self._cmd is not None and self._final is None

    def abort_dial(self):
        """End a dial still waiting for CONNECT: one CR, the modem answers NO CARRIER and the dial
        raises AtError like a refused one. Within V.250's 125 ms after the dial's CR the modem would
        ignore it: the exchange writes it when that guard time is over. True if a dial is (being)
        aborted; nothing to do otherwise (after CONNECT the hang-up is the platform link's job)."""
        if not self.dialing:
            return False
        if self._abort == 0:
            self._abort = 1
            if self._sent_at is not None and ticks_diff(ticks_ms(), self._sent_at) >= _ABORT_GUARD_MS:
                self._write_abort()
        return True

    def _write_abort(self):
        self._abort = 2
        self.stats["dial_aborts"] += 1
        self._uart.write(b"\r")  # one byte, written at once: the dial's own line is already out
        if self.log:
            self.log("at_dial_abort", cmd=self._cmd)

    @property
    def last_rx(self):
        """ticks_ms of the modem's last bytes; "now" while PPP owns the UART (busy, not idle: the
        power policy must not put the modem to sleep in the middle of a data call)."""
        return ticks_ms() if self.released else self._last_rx

    def start(self):
        self.task = asyncio.create_task(self._read_loop())
        return self.task

    def on_urc(self, prefix, handler, lines=1):
        """handler(line) is called for each unsolicited line starting with prefix; with lines=2 it is
        handler(line, next_line) (e.g. +CDS/+CMT in PDU mode, whose PDU follows on its own line)."""
        self._urcs.append((prefix, handler, lines))

    async def command(self, cmd, timeout_ms=5000, expect=None, follow=False, connect=False):
        """Send `cmd` (str, without CR); return a Response on OK, raise AtError or AtTimeout.
        follow=True also keeps the line right after each `expect` line (in PDU mode +CMGR/+CMGL put
        the PDU on its own line, without a prefix); a URC arriving in between still goes to its
        handler. connect=True (a dial): CONNECT ends it too, and hands the UART to PPP (released).
        While PPP owns the UART the command waits for claim() up to timeout_ms (AtReleased)."""
        return await self._locked(cmd, None, timeout_ms, expect, 0, follow, connect)

    async def command_with_prompt(self, cmd, payload, timeout_ms=60000, prompt_ms=5000, expect=None):
        """For AT+CMGS-like commands: send cmd, wait for the '> ' prompt, send payload + Ctrl-Z."""
        return await self._locked(cmd, payload, timeout_ms, expect, prompt_ms)

    async def _locked(self, cmd, payload, timeout_ms, expect, prompt_ms, follow=False, connect=False):
        t0 = ticks_ms()
        while True:
            await self._until_claimed(cmd, timeout_ms - ticks_diff(ticks_ms(), t0))
            async with self._lock:
                if not self.released:  # a dial may have taken the UART while we waited for the lock
                    return await self._exchange(cmd, payload, timeout_ms, expect, prompt_ms, follow, connect)

    async def _until_claimed(self, cmd, timeout_ms):
        if self.released and not await self._wait(self._claimed, max(timeout_ms, 0)):
            self.stats["timeouts"] += 1
            if self.log:
                self.log("at_released", cmd=cmd)
            raise AtReleased(cmd + " (UART in data mode)")

    # --- data mode hand-over ------------------------------------------------------------------------
    def release(self):
        """Give the UART to PPP: the reader stops reading (even mid-wait) and commands wait."""
        if self.released:
            return
        self.released = True
        self._claimed.clear()
        self.stats["released"] += 1
        self._listen(False)

    def claim(self):
        """Take the UART back for AT commands (the modem is in command mode again)."""
        self._n = 0
        self._overflow = False
        self._cont = None
        self.released = False
        self._listen(True)
        self._claimed.set()

    def _listen(self, on):
        if on:
            self._rx_on.set()
        else:
            self._rx_on.clear()
            if self._reading and self.task is not None and not self._interrupt:
                self._interrupt = True
                self.task.cancel()  # interrupts readinto only: the reader then waits for _rx_on

    async def leave_data(self, guard_ms=1000, timeout_ms=2000):
        """V.250 escape, PPP already stopped: guard_ms (+ margin) of silence, "+++", and the modem's answer
        within guard_ms + timeout_ms. No answer: a CR (ends the "+++" a modem already back in command
        mode took for a command line) and "AT". The final result code (b"OK", b"NO CARRIER": command
        mode either way) claims the UART back; None leaves it released (the modem is still in data
        mode, or mute)."""
        async with self._lock:
            self._listen(True)  # stale PPP bytes now parse as stray lines, harmlessly
            self._dropped = False
            try:
                await asyncio.sleep_ms(guard_ms + _GUARD_MARGIN_MS)
                if self._dropped:  # the call had ended by itself: command mode already
                    self.claim()
                    return b"NO CARRIER"
                final = await self._raw(b"+++", guard_ms + timeout_ms)
                if final is None:
                    final = await self._raw(b"\rAT\r", 500, b"AT")
                if final is not None:
                    self.claim()
                return final
            finally:
                if self.released:
                    self._listen(False)

    async def _raw(self, data, wait_ms, echo=b"+++"):
        self._lines = []
        self._final = None
        self._done.clear()
        self._cmd = echo
        self._expect = None
        try:
            self._writer.write(data)
            await self._writer.drain()
            await self._wait(self._done, wait_ms)
            return self._final
        finally:
            self._cmd = None

    async def _exchange(self, cmd, payload, timeout_ms, expect, prompt_ms=0, follow=False, connect=False):
        self._connect = connect
        self._lines = []
        self._follow = follow
        self._want_follow = False
        self._final = None
        self._done.clear()
        self._prompt.clear()
        self._cmd = cmd.encode()
        self._expect = expect.encode() if isinstance(expect, str) else expect
        self._want_prompt = payload is not None
        try:
            self._writer.write(self._cmd + b"\r")
            await self._writer.drain()
            if payload is not None:
                got = await self._wait(self._prompt, prompt_ms)
                if self._final is not None:  # an error instead of the prompt: never send the PDU
                    return self._result()
                if not got:
                    # abandon the prompt so the modem is usable again, and consume its answer to the
                    # ESC (OK on SIMCom) so that it is not taken as the next command's result
                    self._want_prompt = False
                    self._writer.write(b"\x1b")
                    await self._writer.drain()
                    await self._wait(self._done, 1000)
                    self._timeout(cmd + " (no prompt)")
                self._want_prompt = False
                self._writer.write(payload.encode() if isinstance(payload, str) else payload)
                self._writer.write(b"\x1a")
                await self._writer.drain()
            if connect:
                self._sent_at = ticks_ms()
                if not await self._wait(self._done, _ABORT_GUARD_MS) and self._abort == 1:
                    self._write_abort()  # asked for during the guard time
                timeout_ms -= _ABORT_GUARD_MS
            if not await self._wait(self._done, timeout_ms):
                self._timeout(cmd)
            return self._result()
        finally:
            self._sent_at = None
            self._abort = 0
            self._cmd = None
            self._expect = None
            self._follow = self._want_follow = False
            self._want_prompt = False
            self._connect = False

    def abort(self, why):
        """End the command in progress now (the modem rebooted: its answer will never come)."""
        if self._cmd is not None and self._final is None:
            self._final = b"ABORTED " + why
            self._done.set()
            self._prompt.set()

    def _result(self):
        final = self._final
        if final in FINAL_OK or (self._connect and final is not None and final.startswith(b"CONNECT")):
            return Response(final, self._lines)
        raise AtError(final)

    def _timeout(self, what):
        self.stats["timeouts"] += 1
        if self.log:
            self.log("at_timeout", cmd=what)
        raise AtTimeout(what)

    async def _wait(self, event, timeout_ms):
        if event.is_set():
            return True
        try:
            await asyncio.wait_for_ms(event.wait(), timeout_ms)
            return True
        except asyncio.TimeoutError:
            return False

    async def _read_loop(self):
        chunk = self._chunk
        while True:
            if not self._rx_on.is_set():  # PPP owns the UART: not one byte read until claim()
                await self._rx_on.wait()
                continue
            self._reading = True
            try:
                n = await self._reader.readinto(chunk)
            except asyncio.CancelledError:
                if self._interrupt:  # _listen(False) interrupted the wait: nothing was read (even
                    self._interrupt = False  # if listening resumed before this task ran again)
                    continue
                raise
            finally:
                self._reading = False
            if not n:
                await asyncio.sleep_ms(5)  # stream closed or spurious wake: stay alive
                continue
            self._last_rx = ticks_ms()
            self._feed(chunk, n)

    def _feed(self, buf, n):
        line = self._line
        for i in range(n):
            b = buf[i]
            if b == 0x0D or b == 0x0A:
                if self._n:
                    if not self._overflow:
                        self._dispatch(bytes(line[:self._n]))
                    self._n = 0
                    self._overflow = False
                    if not self._rx_on.is_set():  # CONNECT: the rest is PPP's, never parse it
                        return
                continue
            if self._n < _LINE_MAX:
                line[self._n] = b
                self._n += 1
            elif not self._overflow:
                self._overflow = True
                self.stats["overflow"] += 1
            # the '> ' prompt is not followed by a line end
            if self._want_prompt and self._n == 2 and line[0] == 0x3E and line[1] == 0x20:
                self._n = 0
                self._prompt.set()

    def _dispatch(self, ln):
        self.stats["lines"] += 1
        if self._cont is not None:
            handler, first = self._cont
            self._cont = None
            self._call(handler, first, ln)
            return
        cmd = self._cmd
        if cmd is not None:
            if ln == cmd:
                return  # echo (before ATE0, or after the modem rebooted and re-enabled it)
            if self._final is None:
                if self._want_prompt and ln in FINAL_OK:
                    # a late OK (e.g. to an earlier ESC) cannot answer AT+CMGS: only the prompt or
                    # an error can; taking it would mark an SMS sent that never left
                    self.stats["stray"] += 1
                    return
                if self._is_final(ln) or (self._connect and ln.startswith(b"CONNECT")):
                    self._final = ln
                    if self._connect and ln.startswith(b"CONNECT"):
                        self.release()  # data mode from the next byte on
                    self._done.set()
                    self._prompt.set()  # an error instead of a prompt must not wait for the prompt
                    return
                if self._expect is not None and ln.startswith(self._expect):
                    self._lines.append(ln)
                    self._want_follow = self._follow
                    return
                if self._want_follow and not self._is_urc(ln):
                    self._want_follow = False
                    self._lines.append(ln)
                    return
        if self.released and ln == b"NO CARRIER":
            self._dropped = True  # read while leaving data mode: the network ended the call
        for prefix, handler, lines in self._urcs:
            if ln.startswith(prefix):
                self.stats["urcs"] += 1
                if lines == 2:
                    self._cont = (handler, ln)
                else:
                    self._call(handler, ln)
                return
        if cmd is not None and self._final is None and self._expect is None and self._printable(ln):
            self._lines.append(ln)  # bare info lines (ATI, AT+CGSN) when no prefix is expected
            return
        self.stats["stray"] += 1  # garbage or an unknown unsolicited line: counted, never fatal

    def _call(self, handler, *args):
        try:
            handler(*args)
        except Exception as e:  # a broken handler must not kill the reader
            if self.log:
                self.log("urc_handler_error", line=args[0], err=repr(e))

    def _is_urc(self, ln):
        for prefix, _h, _n in self._urcs:
            if ln.startswith(prefix):
                return True
        return False

    @staticmethod
    def _is_final(ln):
        if ln in FINAL_OK:
            return True
        for f in FINAL_ERR:
            if ln.startswith(f):
                return True
        return False

    @staticmethod
    def _printable(ln):
        for b in ln:
            if b < 0x20 or b > 0x7E:
                return False
        return True
