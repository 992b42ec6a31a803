"""Who may drive the button through `alertbutton web`: the one browser given the token, on this machine.

An ASGI middleware in front of every route (pages, assets, API):
- Host must be the loopback address and port the server bound (a DNS-rebinding page reaches us under
  its own name: refused);
- the token (secrets.token_urlsafe, printed once on the first stdout line) must come with every
  request: in the `ab_token` cookie the first tokened GET sets (HttpOnly, SameSite=Strict), or in the
  X-Alertbutton-Token header; `GET /?token=T` is how the printed URL hands it over (then a redirect
  drops it from the address bar);
- a request that changes something is a POST with a JSON body whose Origin (or, without one, whose
  Referer) is this server: a form or a fetch from another site is refused even with the cookie;
- a request the browser marks as coming from another page (Sec-Fetch-Site other than same-origin or
  none: a page on another local port is the "same site" and gets the Strict cookie) is refused, reads
  included (the evidence recordings as <audio> of a hostile page);
- no CORS header is ever sent; every answer forbids caching, framing and referrers.
"""
import hmac
import json
from urllib.parse import parse_qs

COOKIE = "ab_token"
HEADER = b"x-alertbutton-token"
SAFE = ("GET", "HEAD")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
COMMON_HEADERS = [(b"cache-control", b"no-store"), (b"x-frame-options", b"DENY"),
                  (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                  (b"content-security-policy", CSP.encode())]


def _headers(scope):
    h = {}
    for k, v in scope.get("headers", []):
        h.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return h


def _cookie(header, name):
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


class Guard:
    def __init__(self, app, token, authority):
        """authority: 'host:port' exactly as bound ('127.0.0.1:8765', '[::1]:8765')."""
        self.app = app
        self.token = token
        self.authority = authority
        self.origin = "http://" + authority

    def _ok_token(self, given):
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":  # no websocket is served: closed unanswered
            return None
        h = _headers(scope)
        method = scope["method"]
        if h.get("host") != self.authority:
            return await _refuse(send, 421, "HOST", "this server answers only as %s (Host %r refused: "
                                 "open the URL printed by alertbutton web)" % (self.authority, h.get("host")))
        if h.get("sec-fetch-site") not in (None, "none", "same-origin"):
            # another port of 127.0.0.1 is the same site: the Strict cookie goes with its <img>/<audio>/
            # window.open; its browser tells us where the request comes from, and it is refused
            return await _refuse(send, 403, "ORIGIN", "a request from another page (%s) is refused: open the URL "
                                 "printed by alertbutton web" % h.get("sec-fetch-site"))
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given_q = (query.get("token") or [None])[0]
        if method == "GET" and scope["path"] == "/" and given_q is not None:
            if not self._ok_token(given_q):
                return await _refuse(send, 403, "TOKEN", "wrong token: open the URL alertbutton web printed")
            # the cookie carries it from now on; the redirect drops it from the address bar and history
            cookie = "%s=%s; Path=/; HttpOnly; SameSite=Strict" % (COOKIE, self.token)
            return await _send(send, 303, b"", [(b"location", b"/"), (b"set-cookie", cookie.encode())])
        given = h.get(HEADER.decode()) or _cookie(h.get("cookie", ""), COOKIE)
        if not self._ok_token(given):
            return await _refuse(send, 401, "TOKEN", "no token: open the URL alertbutton web printed "
                                 "(it ends with ?token=...)")
        if method not in SAFE:
            if method != "POST":
                return await _refuse(send, 405, "METHOD", "only GET (to read) and POST (to change) are served")
            origin = h.get("origin") or _origin_of(h.get("referer"))
            if origin != self.origin:
                return await _refuse(send, 403, "ORIGIN", "a change must come from this page (%s), not from %s"
                                     % (self.origin, origin or "a request without Origin"))
            if h.get("sec-fetch-site") not in (None, "same-origin"):
                return await _refuse(send, 403, "ORIGIN", "cross-site request refused")
            if (h.get("content-type") or "").split(";")[0].strip() != "application/json":
                return await _refuse(send, 415, "TYPE", "a change is a JSON body (Content-Type: application/json)")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [x for x in message.get("headers", [])
                                      if not x[0].lower().startswith(b"access-control-")] + COMMON_HEADERS
            await send(message)
        return await self.app(scope, receive, send_with_headers)


def _origin_of(referer):
    if not referer:
        return None
    parts = referer.split("/")
    return "/".join(parts[:3]) if len(parts) >= 3 else None


async def _send(send, status, body, headers):
    await send({"type": "http.response.start", "status": status,
                "headers": headers + COMMON_HEADERS + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _refuse(send, status, code, message):
    body = json.dumps({"error": code, "message": message}).encode()
    await _send(send, status, body, [(b"content-type", b"application/json")])
