"""Network faults between the button and its platform (issue 25), on loopback, for the end-to-end
tests. Each is a TCP server the button's platform.json points at instead of the broker:

  slow    a box on the path that passes the broker's own bytes along (TLS included: nothing forged,
          the certificates are the real ones), one byte every `interval` seconds (hers go at once);
  silent  accepts the connection, reads everything, never answers, never closes;
  half    forwards the broker's answers whole until the connection is set up (the MQTT CONNACK, in
          TLS or not), then only the first byte of the next one (the PUBACK), then nothing;
  reset   forwards the broker's first answer (the TLS ServerHello, or the CONNACK), then resets
          the connection (RST).

`engaged` is set each time the fault bites (a connection it starts to hold, or a reset); a test
clears it and waits for it, to make the alert gesture while the button's link is caught. Plus a DNS server that never
answers (dns_silent) and one that answers after `delay` seconds."""
import select
import socket
import struct
import threading
import time


def _listener():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    return srv


def _rst(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass


class _Units:
    """Cuts a byte stream from the broker into its units: TLS records (5-byte header) or MQTT
    packets (fixed header + remaining length)."""

    def __init__(self, tls):
        self.tls = tls
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            n = self._size()
            if n is None or len(self.buf) < n:
                return out
            out.append(self.buf[:n])
            self.buf = self.buf[n:]

    def _size(self):
        b = self.buf
        if self.tls:
            return 5 + (b[3] << 8 | b[4]) if len(b) >= 5 else None
        if len(b) < 2:
            return None
        n, shift, i = 0, 0, 1
        while i < len(b):
            n |= (b[i] & 0x7F) << shift
            if not b[i] & 0x80:
                return i + 1 + n
            shift += 7
            i += 1
        return None


class FaultPeer:
    def __init__(self, mode, target_port=None, tls=True, interval=1.0):
        self.mode = mode
        self.target = target_port
        self.tls = tls
        self.interval = interval
        self.srv = _listener()
        self.port = self.srv.getsockname()[1]
        self.engaged = threading.Event()
        self.connections = 0
        self._socks = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.connections += 1
            self._socks.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            getattr(self, "_" + self.mode)(c)
        except OSError:
            pass

    def _upstream(self):
        u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        u.settimeout(None)
        self._socks.append(u)
        return u

    def _silent(self, c):
        self.engaged.set()
        while not self._stop and c.recv(4096):
            pass

    def _slow(self, c):
        u = self._upstream()
        self.engaged.set()  # from its first byte, the connection crawls
        pending = b""  # the broker's bytes, passed on one per interval
        last = time.monotonic()
        while not self._stop:
            r, _, _ = select.select([c, u], [], [], 0.05)
            if c in r:  # her side goes through at once: it is the broker's answers that crawl
                data = c.recv(4096)
                if not data:
                    return
                u.sendall(data)
            if u in r:
                data = u.recv(4096)
                if not data:
                    return
                pending += data
            if pending and time.monotonic() - last >= self.interval:
                last = time.monotonic()
                c.sendall(pending[:1])
                pending = pending[1:]

    def _half(self, c):
        u = self._upstream()
        units = _Units(self.tls)
        app = 0  # answers of the application (TLS application data records, or MQTT packets) passed
        while not self._stop:
            r, _, _ = select.select([c, u], [], [], 0.5)
            if c in r:
                data = c.recv(4096)
                if not data:
                    return
                u.sendall(data)
            if u in r:
                data = u.recv(4096)
                if not data:
                    return
                for unit in units.feed(data):
                    is_app = unit[0] == 23 if self.tls else True
                    if is_app and app >= 1:  # past the CONNACK: one byte of this answer, then silence
                        c.sendall(unit[:1])
                        self.engaged.set()
                        while not self._stop and c.recv(4096):
                            pass
                        return
                    c.sendall(unit)
                    app += is_app

    def _reset(self, c):
        u = self._upstream()
        while not self._stop:
            r, _, _ = select.select([c, u], [], [], 0.5)
            if c in r:
                data = c.recv(4096)
                if not data:
                    return
                u.sendall(data)
            if u in r:
                data = u.recv(4096)
                if not data:
                    return
                c.sendall(data)
                time.sleep(0.05)
                _rst(c)
                _rst(u)
                self.engaged.set()
                return

    def close(self):
        self._stop = True
        try:
            self.srv.close()
        except OSError:
            pass
        for s in self._socks:
            _rst(s)


class DnsServer:
    """UDP DNS on loopback: `names` ({name: ip}) answered after `delay` s, other names "no such
    name"; silent=True: reads queries and never answers (the router of someone who watches her)."""

    def __init__(self, names=None, silent=False, delay=0.0):
        self.names = names or {}
        self.silent = silent
        self.delay = delay
        self.queries = 0
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]
        self.engaged = threading.Event()
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self._stop:
            try:
                q, addr = self.s.recvfrom(512)
            except OSError:
                return
            self.queries += 1
            self.engaged.set()
            if self.silent:
                continue
            threading.Timer(self.delay, self._answer, args=(q, addr)).start()

    def _answer(self, q, addr):
        name, i = [], 12
        while q[i]:
            name.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        ip = self.names.get(".".join(name))
        a = bytearray(q)
        a[2], a[3] = 0x81, 0x80 if ip else 0x83
        if ip:
            a[7] = 1
            a += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton(ip)
        try:
            self.s.sendto(bytes(a), addr)
        except OSError:
            pass

    def close(self):
        self._stop = True
        self.s.close()
