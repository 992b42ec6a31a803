# The link to the association's platform (issue 9): alert events and heartbeats, queued on flash
# (firmware/platform/queue.py) and published when the data link and the platform are reachable.
#
# SMS come first, always:
#   - the alert listener only copies the event into RAM; this task writes it to flash and sends it;
#   - nothing goes on the network while an alert is triggered or its SMS are being dispatched (the
#     gate); events of that time wait in the queue and leave right after;
#   - umqtt.simple and requests use blocking sockets: every socket gets a timeout (timeout_s), so a
#     silent network stops the event loop for one bounded step at most, never indefinitely;
#   - a data link that borrows the modem's only UART (PPP) is held for one exchange at a time.
# Delivery is at least once: an event leaves the queue only when the platform acknowledged it
# (MQTT QoS 1 PUBACK, HTTP 2xx); each carries the queue's sequence number for deduplication.
import asyncio
import random
from micropython import const
from time import ticks_ms, ticks_diff, ticks_add

from firmware.platform import config as platform_config, events as pe
from firmware.core import uptime
from firmware.platform.queue import PlatformQueue, ALERT

_BACKOFF_FIRST_MS = 2000
_GATE_POLL_MS = 500
_RAM_MAX = 16  # events noted by listeners, not yet on flash
_COMMIT_MS = const(120000)  # evidence chain heads: at most one every 2 min between first and last


def backoff_ms(attempt, cap_ms, rnd=random.random):
    d = _BACKOFF_FIRST_MS << min(max(attempt, 1) - 1, 10)
    if d > cap_ms:
        d = cap_ms
    return int(d * (0.8 + 0.4 * rnd()))


class _Sockets:
    """Stands in for the `socket` module inside umqtt.simple: the same socket() and getaddrinfo(),
    but each socket gets a timeout (the library opens its own, blocking, without one) and name
    lookups are cached (a DNS query blocks too)."""

    def __init__(self, real, timeout_s):
        self._real = real
        self.timeout = timeout_s
        self.last = None
        self._ai = {}

    def socket(self, *args):
        s = self._real.socket(*args)
        s.settimeout(self.timeout)
        self.last = s
        return s

    def getaddrinfo(self, host, port, *args):
        key = (host, port)
        ai = self._ai.get(key)
        if ai is None:
            ai = self._real.getaddrinfo(host, port, *args)
            self._ai[key] = ai
        return ai

    def forget(self):
        self._ai = {}

    def rearm(self):
        # umqtt's wait_msg() calls setblocking(True), which on the ESP32 drops the timeout
        if self.last is not None:
            self.last.settimeout(self.timeout)


class _TlsSockets(_Sockets):
    """requests' `socket` module for an https:// webhook. micropython-lib's requests wraps its
    socket with CERT_NONE (no check at all): HttpTransport hands it an http:// URL to the same host
    and port instead, and the sockets made here do TLS themselves right after connect(): server
    certificate required, chained to the platform's CA, issued for `host`."""

    def __init__(self, real, timeout_s, ctx, host):
        super().__init__(real, timeout_s)
        self.SOCK_STREAM = real.SOCK_STREAM  # requests reads it from its `socket`
        self.ctx = ctx
        self.host = host

    def socket(self, *args):
        return _TlsSocket(_Sockets.socket(self, *args), self.ctx, self.host)


class _TlsSocket:
    def __init__(self, sock, ctx, host):
        self.s = sock
        self.ctx = ctx
        self.host = host

    def connect(self, addr):
        self.s.connect(addr)
        try:
            self.s = self.ctx.wrap_socket(self.s, server_hostname=self.host)
        except (OSError, ValueError) as e:  # MicroPython says why with a ValueError (bad chain, name)
            self.s.close()
            why = e.args[0] if e.args else ""
            if isinstance(why, int) and why >= 0:
                raise  # a network error (timeout, reset), not a verdict on the server
            raise OSError("TLS: %s not verified against the platform CA: %s" % (self.host, str(why).strip()))

    def settimeout(self, t):
        self.s.settimeout(t)

    def write(self, b):
        return self.s.write(b)

    def send(self, b):
        return self.s.write(b)

    def read(self, *n):
        return self.s.read(*n)

    def recv(self, n):
        return self.s.read(n)

    def readinto(self, *a):
        return self.s.readinto(*a)

    def readline(self):
        return self.s.readline()

    def close(self):
        self.s.close()


def tls_context(ca):
    """Server certificate required, checked against the platform's CA (DER); the caller passes the
    server name to wrap_socket, which checks it too."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca)
    return ctx


def split_https(url):
    """'https://host[:port]/path' -> (host, port, 'http://host:port/path') for requests."""
    rest = url[8:]
    i = rest.find("/")
    hostport, path = (rest, "") if i < 0 else (rest[:i], rest[i:])
    host, port = hostport, 443
    j = hostport.rfind(":")
    if j > 0:
        host, port = hostport[:j], int(hostport[j + 1:])
    return host, port, "http://%s:%d%s" % (host, port, path or "/")


class MqttTransport:
    """umqtt.simple from micropython-lib (installed with mip), TLS with certificate verification
    against the platform's CA (DER file on flash), per-device user and password, QoS 1."""

    name = "mqtt"

    def __init__(self, pcfg, ca_path=platform_config.CA_PATH, client_module=None):
        import socket
        if client_module is None:
            from umqtt import simple as client_module
        self.m = pcfg["mqtt"]
        self.device = pcfg["device"]
        self.sockets = _Sockets(socket, pcfg["timeout_s"])
        client_module.socket = self.sockets  # the library's module global: its sockets get timeouts
        self.mod = client_module
        self.ca = None
        self._ctx = None
        if self.m["tls"]:
            with open(ca_path, "rb") as f:  # OSError without a CA: no link rather than an unverified one
                self.ca = f.read()
        self.client = None

    def context(self):
        """The TLS context: server certificate required, checked against the platform's CA."""
        if self._ctx is None:
            self._ctx = tls_context(self.ca)
        return self._ctx

    @property
    def connected(self):
        return self.client is not None

    def connect(self):
        m = self.m
        ctx = self.context() if m["tls"] else None
        c = self.mod.MQTTClient(m["client_id"], m["host"], m["port"], m["user"], m["password"],
                                m["keepalive"], ssl=ctx if ctx is not None else False)
        if ctx is not None and hasattr(c, "ssl_params"):
            # umqtt.simple < 1.4 (the PyPI release) wraps with ussl.wrap_socket(sock, **ssl_params)
            # instead of ssl.wrap_socket(): give it the same checks (CA, hostname, required)
            import ssl
            c.ssl_params = {"cert_reqs": ssl.CERT_REQUIRED, "cadata": self.ca, "server_hostname": m["host"]}
        try:
            c.connect()
        except Exception:
            self.sockets.forget()  # the address may have changed
            _close_sock(c)
            raise
        self.client = c

    def send(self, kind, payload):
        topic = ("alerts/" if kind == ALERT else "status/") + self.device
        self.sockets.rearm()
        self.client.publish(topic.encode(), payload, qos=1)  # returns on the broker's PUBACK

    def close(self):
        c, self.client = self.client, None
        if c is not None:
            try:
                c.disconnect()
            except Exception:
                pass
            _close_sock(c)


def _close_sock(c):
    try:
        if c.sock is not None:
            c.sock.close()
    except Exception:
        pass


def hmac_sha256(key, msg):
    import hashlib
    if isinstance(key, str):
        key = key.encode()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + b"\0" * (64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


class HttpTransport:
    """POST each event as JSON to the platform's webhook with `requests` (micropython-lib). The body
    is signed with HMAC-SHA256 under the device's secret (X-AB-Signature): the secret never travels,
    and the platform can tell a forged or altered event. 2xx = acknowledged."""

    name = "http"
    connected = True

    def __init__(self, pcfg, requests_module=None, ca_path=platform_config.CA_PATH):
        if requests_module is None:
            import requests as requests_module
        self.req = requests_module
        self.h = pcfg["http"]
        self.device = pcfg["device"]
        self.timeout = pcfg["timeout_s"]
        self.url = self.h["url"]
        self.sockets = None
        if self.url.startswith("https://"):
            import socket
            with open(ca_path, "rb") as f:  # OSError without a CA: no link rather than an unverified one
                ca = f.read()
            host, _port, self.url = split_https(self.url)
            # the library's module global: its sockets are verified TLS ones (see _TlsSockets)
            self.sockets = _TlsSockets(socket, self.timeout, tls_context(ca), host)
            requests_module.socket = self.sockets

    def connect(self):
        pass

    def send(self, kind, payload):
        import binascii
        sig = binascii.hexlify(hmac_sha256(self.h["secret"], payload)).decode()
        try:
            r = self.req.post(self.url, data=payload, timeout=self.timeout, headers={
                "Content-Type": "application/json", "X-AB-Device": self.device,
                "X-AB-Kind": "alert" if kind == ALERT else "heartbeat", "X-AB-Signature": "sha256=" + sig})
        except Exception:
            if self.sockets is not None:
                self.sockets.forget()  # the address may have changed
            raise
        try:
            status = r.status_code
        finally:
            r.close()
        if not 200 <= status < 300:
            raise OSError("platform answered HTTP %d" % status)

    def close(self):
        pass


class PlatformLink:
    def __init__(self, pcfg, queue, datalink, transport, log, gate=None, status=None):
        self.cfg = pcfg
        self.device = pcfg["device"]
        self.queue = queue
        self.link = datalink
        self.transport = transport
        self.log = log
        self.gate = gate or (lambda: True)  # False while SMS are due: no network then
        self.status = status  # callable -> {"battery", "csq", "registered", "fix", "alert_state"}
        self.ram = []  # (alert?, bytes) noted by listeners, written to flash by the task
        self.sent = 0
        self.failures = 0
        self._track = []
        self._track_alert = None
        self._wake = asyncio.Event()
        self._last_event = uptime.ms()
        self._commit_rec = None  # recording and time of the last evidence commitment
        self._commit_at = 0
        self.task = None

    # --- producers (called from other tasks: no I/O here) ----------------------------------------
    def on_alert(self, event, mgr):
        """AlertManager listener: snapshot the alert into RAM and wake the task."""
        if mgr.alert_id != self._track_alert:
            self._track, self._track_alert = [], mgr.alert_id
        lastfix = getattr(mgr, "lastfix", None)
        pe.add_position(self._track, lastfix.best() if lastfix is not None else None)
        ob = mgr.outbox
        recs = ob.recs if ob.alert_id == mgr.alert_id else []  # at "triggered": the last alert's
        doc = pe.alert_event(self.device, event, mgr.alert_id, mgr.kind, mgr.state,
                             getattr(mgr, "source", None) or mgr.kind, self._track, recs)
        self._note(pe.encode(doc), True)

    def on_evidence(self, rec, alert_id, index, head, final):
        """Recorder chunk listener: publish the evidence chain head at the recording's first chunk,
        then at most every _COMMIT_MS, and at its last. A later head vouches for every earlier chunk,
        so the heads skipped in between lose nothing. Queued as alert events (sent first, topic
        alerts/<device>)."""
        now = uptime.ms()
        if not (final or index == 0 or self._commit_rec != rec
                or now - self._commit_at >= _COMMIT_MS):
            return
        self._commit_rec, self._commit_at = rec, now
        self._note(pe.encode(pe.evidence(self.device, rec, alert_id, index, head, final)), True)

    def heartbeat(self):
        s = self.status() if self.status is not None else {}
        doc = pe.heartbeat(self.device, s.get("battery"), s.get("csq"), s.get("registered"), s.get("fix"),
                           self.queue.counts(), s.get("alert_state"), uptime.seconds())
        self._note(pe.encode(doc), False)

    def _note(self, data, alert):
        if len(self.ram) >= _RAM_MAX:
            self.ram.pop(0)
            self.log("platform_ram_drop")
        self.ram.append((alert, data))
        self._wake.set()

    # --- the task ---------------------------------------------------------------------------------
    def start(self):
        self.task = asyncio.create_task(self.run())
        return self.task

    def _to_flash(self):
        while self.ram:
            alert, data = self.ram.pop(0)
            try:
                self.queue.put(data, alert=alert)
            except (OSError, ValueError) as e:
                self.log("platform_queue_error", err=repr(e))

    async def _sleep(self, ms):
        if ms <= 0:
            return
        try:
            await asyncio.wait_for_ms(self._wake.wait(), ms)
        except asyncio.TimeoutError:
            pass
        self._wake.clear()

    async def run(self):
        hb_ms = self.cfg["heartbeat_s"] * 1000
        hb_next = ticks_ms()  # one at boot: the platform sees the device come up
        attempt = 0
        self.log("platform_start", transport=self.transport.name, link=self.link.name, queued=len(self.queue))
        while True:
            if ticks_diff(ticks_ms(), hb_next) >= 0:
                hb_next = ticks_add(ticks_ms(), hb_ms)
                self.heartbeat()
            self._to_flash()
            if not len(self.queue):
                await self._idle()
                await self._sleep(min(ticks_diff(hb_next, ticks_ms()), self._linger_left() or hb_ms))
                continue
            if not self.gate():
                if self.link.shared:  # hand the modem's UART back before the next SMS
                    await self._release()
                await self._sleep(_GATE_POLL_MS)
                continue
            if await self._exchange():
                attempt = 0
                continue
            attempt += 1
            cap = self.cfg["backoff_max_s"] * 1000
            wait = backoff_ms(attempt, cap)
            self.log("platform_retry", attempt=attempt, in_ms=wait, pending=len(self.queue))
            t0 = ticks_ms()
            await self._sleep(wait)
            # a new event may cut a long wait short, never below the first step
            rest = min(_BACKOFF_FIRST_MS, cap) - ticks_diff(ticks_ms(), t0)
            if rest > 0:
                await asyncio.sleep_ms(rest)

    async def _exchange(self):
        """Send what the queue holds; False on any failure (the events stay queued)."""
        try:
            if not self.link.isconnected():
                if not await self.link.up(stop=self._sms_due):
                    if not self.gate():
                        return True  # given up for SMS, not a failure: no backoff
                    self.log("platform_link_down", link=self.link.name)
                    return False
            if not self.gate():
                return True
            if not self.transport.connected:
                self.transport.connect()
                self.log("platform_connected", transport=self.transport.name)
                await asyncio.sleep_ms(0)
            while len(self.queue) and self.gate():
                seq, kind, data = self.queue.next()
                try:
                    payload = pe.with_seq(data, seq)
                except ValueError:
                    self.log("platform_bad_event", seq=seq)
                    self.queue.ack(seq)  # unreadable on flash: sending it would fail forever
                    continue
                self.transport.send(kind, payload)
                self.queue.ack(seq)
                self.sent += 1
                self._last_event = uptime.ms()
                await asyncio.sleep_ms(0)  # let the button, alert and modem tasks run between events
                self._to_flash()
            if self.link.shared:
                await self._release()
            return True
        except Exception as e:  # OSError, MQTTException, a broken reply: retry later, never crash
            self.failures += 1
            self.log("platform_error", err=repr(e), pending=len(self.queue))
            self.transport.close()
            if self.link.shared:
                await self.link.down()
            return False

    def _sms_due(self):
        return not self.gate()

    def _linger_left(self):
        if not self.transport.connected or self.link.shared:
            return 0
        return max(1, self.cfg["linger_s"] * 1000 - (uptime.ms() - self._last_event))

    async def _idle(self):
        if self.transport.connected and (self.link.shared or
                                         uptime.ms() - self._last_event >= self.cfg["linger_s"] * 1000):
            await self._release()

    async def _release(self):
        if self.transport.connected:
            self.transport.close()
            self.log("platform_disconnected")
        if self.link.shared and self.link.isconnected():
            await self.link.down()


def status_of(app):
    """The heartbeat's facts from the running App."""
    def status():
        modem = app.modem
        try:
            bat = app.board.battery_percent()
        except Exception:
            bat = None
        return {"battery": bat, "csq": getattr(modem, "csq", None), "registered": getattr(modem, "registered", False),
                "fix": app.lastfix.best(), "alert_state": app.alert.state}
    return status


def from_app(app, path=platform_config.PATH):
    """The platform link for a running App, or None when the device has no platform.json. Raises
    (ValueError, OSError, ImportError) when the config is unusable: App logs it and goes on."""
    pcfg = platform_config.load(path)
    if pcfg is None:
        return None
    from firmware.alert.manager import TRIGGERED, DISPATCHING
    if not hasattr(app.board, "data_link"):
        raise ValueError("this board offers no data link for the platform")
    link = app.board.data_link(pcfg, app.log, app.modem)  # host, Wi-Fi or PPP: the board's choice
    if pcfg["transport"] == "mqtt":
        transport = MqttTransport(pcfg)
    else:
        transport = HttpTransport(pcfg)
    queue = PlatformQueue("pq", pcfg["queue_items"], pcfg["queue_bytes"], log=app.log)
    alert = app.alert
    pl = PlatformLink(pcfg, queue, link, transport, app.log,
                      gate=lambda: alert.state not in (TRIGGERED, DISPATCHING), status=status_of(app))
    alert.listeners.append(pl.on_alert)
    if getattr(app, "recorder", None) is not None:
        app.recorder.chunk_listeners.append(pl.on_evidence)
    return pl
