"""`alertbutton web [--port PORT] [--listen 127.0.0.1:8765] [--open] [--association-key FILE]`: a page in the
browser for one button.

The first stdout line is the URL to open, with its random token (http://127.0.0.1:8765/?token=...).
The server listens on a loopback address only; every request needs the token (guard.py). The port
is found as the CLI finds it (--port, $ALERTBUTTON_PORT, else the one USB serial port). Ctrl-C
stops it; the technician session is locked again at exit. --association-key: the association's secret key
file (`alertbutton keys association new`), read here at start and kept by the server only (never sent to
the page): the page's evidence export opens the sealed recordings with it. Needs the `web` extra
(pip install 'alertbutton[web]'; ./run.sh installs it).

Exit status: 0 stopped, 2 usage (a non-loopback --listen, the address in use, an unreadable or invalid
--association-key), 3 no device.
"""
import ipaddress
import os
import secrets
import signal
import socket
import sys

DEFAULT_LISTEN = "127.0.0.1:8765"


class UsageError(Exception):
    pass


def add_arguments(p):
    import argparse
    p.add_argument("--port", default=argparse.SUPPRESS, help="serial port of the button (or $ALERTBUTTON_PORT)")
    p.add_argument("--listen", default=DEFAULT_LISTEN,
                   help="loopback address:port to serve on (default %s; port 0 = any free one)" % DEFAULT_LISTEN)
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--evidence-dir", default="evidence-export",
                   help="folder where the page's evidence exports go (default ./evidence-export)")
    p.add_argument("--association-key", metavar="FILE",
                   help="the association's secret key file (alertbutton keys association new): the page's evidence "
                        "export opens the sealed recordings with it; read by this server only, never sent to the page")


def parse_listen(text):
    """(host, port) of a loopback address, else UsageError saying what to give."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError("--listen takes ADDRESS:PORT, e.g. %s (not %r)" % (DEFAULT_LISTEN, text))
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError("--listen takes an IP address, e.g. 127.0.0.1 (not %r): names are not resolved" % host)
    if not ip.is_loopback:
        raise UsageError("--listen %s refused: the page drives the button, so it is served on this computer "
                         "only (a loopback address: 127.0.0.1 or ::1)" % text)
    return str(ip), int(port)


def load_association(path):
    """(secret, public) of the association's key file (`alertbutton evidence export`'s own loading), None
    without one; UsageError saying what to do."""
    from alertbutton.evidence import export
    try:
        return export.load_association(path)
    except export.EvidenceError as e:
        raise UsageError("--association-key: %s: give the file `alertbutton keys association new --out FILE` "
                         "wrote (not its .pub)" % e)


def bind(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError("cannot listen on %s:%d (%s): give another port with --listen %s:PORT"
                         % (host, port, e.strerror, host))
    sock.listen(16)
    sock.set_inheritable(True)
    return sock


def run(args):
    from alertbutton.device import technician as tech
    try:
        import uvicorn
        from alertbutton.web.app import create_app
        from alertbutton.web.button import Button
    except ImportError as e:
        print("error: the web page needs the `web` extra (%s): pip install -e '.[web]', or run it with "
              "./run.sh web" % e, file=sys.stderr)
        return tech.EXIT_USAGE
    try:
        association = load_association(getattr(args, "association_key", None))
        host, port = parse_listen(args.listen)
        serial_port = tech.find_port(getattr(args, "port", None))
        sock = bind(host, port)
    except UsageError as e:
        print("error: %s" % e, file=sys.stderr)
        return tech.EXIT_USAGE
    except tech.DeviceError as e:
        print("error: %s" % tech.error_message(e), file=sys.stderr)
        return e.status
    port = sock.getsockname()[1]
    authority = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    token = secrets.token_urlsafe(32)
    url = "http://%s/?token=%s" % (authority, token)
    print(url, flush=True)  # the first line: a script or the test reads it
    print("alertbutton web: button on %s; open the URL above (it holds the access token); Ctrl-C stops"
          % serial_port, file=sys.stderr, flush=True)
    button = Button(serial_port)
    app = create_app(button, token, authority, os.path.abspath(args.evidence_dir), association)
    if args.open:
        import webbrowser
        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False, date_header=False)
    # uvicorn hands a SIGTERM/SIGINT it caught back to the previous handler once it has stopped: ours
    # turns both into KeyboardInterrupt, so the session is locked below instead of the process just ending
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        button.close()
        sock.close()
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt
