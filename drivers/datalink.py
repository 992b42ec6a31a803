# Data links handed to the platform clients (issue 9). A client never picks or builds its network:
# the board profile builds the interface object and App hands one of these to the platform link.
#
# Common contract:
#   await link.up(timeout_ms, stop) -> bool   bring the link up (or find it up); never blocks the
#                                       loop; gives up at once when stop() turns True (SMS due)
#   link.isconnected() -> bool
#   await link.down()                   release it (power, or the modem's UART back to AT commands)
#   link.shared                         True when the link borrows the modem's only UART: the
#                                       platform link then holds it for one short exchange at a time
#                                       and never while SMS are due (SMS always come first)
#   link.name                           for the event log
#   link.socks                          the socket module the platform's connections use
#   link.dns() -> "ip" | (ip, port) | None   the DNS server the platform link asks itself (a
#                                       non-blocking UDP query: getaddrinfo() blocks the event loop);
#                                       None: let the socket module resolve (the unix VM's host link)
import asyncio
from time import ticks_ms, ticks_diff

_POLL_MS = 200


def _default_socks():
    import socket
    return socket


def _dns_of(nic):
    """The DNS server an interface got (DHCP, PPP IPCP), or "0.0.0.0" if it has none."""
    try:
        return nic.ifconfig()[3]
    except (OSError, AttributeError, IndexError, TypeError):
        return "0.0.0.0"


async def _until(cond, timeout_ms, stop=None):
    t0 = ticks_ms()
    while not cond():
        if ticks_diff(ticks_ms(), t0) >= timeout_ms or (stop is not None and stop()):
            return False
        await asyncio.sleep_ms(_POLL_MS)
    return True


class HostLink:
    """The unix VM (simulator, tests): the host's own network, always up. Tests use loopback only."""

    name = "host"
    shared = False

    def __init__(self, socks=None, dns=None):
        self.socks = socks or _default_socks()
        self._dns = dns  # None: the host's resolver (loopback names in tests)

    def dns(self):
        return self._dns

    async def up(self, timeout_ms=0, stop=None):
        return True

    def isconnected(self):
        return True

    async def down(self):
        pass


class WlanLink:
    """Wi-Fi station. `wlan` is network.WLAN(network.STA_IF), built by the board profile."""

    name = "wlan"
    shared = False

    def __init__(self, wlan, ssid, key=None, log=None, socks=None):
        if not ssid:
            raise ValueError("wlan: ssid missing")
        self.socks = socks or _default_socks()
        self.wlan = wlan
        self.ssid = ssid
        self.key = key
        self.log = log

    def isconnected(self):
        try:
            return bool(self.wlan.isconnected())
        except OSError:
            return False

    def dns(self):
        return _dns_of(self.wlan)

    async def up(self, timeout_ms=15000, stop=None):
        if self.isconnected():
            return True
        try:
            self.wlan.active(True)
            self.wlan.connect(self.ssid, self.key)  # returns at once; association goes on in the stack
        except OSError as e:
            self._log("wlan_error", err=repr(e))
            return False
        ok = await _until(self.isconnected, timeout_ms, stop)
        if not ok:
            self._log("wlan_timeout", ssid=self.ssid)
            await self.down()
        return ok

    async def down(self):
        try:
            self.wlan.disconnect()
            self.wlan.active(False)  # the radio draws ~100 mA while active
        except OSError:
            pass

    def _log(self, ev, **kw):
        if self.log is not None:
            self.log(ev, **kw)


class PppLink:
    """Cellular data: network.PPP over a stream to the modem, built by the board profile.

    dial / hangup: coroutines of the modem driver that put the modem into data mode (ATD*99# on the
    PDP context) and back to AT commands; None when the stream is a channel of its own (CMUX, a
    second UART). shared=True when the stream is the modem's only UART (the A7670E reference
    wiring): PPP then owns the AT channel while up, so the platform link brings it up only when no
    SMS is due and takes it down right after each exchange."""

    name = "ppp"

    def __init__(self, ppp, dial=None, hangup=None, shared=True, apn_user=None, apn_key=None, log=None, socks=None):
        # dial: coroutine function without arguments (the board binds the APN), True on CONNECT
        self.socks = socks or _default_socks()
        self.ppp = ppp
        self.dial = dial
        self.hangup = hangup
        self.shared = shared
        self.user = apn_user
        self.key = apn_key
        self.log = log
        self._dialed = False

    def isconnected(self):
        try:
            return bool(self.ppp.isconnected())
        except OSError:
            return False

    def dns(self):
        return _dns_of(self.ppp)

    async def up(self, timeout_ms=30000, stop=None):
        if self.isconnected():
            return True
        try:
            if self.dial is not None and not self._dialed:
                if not await self.dial():
                    self._log("ppp_dial_failed")
                    return False
                self._dialed = True
            self._connect()
        except OSError as e:
            self._log("ppp_error", err=repr(e))
            await self.down()
            return False
        ok = await _until(self.isconnected, timeout_ms, stop)
        if not ok:
            self._log("ppp_abandoned" if stop is not None and stop() else "ppp_timeout")
            await self.down()  # hangs up: the UART goes back to AT commands
        return ok

    def _connect(self):
        p = self.ppp
        if hasattr(p, "SEC_PAP"):  # MicroPython >= 1.24: connect(security, user, key)
            if self.user:
                p.connect(security=p.SEC_PAP, user=self.user, key=self.key or "")
            else:
                p.connect()
            return
        if hasattr(p, "active"):  # older ESP32 builds: active first, then authmode/username/password
            p.active(True)
        if self.user:
            p.connect(authmode=getattr(p, "AUTH_PAP", 1), username=self.user, password=self.key or "")
        else:
            p.connect()

    async def down(self):
        try:
            self.ppp.disconnect()
        except OSError:
            pass
        if self._dialed and self.hangup is not None:
            self._dialed = False
            try:
                await self.hangup()
            except OSError as e:
                self._log("ppp_hangup_error", err=repr(e))
        self._dialed = False

    def _log(self, ev, **kw):
        if self.log is not None:
            self.log(ev, **kw)


def make(spec, log=None, wlan=None, ppp=None, dial=None, hangup=None, socks=None, dns=None):
    """The link a platform config names ("link": "host" | "wlan" | "ppp"), from the interface objects
    the board offers (and, for the host link, the socket module and DNS server the board gives).
    ValueError if the board cannot provide it."""
    kind = spec.get("link", "host")
    if kind == "host":
        return HostLink(socks, dns)
    if kind == "wlan":
        if wlan is None:
            raise ValueError("this board has no Wi-Fi interface")
        w = spec.get("wlan") or {}
        return WlanLink(wlan, w.get("ssid"), w.get("key"), log=log, socks=socks)
    if kind == "ppp":
        if ppp is None:
            raise ValueError("this board has no PPP interface")
        a = spec.get("ppp") or {}
        return PppLink(ppp, dial, hangup, shared=dial is not None, apn_user=a.get("user"),
                       apn_key=a.get("key"), log=log, socks=socks)
    raise ValueError("unknown link %r" % (kind,))


def for_board(board, spec, log=None, modem=None):
    """The link for a board profile's data_link(): its Wi-Fi or PPP interface when the config names
    one (PPP runs on the modem's UART), else the host's network."""
    kind = spec.get("link", "host")
    wlan = board.wlan() if kind == "wlan" and hasattr(board, "wlan") else None
    ppp = dial = hangup = None
    if kind == "ppp" and hasattr(board, "ppp"):
        ppp, dial, hangup = board.ppp(modem, (spec.get("ppp") or {}).get("apn"))
    socks = board.sockets() if hasattr(board, "sockets") else None  # the simulated board's ESP32 imitation
    dns = board.dns_server() if hasattr(board, "dns_server") else None
    return make(spec, log, wlan=wlan, ppp=ppp, dial=dial, hangup=hangup, socks=socks, dns=dns)
