# Network connections for the platform link that can never hold the event loop (issue 25).
#
# Every socket is non-blocking from its first line: connect() returns at once, the TLS handshake
# and every read and write go one non-blocking call at a time, and between two calls that found
# nothing to do the task sleeps STEP_MS, so the button, the alert and the modem run in between.
# Each phase has a TOTAL deadline (a ticks_ms value the caller computes once: a peer sending one
# byte every few seconds does not extend it, where a socket timeout counts from the last byte).
# Nothing here calls setblocking(True) or settimeout(): on the ESP32 setblocking(True) removes a
# socket's timeout, and a peer that stops half-way would then hold the whole firmware for ever.
# The name lookup is a DNS query over a non-blocking UDP socket (getaddrinfo() blocks), except on
# the unix VM's host link, whose resolver is the host's (loopback names in the tests).
#
# stop(): a callable checked at every wait; True (SMS due) ends the exchange with Abandoned.
import asyncio
import errno
import os
import select
from time import ticks_ms, ticks_diff

from firmware.core import dns as dnsmsg

STEP_MS = 20  # sleep between two non-blocking attempts that found nothing to do
_DNS_RESEND_MS = 1000  # UDP may lose the query: send it again every second until the deadline
_EPIPE = getattr(errno, "EPIPE", 32)  # not in every port's errno module (same number in Linux and lwIP)
_ENETUNREACH = getattr(errno, "ENETUNREACH", 101)
_EAI = {-2: "no such name", -3: "no answer from the DNS server", -5: "the name has no address"}  # getaddrinfo
_addr = {}  # (host, port) -> address of the last good connection; forgotten when one fails


class LinkError(Exception):
    """A failure in words a technician can act on (str(e)); .kind is one of: dns, refused, timeout,
    slow, reset, closed, unreachable, tls, auth, protocol, http."""

    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind


class Abandoned(Exception):
    """SMS are due: the exchange stopped where it was (not a failure: no backoff, nothing lost)."""


def forget(host=None):
    """Drop cached addresses (all, or one host's): the next connection looks the name up again."""
    for k in list(_addr):
        if host is None or k[0] == host:
            del _addr[k]


def _errno(e):
    return getattr(e, "errno", None) or (e.args[0] if e.args and isinstance(e.args[0], int) else None)


def _left(deadline):
    return ticks_diff(deadline, ticks_ms())


async def _wait(deadline, stop, on_timeout):
    """One step of waiting: Abandoned if SMS are due, on_timeout() past the deadline, else a sleep."""
    if stop is not None and stop():
        raise Abandoned()
    left = _left(deadline)
    if left <= 0:
        raise on_timeout()
    await asyncio.sleep_ms(STEP_MS if left > STEP_MS else left)


def _rand16():
    b = os.urandom(2)
    return b[0] << 8 | b[1]


async def lookup(socks, name, server, deadline, stop=None):
    """The IPv4 address of `name` asked of the DNS server `server` ("ip" or (ip, port)) over a
    non-blocking UDP socket; LinkError("dns") with the reason."""
    ip, port = (server, 53) if isinstance(server, str) else server
    ident = _rand16()
    q = dnsmsg.query(name, ident)
    s = socks.socket(socks.AF_INET, socks.SOCK_DGRAM)
    try:
        s.setblocking(False)
        dest = socks.getaddrinfo(ip, port, 0, socks.SOCK_DGRAM)[0][-1]  # a literal: no lookup
        sent = None
        while True:
            if sent is None or ticks_diff(ticks_ms(), sent) >= _DNS_RESEND_MS:
                try:
                    s.sendto(q, dest)
                except OSError as e:
                    if _errno(e) != errno.EAGAIN:
                        raise LinkError("dns", "name not resolved: %s (cannot reach the DNS server %s: %s)"
                                        % (name, ip, _os_words(e)))
                sent = ticks_ms()
            try:
                data = s.recv(512)
            except OSError as e:
                if _errno(e) != errno.EAGAIN:
                    raise LinkError("dns", "name not resolved: %s (DNS server %s: %s)" % (name, ip, _os_words(e)))
                data = None
            if data:
                try:
                    return dnsmsg.answer(data, ident)[0]
                except ValueError as e:
                    if str(e) != "not our answer":
                        raise LinkError("dns", "name not resolved: %s (%s, said the DNS server %s)" % (name, e, ip))
                continue  # a late answer to an earlier query, or a forged one: keep waiting
            await _wait(deadline, stop, lambda: LinkError(
                "dns", "name not resolved: %s (no answer from the DNS server %s in time)" % (name, ip)))
    finally:
        s.close()


def _os_words(e):
    n = _errno(e)
    return {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset",
            errno.EHOSTUNREACH: "no route", errno.ETIMEDOUT: "timed out"}.get(n, repr(e))


class Conn:
    """One TCP connection, TLS on top when given a context, driven in non-blocking steps."""

    def __init__(self, socks, stop=None):
        self.socks = socks  # the data link's socket module
        self.stop = stop
        self.s = None
        self.host = None
        self.port = None
        self.phase = ""
        self._got = 0  # bytes received in the current phase (tells "slow" from "silent")

    def where(self):
        return "%s:%d" % (self.host, self.port)

    async def open(self, host, port, deadline, ctx=None, dns=None):
        """Name lookup, TCP connection and (with ctx) the TLS handshake's start, all within one
        deadline; the handshake itself completes inside the first write()."""
        self.host, self.port = host, port
        socks = self.socks
        key = (host, port)
        addr = _addr.get(key)
        if addr is None:
            self.phase = "name lookup"
            name = host
            if dns is not None and not dnsmsg.is_ipv4(host):
                name = await lookup(socks, host, dns, deadline, self.stop)
            try:
                addr = socks.getaddrinfo(name, port, 0, socks.SOCK_STREAM)[0][-1]
            except OSError as e:  # the host's resolver (unix VM): [addrinfo error -2] and the like
                n = _errno(e)
                if n is None:  # "[addrinfo error -2]": the number is in the text
                    t = str(e).rstrip("]").split()
                    n = int(t[-1]) if t and t[-1].lstrip("-").isdigit() else None
                raise LinkError("dns", "name not resolved: %s (%s)" % (host, _EAI.get(n, "error %s" % n)))
        self.phase = "TCP connection"
        self._got = 0
        s = socks.socket(socks.AF_INET, socks.SOCK_STREAM)
        self.s = s
        s.setblocking(False)
        try:
            s.connect(addr)
        except OSError as e:
            if _errno(e) not in (errno.EINPROGRESS, errno.EAGAIN):
                raise self._oserror(e)
        p = select.poll()
        p.register(s, select.POLLOUT)
        while True:
            ev = p.poll(0)
            if ev:
                if ev[0][1] & (select.POLLERR | select.POLLHUP):
                    raise LinkError("refused", "connection refused by %s: nothing listens on that port "
                                    "(wrong host or port, or the server is down)" % self.where())
                break
            await _wait(deadline, self.stop, self._timeout)
        p.unregister(s)
        _addr[key] = addr
        if ctx is not None:
            self.phase = "TLS handshake"
            try:
                self.s = ctx.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
            except (OSError, ValueError) as e:
                raise self._tls(e)

    async def write(self, data, deadline):
        mv = memoryview(data)
        off = 0
        while off < len(mv):
            try:
                n = self.s.write(mv[off:])
            except (OSError, ValueError) as e:
                raise self._failed(e)
            if n:
                off += n
                if self.phase == "TLS handshake":  # the first bytes of data went: TLS is up
                    self.phase = "exchange"
                continue
            await _wait(deadline, self.stop, self._timeout)

    async def read(self, n, deadline, phase=None):
        """Exactly n bytes (EOF before: LinkError "closed")."""
        if phase is not None and phase != self.phase:
            self.phase, self._got = phase, 0
        buf = b""
        while len(buf) < n:
            try:
                r = self.s.read(n - len(buf))
            except (OSError, ValueError) as e:
                raise self._failed(e)
            if r is None:
                await _wait(deadline, self.stop, self._timeout)
                continue
            if not r:
                raise LinkError("closed", "%s closed the connection during the %s" % (self.where(), self.phase))
            self._got += len(r)
            buf += r
        return buf

    async def read_line(self, deadline, limit=512, phase=None):
        """Bytes up to and including the first LF (the rest of what was read is dropped: callers read
        one line then close)."""
        buf = b""
        while b"\n" not in buf:
            if len(buf) > limit:
                raise LinkError("protocol", "%s sent a line longer than %d bytes" % (self.where(), limit))
            buf += await self.read(1, deadline, phase)
            phase = None
        return buf

    def close(self):
        s, self.s = self.s, None
        if s is not None:
            try:
                s.close()
            except Exception:
                pass

    # --- errors in plain words ------------------------------------------------------------------
    def _timeout(self):
        forget(self.host)
        if self.phase == "TLS handshake":  # mbedTLS reads the bytes itself: silent and slow look alike
            return LinkError("timeout", "the TLS handshake with %s did not finish before the deadline (a silent "
                             "or very slow server or network)" % self.where())
        if self._got:
            return LinkError("slow", "%s answered too slowly: %d byte(s), then the deadline passed, during the %s"
                             % (self.where(), self._got, self.phase))
        return LinkError("timeout", "no answer from %s before the deadline, during the %s" % (self.where(), self.phase))

    def _failed(self, e):
        forget(self.host)
        if isinstance(e, ValueError) or (isinstance(e, OSError) and (_errno(e) or 0) < 0):
            return self._tls(e)
        return self._oserror(e)

    def _oserror(self, e):
        forget(self.host)
        n = _errno(e)
        w = self.where()
        if n == errno.ECONNREFUSED:
            return LinkError("refused", "connection refused by %s: nothing listens on that port "
                             "(wrong host or port, or the server is down)" % w)
        if n in (errno.ECONNRESET, errno.ECONNABORTED, _EPIPE):
            return LinkError("reset", "connection reset by %s during the %s" % (w, self.phase))
        if n in (errno.EHOSTUNREACH, _ENETUNREACH):
            return LinkError("unreachable", "no route to %s (the network is down?)" % w)
        if n == errno.ETIMEDOUT:
            return LinkError("timeout", "no answer from %s, during the %s" % (w, self.phase))
        return LinkError("protocol", "%s: %r during the %s" % (w, e, self.phase))

    def _tls(self, e):
        why = e.args[0] if e.args else ""
        if isinstance(why, int):  # mbedTLS: OSError(-code, 'MBEDTLS_ERR_...')
            why = e.args[1] if len(e.args) > 1 else "error %d" % why
        why = str(why).strip().replace("\n", "; ")
        if isinstance(e, ValueError):  # MicroPython reports the certificate check's verdict so
            return LinkError("tls", "certificate refused: %s is not verified against the platform CA: %s"
                             % (self.host, why))
        return LinkError("tls", "TLS handshake with %s failed: %s" % (self.where(), why))
