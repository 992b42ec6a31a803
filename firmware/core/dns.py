# DNS (RFC 1035) for the platform link's own name lookup: one A-record query and its answer. The
# socket module's getaddrinfo() blocks the whole event loop while the network's DNS server takes its
# time (lwIP on the ESP32: seconds); the link sends this query over a non-blocking UDP socket
# instead (firmware/platform/net.py) and keeps the button and the SMS running meanwhile.
# Pure functions on bytes; garbage is refused with ValueError, never an IndexError.

_RCODES = {1: "the DNS server could not read the query", 2: "the DNS server failed",
           3: "no such name", 4: "the DNS server does not do this", 5: "the DNS server refused"}


def is_ipv4(s):
    """True for a dotted IPv4 address ("192.0.2.1"): no lookup needed."""
    parts = s.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit() or int(p) > 255:
            return False
    return True


def query(name, ident):
    """The bytes of a recursive query for the A records of `name` (a checked host name)."""
    q = bytearray(12)
    q[0], q[1] = (ident >> 8) & 0xFF, ident & 0xFF
    q[2] = 0x01  # RD: the network's resolver does the recursion
    q[5] = 1  # one question
    for label in name.rstrip(".").split("."):
        b = label.encode()
        if not 1 <= len(b) <= 63:
            raise ValueError("bad label in %r" % name)
        q.append(len(b))
        q.extend(b)
    q.extend(b"\x00\x00\x01\x00\x01")  # root, type A, class IN
    return bytes(q)


def _skip_name(d, i):
    while True:
        if i >= len(d):
            raise ValueError("truncated name")
        n = d[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:  # compression pointer: two bytes end the name
            return i + 2
        if n & 0xC0:
            raise ValueError("bad label")
        i += 1 + n


def answer(d, ident):
    """The IPv4 addresses ("a.b.c.d") an answer to query(ident) carries. ValueError with plain words
    for an error answer (no such name, server failure); ValueError("not our answer") for a datagram
    that answers something else (a late or forged one: the caller keeps waiting)."""
    if len(d) < 12 or (d[0] << 8 | d[1]) != ident or not d[2] & 0x80:
        raise ValueError("not our answer")
    rcode = d[3] & 0x0F
    if rcode:
        raise ValueError(_RCODES.get(rcode, "DNS error %d" % rcode))
    qd, an = d[4] << 8 | d[5], d[6] << 8 | d[7]
    i = 12
    for _ in range(qd):
        i = _skip_name(d, i) + 4
    out = []
    for _ in range(an):
        i = _skip_name(d, i)
        if i + 10 > len(d):
            raise ValueError("truncated answer")
        rtype, rclass, rdlen = d[i] << 8 | d[i + 1], d[i + 2] << 8 | d[i + 3], d[i + 8] << 8 | d[i + 9]
        i += 10
        if i + rdlen > len(d):
            raise ValueError("truncated answer")
        if rtype == 1 and rclass == 1 and rdlen == 4:
            out.append("%d.%d.%d.%d" % (d[i], d[i + 1], d[i + 2], d[i + 3]))
        i += rdlen
    if not out:
        raise ValueError("the name has no IPv4 address")
    return out
