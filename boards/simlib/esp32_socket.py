# The ESP32's sockets, where the unix port's differ (issue 25), for the simulated board's data link
# (boards/sim.py sockets()) and the device tests. A stand-in for the `socket` module.
#
# On the ESP32 (lwIP), setblocking(True) is settimeout(None): a timeout set before is gone and the
# next read waits for ever. On the unix port setblocking(True) clears O_NONBLOCK but keeps the
# SO_RCVTIMEO that settimeout() set, so code that relies on its timeout surviving (umqtt.simple's
# wait_msg() does) passes on the unix port and hangs on the board. These sockets behave as the
# ESP32's, and note every call that makes a socket block (BLOCKING, and a "ESP32NET blocking" line
# on stdout that the simulator keeps in firmware.log): the platform link must make none.
# They are io.IOBase streams, so ssl can wrap them and select.poll can watch them, as real ones.
import io
import select
import usocket as _s

AF_INET = _s.AF_INET
SOCK_STREAM = _s.SOCK_STREAM
SOCK_DGRAM = _s.SOCK_DGRAM
SOL_SOCKET = _s.SOL_SOCKET
SO_REUSEADDR = _s.SO_REUSEADDR
getaddrinfo = _s.getaddrinfo

BLOCKING = []  # (call, argument) of every call that made a socket block or waited on one
QUIET = [False]  # True: do not print (tests that provoke blocking on purpose)
_POLL = 3  # MP_STREAM_POLL
_CLOSE = 4  # MP_STREAM_CLOSE


def _note(call, arg=None):
    BLOCKING.append((call, arg))
    if not QUIET[0]:
        print("ESP32NET blocking", call, arg)


class socket(io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, _wrap=None):
        self._s = _wrap if _wrap is not None else _s.socket(af, type, proto)
        self._blocking = True  # a new socket blocks, without a timeout, on the ESP32 as here
        self._timeout = None

    # --- blocking mode: the ESP32's rules -----------------------------------------------------------
    def setblocking(self, flag):
        if flag:
            _note("setblocking", True)
            self._blocking, self._timeout = True, None
            self._s.settimeout(None)  # the ESP32 drops the timeout; the unix port would keep it
        else:
            self._blocking, self._timeout = False, 0
            self._s.setblocking(False)

    def settimeout(self, t):
        if t == 0:
            self.setblocking(False)
            return
        _note("settimeout", t)
        self._blocking, self._timeout = True, t
        self._s.settimeout(t)

    def _io(self, call):
        if self._blocking:
            _note(call, self._timeout)

    # --- the socket API the firmware uses ------------------------------------------------------------
    def connect(self, addr):
        self._io("connect")
        return self._s.connect(addr)

    def read(self, n=-1):
        self._io("read")
        return self._s.read(n) if n >= 0 else self._s.read()

    def readinto(self, buf, n=None):
        self._io("readinto")
        return self._s.readinto(buf) if n is None else self._s.readinto(buf, n)

    def readline(self):
        self._io("readline")
        return self._s.readline()

    def write(self, buf, n=None):
        self._io("write")
        return self._s.write(buf) if n is None else self._s.write(buf, n)

    def send(self, buf):
        self._io("send")
        return self._s.send(buf)

    def recv(self, n):
        self._io("recv")
        return self._s.recv(n)

    def sendto(self, buf, addr):
        self._io("sendto")
        return self._s.sendto(buf, addr)

    def recvfrom(self, n):
        self._io("recvfrom")
        return self._s.recvfrom(n)

    def bind(self, addr):
        return self._s.bind(addr)

    def listen(self, n=1):
        return self._s.listen(n)

    def accept(self):
        self._io("accept")
        s, addr = self._s.accept()
        return socket(_wrap=s), addr

    def setsockopt(self, *a):
        return self._s.setsockopt(*a)

    def close(self):
        self._s.close()

    def ioctl(self, req, arg):
        if req == _POLL:  # select.poll and ssl ask through here
            p = select.poll()
            p.register(self._s, arg)
            r = p.poll(0)
            return r[0][1] if r else 0
        if req == _CLOSE:
            self._s.close()
            return 0
        return 0
