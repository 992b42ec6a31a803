# MQTT 3.1.1 (OASIS), the part the button uses: CONNECT with a user and password and a clean
# session, PUBLISH at QoS 1 and its PUBACK, DISCONNECT. It replaces umqtt.simple (issue 25), whose
# synchronous calls block the event loop and whose wait_msg() calls setblocking(True) (on the ESP32
# that removes the socket's timeout: a broker stopping half-way through an acknowledgement held the
# firmware for ever). Here every byte goes through firmware/platform/net.py's Conn: non-blocking
# steps, one total deadline per exchange.
from firmware.platform.net import LinkError

_CONNACK = {1: "it does not speak MQTT 3.1.1", 2: "it refused this client id",
            3: "the broker is unavailable", 4: "wrong user name or password",
            5: "not authorized: wrong password, or this device was revoked on the broker"}
_MAX_PACKET = 4096  # the broker sends us CONNACK, PUBACK, PINGRESP: a few bytes each


def _field(s):
    b = s.encode() if isinstance(s, str) else s
    return bytes((len(b) >> 8, len(b) & 0xFF)) + b


def _length(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def connect_packet(client_id, user, password, keepalive):
    flags = 0x02  # clean session: nothing is kept on the broker for the button
    payload = _field(client_id)
    if user is not None:
        flags |= 0x80
        payload += _field(user)
        if password is not None:
            flags |= 0x40
            payload += _field(password)
    var = b"\x00\x04MQTT\x04" + bytes((flags, keepalive >> 8, keepalive & 0xFF))
    return b"\x10" + _length(len(var) + len(payload)) + var + payload


def publish_header(topic, pid, size):
    """PUBLISH, QoS 1, not retained: fixed header, topic and packet id (the payload follows)."""
    var = _field(topic) + bytes((pid >> 8, pid & 0xFF))
    return b"\x32" + _length(len(var) + size) + var


class MqttSession:
    def __init__(self, conn, client_id, user, password, keepalive):
        self.conn = conn
        self.client_id = client_id
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.pid = 0

    async def connect(self, deadline):
        c = self.conn
        await c.write(connect_packet(self.client_id, self.user, self.password, self.keepalive), deadline)
        kind, body = await self._packet(deadline, "wait for the broker's CONNACK")
        if kind != 0x20 or len(body) != 2:
            raise LinkError("protocol", "%s answered with MQTT packet type %d, not a CONNACK: is it an MQTT "
                            "broker?" % (c.where(), kind >> 4))
        rc = body[1]
        if rc:
            raise LinkError("auth" if rc in (4, 5) else "refused", "the broker at %s refused the device: %s "
                            "(CONNACK %d)" % (c.where(), _CONNACK.get(rc, "reason %d" % rc), rc))

    async def publish(self, topic, payload, deadline):
        """Returns on the broker's PUBACK for this message (QoS 1)."""
        self.pid = self.pid % 65535 + 1
        pid = self.pid
        await self.conn.write(publish_header(topic, pid, len(payload)) + payload, deadline)
        while True:
            kind, body = await self._packet(deadline, "wait for the broker's PUBACK")
            if kind == 0x40 and len(body) == 2 and (body[0] << 8 | body[1]) == pid:
                return
            # anything else (PINGRESP, the PUBACK of an attempt abandoned earlier): not ours

    async def _packet(self, deadline, phase):
        c = self.conn
        head = (await c.read(1, deadline, phase))[0]
        n = 0
        for shift in (0, 7, 14, 21):
            b = (await c.read(1, deadline))[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                break
        else:
            raise LinkError("protocol", "%s sent a malformed MQTT packet" % c.where())
        if n > _MAX_PACKET:
            raise LinkError("protocol", "%s sent an MQTT packet of %d bytes: not a broker's answer" % (c.where(), n))
        return head & 0xF0, (await c.read(n, deadline) if n else b"")

    def disconnect(self):
        """DISCONNECT if the socket takes it at once (never waits), then close."""
        try:
            self.conn.s.write(b"\xe0\x00")
        except Exception:
            pass
        self.conn.close()
