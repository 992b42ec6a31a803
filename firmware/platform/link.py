# The link to the association's platform (issues 9, 25): alert events and heartbeats, queued on flash
# (firmware/platform/queue.py) and published when the data link and the platform are reachable.
#
# SMS come first, always, whatever the network does:
#   - the alert listener only copies the event into RAM; this task writes it to flash and sends it;
#   - every socket is non-blocking and every connection and exchange has a TOTAL deadline
#     (timeout_s): the link waits in steps of a few ms (firmware/platform/net.py), so a slowed,
#     silent, half-answering or resetting peer never holds the button, the alert or the watchdog;
#   - nothing goes on the network while an alert is triggered or its SMS are being dispatched (the
#     gate): an exchange in flight stops at its next step; events of that time wait in the queue;
#   - a data link that borrows the modem's only UART (PPP) is held for one exchange at a time.
# Alerts first: alert events go before heartbeats; while they wait, retries come at least every
# 20 s (backoff_max_s otherwise) and a new alert event retries at once.
# Delivery is at least once: an event leaves the queue only when the platform acknowledged it
# (MQTT QoS 1 PUBACK, HTTP 2xx); each carries the queue's sequence number for deduplication.
import asyncio
import os
from micropython import const
from time import ticks_ms, ticks_diff, ticks_add

from firmware.platform import config as platform_config, events as pe
from firmware.platform.net import Conn, LinkError, Abandoned, forget
from firmware.core import uptime
from firmware.platform.queue import PlatformQueue, ALERT, TRIGGERED, EVIDENCE, OTHER, ALERT_KINDS

_BACKOFF_FIRST_MS = 2000
_ALERT_RETRY_MAX_MS = const(20000)  # retry ceiling while alert events wait (issue 25: <= 30 s)
_MIN_GAP_MS = 1000  # an alert event cuts a backoff wait short, never closer than this to the last try
_GATE_POLL_MS = 500
_RAM_MAX = 32  # events noted by listeners, not yet on flash
_COMMIT_MS = const(120000)  # evidence chain heads: at most one every 2 min between first and last
_HB_JITTER = 0.3
_LINK_DOWN = {"wlan": "Wi-Fi did not connect (wrong wlan.ssid or wlan.key, or out of range)",
              "ppp": "no cellular data connection (APN, SIM data plan, or no network)"}  # each heartbeat interval is heartbeat_s x (1 +- 0.3), drawn afresh


def rand():
    """A float in [0, 1) from the hardware RNG (os.urandom): the schedule cannot be predicted."""
    b = os.urandom(2)
    return (b[0] << 8 | b[1]) / 65536


def backoff_ms(attempt, cap_ms, rnd=rand):
    """Doubling from 2 s up to cap_ms, jittered DOWNWARDS (x 0.7..1.0): never above the cap, and a
    fleet does not retry in step after a broker restart."""
    d = _BACKOFF_FIRST_MS << min(max(attempt, 1) - 1, 12)
    if d > cap_ms:
        d = cap_ms
    return int(d * (0.7 + 0.3 * rnd()))


def heartbeat_interval_ms(heartbeat_s, rnd=rand):
    """heartbeat_s x (0.7..1.3): an observer of her network sees no exact period."""
    return int(heartbeat_s * 1000 * (1 - _HB_JITTER + 2 * _HB_JITTER * rnd()))


def tls_context(ca):
    """Server certificate required, checked against the platform's CA (DER); the connection passes
    the server name to wrap_socket, which checks it too."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca)
    return ctx


def _read_ca(path):
    with open(path, "rb") as f:  # OSError without a CA: no link rather than an unverified one
        return f.read()


def _no_dns():
    return None


class MqttTransport:
    """MQTT 3.1.1 (firmware/platform/mqtt.py), TLS with certificate verification against the
    platform's CA (DER file on flash), per-device user and password, QoS 1. socks: the data link's
    socket module; dns(): its DNS server (None: the socket module resolves, unix VM only)."""

    name = "mqtt"

    def __init__(self, pcfg, socks=None, dns=None, ca_path=platform_config.CA_PATH):
        if socks is None:
            import socket as socks
        self.m = pcfg["mqtt"]
        self.device = pcfg["device"]
        self.timeout_ms = pcfg["timeout_s"] * 1000
        self.socks = socks
        self.dns = dns or _no_dns
        self.ca = _read_ca(ca_path) if self.m["tls"] else None
        self._ctx = None
        self.session = None
        self._last_io = 0

    def context(self):
        if self._ctx is None:
            self._ctx = tls_context(self.ca)
        return self._ctx

    @property
    def connected(self):
        return self.session is not None

    async def connect(self, stop=None):
        from firmware.platform.mqtt import MqttSession
        m = self.m
        deadline = ticks_add(ticks_ms(), self.timeout_ms)  # lookup, TCP, TLS and CONNACK together
        conn = Conn(self.socks, stop)
        try:
            await conn.open(m["host"], m["port"], deadline, self.context() if m["tls"] else None, self.dns())
            s = MqttSession(conn, m["client_id"], m["user"], m["password"], m["keepalive"])
            await s.connect(deadline)
        except BaseException:
            conn.close()
            raise
        self.session = s
        self._last_io = uptime.ms()

    async def send(self, kind, payload, stop=None):
        if self.session is not None and uptime.ms() - self._last_io > self.m["keepalive"] * 1000:
            self.close()  # idle past its keepalive: the broker has dropped the session by now
        if self.session is None:
            await self.connect(stop)
        s = self.session
        s.conn.stop = stop
        topic = ("alerts/" if kind in ALERT_KINDS else "status/") + self.device
        try:
            await s.publish(topic, payload, ticks_add(ticks_ms(), self.timeout_ms))
        except BaseException:
            self.close()
            raise
        self._last_io = uptime.ms()

    def close(self):
        s, self.session = self.session, None
        if s is not None:
            s.disconnect()


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
    """POST each event as JSON to the platform's webhook (firmware/platform/http.py). The body is
    signed with HMAC-SHA256 under the device's secret (X-AB-Signature): the secret never travels,
    and the platform can tell a forged or altered event. 2xx = acknowledged. https:// is verified:
    certificate chained to the platform's CA and issued for the URL's host."""

    name = "http"
    connected = True

    def __init__(self, pcfg, socks=None, dns=None, ca_path=platform_config.CA_PATH):
        if socks is None:
            import socket as socks
        self.h = pcfg["http"]
        self.device = pcfg["device"]
        self.timeout_ms = pcfg["timeout_s"] * 1000
        self.socks = socks
        self.dns = dns or _no_dns
        scheme, self.host, self.port, self.path = platform_config.split_url(self.h["url"])
        self.default_port = 443 if scheme == "https" else 80
        self.ctx = tls_context(_read_ca(ca_path)) if scheme == "https" else None

    async def connect(self, stop=None):
        pass

    async def send(self, kind, payload, stop=None):
        import binascii
        from firmware.platform import http
        sig = binascii.hexlify(hmac_sha256(self.h["secret"], payload)).decode()
        conn = Conn(self.socks, stop)
        try:
            await conn.open(self.host, self.port, ticks_add(ticks_ms(), self.timeout_ms), self.ctx, self.dns())
            status = await http.post(conn, self.host, self.port, self.default_port, self.path, {
                "Content-Type": "application/json", "X-AB-Device": self.device,
                "X-AB-Kind": "alert" if kind in ALERT_KINDS else "heartbeat", "X-AB-Signature": "sha256=" + sig},
                payload, ticks_add(ticks_ms(), self.timeout_ms))
        finally:
            conn.close()
        if not 200 <= status < 300:
            raise http.refused(status, conn.where())

    def close(self):
        pass


def describe(e):
    """A failure in plain words, and its kind."""
    if isinstance(e, LinkError):
        return e.kind, str(e)
    if isinstance(e, OSError):
        return "network", "network error %r" % (e,)
    return "internal", "%s: %s" % (type(e).__name__, e)


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
        self.ram = []  # (kind, group, bytes) noted by listeners, written to flash by the task
        self.sent = 0
        self.failures = 0
        self.state = "starting"
        self.last_error = None  # (kind, plain words, uptime s)
        self.last_ok = None  # uptime s of the last acknowledged event
        self.retry_at = None  # uptime ms of the next attempt while backing off
        self.attempts = 0  # failed attempts in a row
        self.hb_interval_ms = None  # the interval drawn for the next heartbeat
        self._track = []
        self._track_alert = None
        self._wake = asyncio.Event()
        self._alert_news = False  # an alert event came since the last attempt
        self._reported_drops = queue.dropped
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
        self._note(pe.encode(doc), TRIGGERED if event == "triggered" else ALERT, mgr.alert_id)

    def on_evidence(self, rec, alert_id, index, head, final, signed=None):
        """Recorder chunk listener: publish the evidence chain head at the recording's first chunk,
        then at most every _COMMIT_MS, and at its last. A later head vouches for every earlier chunk,
        so the heads skipped in between lose nothing. Queued as alert events (sent first, topic
        alerts/<device>)."""
        now = uptime.ms()
        if not (final or index == 0 or self._commit_rec != rec
                or now - self._commit_at >= _COMMIT_MS):
            return
        self._commit_rec, self._commit_at = rec, now
        self._note(pe.encode(pe.evidence(self.device, rec, alert_id, index, head, final, signed)), EVIDENCE, rec)

    def heartbeat(self):
        s = self.status() if self.status is not None else {}
        counts = self.queue.counts()
        self._reported_drops = counts["dropped"]
        doc = pe.heartbeat(self.device, s.get("battery"), s.get("csq"), s.get("registered"), s.get("fix"),
                           counts, s.get("alert_state"), uptime.seconds(), with_fix=self.cfg.get("heartbeat_fix", False))
        self._note(pe.encode(doc), OTHER)

    def _note(self, data, kind, group=0):
        if kind is True or kind is False:
            kind = ALERT if kind else OTHER
        if len(self.ram) >= _RAM_MAX:  # the task is behind: lose a superseded state, never a trigger
            for i in range(len(self.ram)):
                if self.ram[i][0] != TRIGGERED:
                    k = self.ram.pop(i)[0]
                    self.queue.count_drop("ram", kind=k)
                    break
        self.ram.append((kind, group, data))
        if kind in ALERT_KINDS:
            self._alert_news = True
        self._wake.set()

    # --- what the console shows --------------------------------------------------------------------
    def summary(self):
        """State, counts and the last error in plain words (AB1 platform, AB1 hello)."""
        c = self.queue.counts()
        now = uptime.seconds()
        out = {"state": self.state, "connected": bool(self.transport.connected), "sent": self.sent,
               "failures": self.failures, "pending": c["pending"] + len(self.ram), "alerts": c["alerts"],
               "dropped": c["dropped"], "error": None}
        if self.last_error is not None:
            kind, text, at = self.last_error
            if self.last_ok is None or self.last_ok < at:  # not cleared by a success since
                out["error"] = text
                out["error_kind"] = kind
                out["error_age_s"] = now - at
        if self.last_ok is not None:
            out["ok_age_s"] = now - self.last_ok
        if self.retry_at is not None:
            out["retry_in_s"] = max(0, (self.retry_at - uptime.ms()) // 1000)
        return out

    # --- the task ---------------------------------------------------------------------------------
    def start(self):
        self.task = asyncio.create_task(self.run())
        return self.task

    def _to_flash(self):
        for _ in range(3):
            while self.ram:
                kind, group, data = self.ram.pop(0)
                try:
                    self.queue.put(data, kind=kind, group=group)
                except (OSError, ValueError) as e:
                    self.log("platform_queue_error", err=repr(e))
            if self.queue.dropped == self._reported_drops:
                return
            self.heartbeat()  # drops are reported by a heartbeat made after them (it replaces the queued one)

    async def _sleep(self, ms):
        if ms <= 0:
            return
        try:
            await asyncio.wait_for_ms(self._wake.wait(), ms)
        except asyncio.TimeoutError:
            pass
        self._wake.clear()

    def _cap_ms(self):
        cap = self.cfg["backoff_max_s"] * 1000
        if self.queue.counts()["alerts"] or self._alert_news:
            cap = min(cap, _ALERT_RETRY_MAX_MS)
        return cap

    async def _backoff(self, wait):
        """Wait before the next attempt; a new alert event ends the wait (not before _MIN_GAP_MS)."""
        t0 = ticks_ms()
        self._alert_news = False
        self.retry_at = uptime.ms() + wait
        while True:
            left = wait - ticks_diff(ticks_ms(), t0)
            if left <= 0:
                break
            await self._sleep(left)
            self._to_flash()  # what the listeners noted meanwhile goes to flash now
            if self._alert_news:
                gap = _MIN_GAP_MS - ticks_diff(ticks_ms(), t0)
                if gap > 0:
                    await asyncio.sleep_ms(gap)
                break
        self.retry_at = None

    async def run(self):
        hb_next = ticks_ms()  # one at boot: the platform sees the device come up
        self.log("platform_start", transport=self.transport.name, link=self.link.name, queued=len(self.queue))
        while True:
            if ticks_diff(ticks_ms(), hb_next) >= 0:
                self.hb_interval_ms = heartbeat_interval_ms(self.cfg["heartbeat_s"])
                hb_next = ticks_add(ticks_ms(), self.hb_interval_ms)
                self.heartbeat()
            self._to_flash()
            if not len(self.queue):
                self.state = "idle"
                await self._idle()
                await self._sleep(min(ticks_diff(hb_next, ticks_ms()),
                                      self._linger_left() or self.cfg["heartbeat_s"] * 1000))
                continue
            if not self.gate():
                self.state = "waiting for the SMS"
                if self.link.shared:  # hand the modem's UART back before the next SMS
                    await self._release()
                await self._sleep(_GATE_POLL_MS)
                continue
            if self._alert_news:
                self.attempts = 0  # a new alert event: retry now, and soon after if it fails
            self._alert_news = False
            if await self._exchange():
                self.attempts = 0
                continue
            self.attempts += 1
            wait = backoff_ms(self.attempts, self._cap_ms())
            self.state = "retrying"
            self.log("platform_retry", attempt=self.attempts, in_ms=wait, pending=len(self.queue))
            await self._backoff(wait)

    async def _exchange(self):
        """Send what the queue holds; False on any failure (the events stay queued)."""
        try:
            if not self.link.isconnected():
                self.state = "bringing up " + self.link.name
                if not await self.link.up(stop=self._sms_due):
                    if not self.gate():
                        return True  # given up for SMS, not a failure: no backoff
                    raise LinkError("link", _LINK_DOWN.get(self.link.name, "the data link did not come up"))
            if not self.gate():
                return True
            if not self.transport.connected:
                self.state = "connecting"
                await self.transport.connect(self._sms_due)
                self.log("platform_connected", transport=self.transport.name)
            self.state = "sending"
            while len(self.queue) and self.gate():
                seq, kind, data = self.queue.next()
                try:
                    payload = pe.with_seq(data, seq)
                except ValueError:
                    self.log("platform_bad_event", seq=seq)
                    self.queue.ack(seq)  # unreadable on flash: sending it would fail forever
                    continue
                await self.transport.send(kind, payload, self._sms_due)
                self.queue.ack(seq)
                self.sent += 1
                self._last_event = uptime.ms()
                self.last_ok = uptime.seconds()
                self._to_flash()
            self.state = "connected" if self.transport.connected else "idle"
            if self.link.shared:
                await self._release()
            return True
        except Abandoned:  # SMS are due: stop where we are, no backoff, nothing lost
            self.log("platform_paused", why="sms")
            self.transport.close()
            if self.link.shared:
                await self.link.down()
            return True
        except Exception as e:  # LinkError, OSError, a broken reply: retry later, never crash
            self.failures += 1
            kind, text = describe(e)
            self.last_error = (kind, text, uptime.seconds())
            self.log("platform_error", kind=kind, err=text, pending=len(self.queue))
            self.transport.close()
            if kind in ("refused", "timeout", "unreachable"):
                forget()
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


def transport_for(pcfg, link, ca_path=platform_config.CA_PATH):
    """The transport the config names, on the data link's sockets and DNS server."""
    socks = getattr(link, "socks", None)
    dns = getattr(link, "dns", None)
    if pcfg["transport"] == "mqtt":
        return MqttTransport(pcfg, socks, dns, ca_path)
    return HttpTransport(pcfg, socks, dns, ca_path)


def from_app(app, path=platform_config.PATH):
    """The platform link for a running App, or None when the device has no platform.json. Raises
    (ValueError, OSError, ImportError) when the config is unusable: App logs it and goes on."""
    pcfg = platform_config.load(path)
    if pcfg is None:
        return None
    from firmware.alert.manager import TRIGGERED as A_TRIGGERED, DISPATCHING
    if not hasattr(app.board, "data_link"):
        raise ValueError("this board offers no data link for the platform")
    link = app.board.data_link(pcfg, app.log, app.modem)  # host, Wi-Fi or PPP: the board's choice
    transport = transport_for(pcfg, link)
    queue = PlatformQueue("pq", pcfg["queue_items"], pcfg["queue_bytes"], log=app.log)
    alert = app.alert
    pl = PlatformLink(pcfg, queue, link, transport, app.log,
                      gate=lambda: alert.state not in (A_TRIGGERED, DISPATCHING), status=status_of(app))
    alert.listeners.append(pl.on_alert)
    if getattr(app, "recorder", None) is not None:
        app.recorder.chunk_listeners.append(pl.on_evidence)
    return pl
