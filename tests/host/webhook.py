"""A platform webhook on loopback for the HTTP transport tests: CPython's http.server, optionally
behind TLS. It checks each POST's HMAC-SHA256 signature (X-AB-Signature) under the device secret,
keeps the signed events (kind, JSON body) in srv.got and can refuse the first ones with HTTP 503."""
import hashlib
import hmac
import http.server
import json
import ssl
import threading


def serve(secret, refuse=0, cert=None, key=None):
    """Start a threaded server on 127.0.0.1 (TLS with cert/key when given); the caller shuts it down.
    srv.got: [(X-AB-Kind, body)] accepted; srv.refused: bodies answered 503 (the first `refuse`)."""
    got, refused = [], []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, self.headers.get("X-AB-Signature", ""))
            if ok and len(refused) < refuse:
                refused.append(body)
                self.send_response(503)
            else:
                if ok:
                    got.append((self.headers["X-AB-Kind"], json.loads(body)))
                self.send_response(200 if ok else 401)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    if cert is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.got, srv.refused = got, refused
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
