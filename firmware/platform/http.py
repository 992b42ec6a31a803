# One HTTP/1.1 POST over firmware/platform/net.py's Conn (issue 25): it replaces micropython-lib's
# requests, whose blocking socket (and, for https://, its unchecked TLS) the link cannot use. The
# request goes out whole, the status line is read, the connection closed: the webhook's body is of
# no use to the button.
from firmware.platform.net import LinkError

_HINT = {401: " (the device's secret is wrong, or the device was revoked)", 403: " (the device was refused: revoked?)",
         404: " (no webhook at that path: check http.url)"}


def request(host, port, default_port, path, headers, body):
    hp = host if port == default_port else "%s:%d" % (host, port)
    lines = ["POST %s HTTP/1.1" % path, "Host: " + hp, "Content-Length: %d" % len(body), "Connection: close"]
    for k in headers:
        lines.append("%s: %s" % (k, headers[k]))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def status_of(line, where):
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise LinkError("protocol", "%s did not answer in HTTP (%r)" % (where, bytes(line[:40])))
    return int(parts[1])


async def post(conn, host, port, default_port, path, headers, body, deadline):
    """The status code of the webhook's answer."""
    await conn.write(request(host, port, default_port, path, headers, body), deadline)
    line = await conn.read_line(deadline, phase="wait for the webhook's answer")
    return status_of(line, conn.where())


def refused(status, where):
    if status >= 500:
        hint = " (a problem on the platform's side)"
    else:
        hint = _HINT.get(status, "")
    return LinkError("http", "the webhook %s answered HTTP %d%s" % (where, status, hint))
