"""`alertbutton web` (issue 23 item 1): who may drive the button through it, with a plain HTTP client
(http.client, which sends exactly the Host, Origin and cookies the test gives) against the real
command started on the simulated button. Each rule is tried as an attacker would: no token, a wrong
token, another Host (DNS rebinding), a POST from another origin or without one, a form POST, a GET on
a route that changes something; none may reach the button."""
import http.client
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install -e '.[web]')")
pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install -e '.[web]')")

from webserver import REPO, sim, wait_sim, web  # noqa: E402,F401  (fixtures)

PIN = "4826"




def request(web, method, path, body=None, headers=None, host=None, token=True, origin=True):
    h = {"Host": host or web.authority}
    if token:
        h["Cookie"] = "ab_token=" + web.token
    if origin and method == "POST":
        h["Origin"] = "http://" + web.authority
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body)
    h.update(headers or {})
    c = http.client.HTTPConnection(web.host, web.port, timeout=30)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data.decode("utf-8", "replace")
    return r.status, parsed, {k.lower(): v for k, v in r.getheaders()}


def test_first_line_is_the_url_with_a_token_and_loopback(web):
    assert web.url.startswith("http://127.0.0.1:") and "/?token=" in web.url
    assert len(web.token) >= 40  # token_urlsafe(32)


def test_the_tokened_url_sets_a_strict_httponly_cookie_and_drops_the_token(web):
    st, _b, h = request(web, "GET", "/?token=" + web.token, token=False)
    assert st == 303 and h["location"] == "/"
    cookie = h["set-cookie"]
    assert cookie.startswith("ab_token=%s;" % web.token)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    st, page, h = request(web, "GET", "/")
    assert st == 200 and "<html" in page
    assert "no-store" in h["cache-control"] and h["x-frame-options"] == "DENY"
    assert "default-src 'self'" in h["content-security-policy"]


@pytest.mark.parametrize("path", ["/", "/api/status", "/api/contacts", "/static/index.html", "/api/config"])
def test_every_request_without_the_token_is_refused(web, path):
    st, b, _h = request(web, "GET", path, token=False)
    assert st == 401 and b["error"] == "TOKEN" and "?token=" in b["message"]
    st, b, _h = request(web, "GET", path, token=False, headers={"Cookie": "ab_token=" + web.token[:-1] + "x"})
    assert st == 401
    st, b, _h = request(web, "GET", "/?token=guess", token=False)
    assert st == 403 and "set-cookie" not in _h


def test_the_header_carries_the_token_too(web):
    st, b, _h = request(web, "GET", "/api/status", token=False, headers={"X-Alertbutton-Token": web.token})
    assert st == 200 and b["hello"]["board"] == "sim"


@pytest.mark.parametrize("host", ["evil.example:%d", "localhost:%d", "127.0.0.1", "127.0.0.2:%d", "[::1]:%d",
                                  "127.0.0.1:1"])
def test_a_host_that_is_not_the_bound_address_is_refused(web, host):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends Host: evil.example."""
    host = host % web.port if "%d" in host else host
    st, b, _h = request(web, "GET", "/api/status", host=host)
    assert st == 421 and b["error"] == "HOST", (host, st, b)
    st, b, _h = request(web, "POST", "/api/lock", body={}, host=host)
    assert st == 421


def status(web):
    st, b, _h = request(web, "GET", "/api/status")
    assert st == 200, b
    return b["hello"]


def unlocked(web):
    """Unlocked with PIN, the PIN set first when no earlier test of this worker set it (with -n 2 the
    module's tests are shared between two servers)."""
    if not status(web)["pin_set"]:
        st, b, _h = request(web, "POST", "/api/pin", body={"new": PIN})
        assert st == 200, b
    return request(web, "POST", "/api/unlock", body={"pin": PIN})


def test_changes_from_another_origin_or_without_one_are_refused(web):
    before = status(web)
    assert before["pin_set"] is False
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Origin": "http://127.0.0.1:%d" % (web.port + 1)},
                    {"Origin": "http://localhost:%d" % web.port}):
        st, b, h = request(web, "POST", "/api/pin", body={"new": PIN}, headers=headers)
        assert st == 403 and b["error"] == "ORIGIN", (headers, b)
        assert not any(k.startswith("access-control-") for k in h)
    st, b, _h = request(web, "POST", "/api/pin", body={"new": PIN}, origin=False)  # no Origin, no Referer
    assert st == 403 and b["error"] == "ORIGIN"
    st, b, _h = request(web, "POST", "/api/pin", body={"new": PIN}, origin=False,
                        headers={"Referer": "http://evil.example/x"})
    assert st == 403
    st, b, _h = request(web, "POST", "/api/pin", body={"new": PIN},
                        headers={"Sec-Fetch-Site": "cross-site"})
    assert st == 403
    # a plain HTML form can POST cross-site without a preflight: not JSON, so refused
    c = http.client.HTTPConnection(web.host, web.port, timeout=10)
    c.request("POST", "/api/pin", body="new=4826", headers={
        "Host": web.authority, "Cookie": "ab_token=" + web.token, "Origin": "http://" + web.authority,
        "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    assert r.status == 415
    r.read()
    assert status(web)["pin_set"] is False  # none of them reached the button


@pytest.mark.parametrize("site", ["same-site", "cross-site"])
@pytest.mark.parametrize("path", ["/", "/api/status", "/api/config", "/evidence/rec-1/recording.wav"])
def test_a_page_on_another_local_port_cannot_even_read(web, site, path):
    """A page on http://127.0.0.1:OTHER is the same *site* as ours (ports do not count): Chromium sends
    the SameSite=Strict cookie with its <img>, <audio src=.../recording.wav>, <script src> and window.open.
    Its browser says so in Sec-Fetch-Site: such a request is refused before any route (the evidence
    recordings could otherwise be played by the hostile page)."""
    st, b, _h = request(web, "GET", path, headers={"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors"})
    assert st == 403 and b["error"] == "ORIGIN", (site, path, st, b)
    for own in ("same-origin", "none"):  # the page's own requests; the URL typed or clicked in a terminal
        st, b, _h = request(web, "GET", "/api/status", headers={"Sec-Fetch-Site": own})
        assert st == 200, (own, b)


@pytest.mark.parametrize("path", ["/api/pin?new=4826", "/api/factory-reset?confirm=erase", "/api/contacts/set",
                                  "/api/lock", "/api/test-alert", "/api/config/import", "/api/unlock?pin=4826"])
def test_a_get_cannot_change_anything(web, path):
    st, _b, _h = request(web, "GET", path)
    assert st == 405, (path, st)
    assert status(web)["pin_set"] is False


def test_no_cors_even_when_asked(web):
    st, _b, h = request(web, "OPTIONS", "/api/status", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert st == 405 and not any(k.startswith("access-control-") for k in h)
    st, _b, h = request(web, "GET", "/api/status", headers={"Origin": "http://evil.example"})
    assert not any(k.startswith("access-control-") for k in h)


def test_the_same_page_origin_works_and_device_errors_come_back_with_their_message(web):
    st, b, _h = request(web, "POST", "/api/contacts/set", body={"slot": 1, "number": "06 12 34 56 01", "name": "Sophie"})
    assert st == 423 and b["error"] == "NOPIN" and "no technician PIN" in b["message"], b
    st, b, _h = request(web, "POST", "/api/pin", body={"new": PIN})
    assert st == 200 and b["pin_set"], b
    st, b, _h = request(web, "POST", "/api/lock", body={})
    assert st == 200
    st, b, _h = request(web, "GET", "/api/contacts")
    assert st == 423 and b["error"] == "LOCKED" and "unlock" in b["message"].lower()
    st, b, _h = request(web, "POST", "/api/unlock", body={"pin": "0000"})
    assert st == 423 and "wrong PIN" in b["message"] and "tries left" in b["message"], b
    st, b, _h = request(web, "POST", "/api/unlock", body={"pin": PIN})
    assert st == 200
    # the CLI's check, in the CLI's words, before anything is sent
    st, b, _h = request(web, "POST", "/api/contacts/check", body={"slot": 2, "number": "0812345678", "name": "X"})
    assert st == 400 and b["field"] == "number" and b["message"].startswith("invalid number") and "08" in b["message"]
    st, b, _h = request(web, "POST", "/api/contacts/set", body={"slot": 4, "number": "0692 12 34 04", "name": "2 Julie"})
    assert st == 200 and b["number"] == "+262692123404" and b["name"] == "2 Julie", b
    assert b["national"] == "0692 12 34 04" and b["country"] == "Reunion"
    st, b, _h = request(web, "POST", "/api/factory-reset", body={"confirm": "yes"})
    assert st == 400 and b["field"] == "confirm"
    st, b, _h = request(web, "GET", "/api/contacts")
    assert b["slots"][3]["number"] == "+262692123404"  # not erased


def test_the_page_keeps_no_pin_in_the_browser():
    static = os.path.join(REPO, "tools", "alertbutton", "web", "static")
    for name in os.listdir(static):
        text = open(os.path.join(static, name), encoding="utf-8").read()
        for word in ("localStorage", "sessionStorage", "document.cookie", "indexedDB", "http://", "https://"):
            assert word not in text, (name, word)  # no storage, no CDN


def test_the_browser_is_not_offered_the_pin_to_save():
    """Chromium ignores autocomplete="off" on a password field and offers to save what was typed in it:
    each PIN field says "one-time-code" (nothing to remember, nothing proposed next time)."""
    import html.parser

    class Inputs(html.parser.HTMLParser):
        found = []

        def handle_starttag(self, tag, attrs):
            if tag == "input" and dict(attrs).get("type") == "password":
                self.found.append(dict(attrs))
    page = Inputs()
    page.feed(open(os.path.join(REPO, "tools", "alertbutton", "web", "static", "index.html"), encoding="utf-8").read())
    assert len(page.found) == 5, page.found  # unlock, current/new/again, evidence
    for a in page.found:
        assert a.get("autocomplete") == "one-time-code", a


@pytest.mark.parametrize("listen", ["0.0.0.0:8765", "192.168.1.10:8765", "[::]:8765", "localhost:8765", "8765"])
def test_a_listen_address_off_this_computer_is_refused(listen):
    r = subprocess.run([sys.executable, "-m", "alertbutton.cli", "web", "--port", "/dev/null", "--listen", listen],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "tools")))
    assert r.returncode == 2 and r.stdout == "", r
    assert "--listen" in r.stderr and ("loopback" in r.stderr or "ADDRESS:PORT" in r.stderr
                                       or "IP address" in r.stderr), r.stderr


def test_config_export_is_a_download_and_import_is_checked_whole(web):
    st, b, _h = unlocked(web)
    assert st == 200, b
    st, cfg, h = request(web, "GET", "/api/config")
    assert st == 200 and h["content-disposition"] == 'attachment; filename="alertbutton-config.json"'
    assert cfg["format"] == "alertbutton-config" and "pin" not in cfg
    bad = dict(cfg, contacts=cfg["contacts"] + [{"name": "X", "number": "0899999999"}], wearer="Zoé")
    st, b, _h = request(web, "POST", "/api/config/import", body={"config": bad})
    assert st == 400 and b["error"] == "CONFIG" and "service" in b["message"], b
    st, again, _h = request(web, "GET", "/api/config")
    assert again == cfg  # nothing of it written
    st, b, _h = request(web, "POST", "/api/config/import", body={"config": dict(cfg, wearer="Zoé")})
    assert st == 200 and "wearer" in b["keys"], b
    st, b, _h = request(web, "POST", "/api/lock", body={})
    st, b, _h = request(web, "GET", "/api/config")
    assert st == 423 and b["error"] == "LOCKED"


def test_bad_bodies_are_refused_with_a_message(web):
    for path, body in (("/api/test-alert", {"slots": [True]}), ("/api/test-alert", {"slots": [6]}),
                       ("/api/test-alert", {"slots": "2,4"}), ("/api/lang", {"lang": "de"}),
                       ("/api/unlock", {"pin": "12 34"}), ("/api/contacts/clear", {"slot": 9})):
        st, b, _h = request(web, "POST", path, body=body)
        assert st == 400 and b["message"], (path, body, b)
    c = http.client.HTTPConnection(web.host, web.port, timeout=10)
    c.request("POST", "/api/lock", body="{not json", headers={
        "Host": web.authority, "Cookie": "ab_token=" + web.token, "Origin": "http://" + web.authority,
        "Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 400 and "not JSON" in json.loads(r.read())["message"]


def test_a_huge_upload_is_refused_before_it_is_read_whole(web):
    """A 'configuration' of 50 MB (or a body streamed without a length) ends at 64 KB with 413 and a
    message; the server still answers afterwards."""
    for chunked in (False, True):
        c = http.client.HTTPConnection(web.host, web.port, timeout=30)
        big = b'{"config": {"wearer": "' + b"A" * (50 * 1024 * 1024) + b'"}}'
        h = {"Host": web.authority, "Cookie": "ab_token=" + web.token, "Origin": "http://" + web.authority,
             "Content-Type": "application/json"}
        if chunked:
            c.putrequest("POST", "/api/config/import", skip_host=True, skip_accept_encoding=True)
            for k, v in dict(h, **{"Transfer-Encoding": "chunked"}).items():
                c.putheader(k, v)
            c.endheaders()
            try:
                for i in range(0, 2 * 1024 * 1024, 65536):  # 2 MB sent: the answer came long before
                    part = big[i:i + 65536]
                    c.send(b"%x\r\n%s\r\n" % (len(part), part))
                c.send(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed: what is wanted
        else:
            try:
                c.request("POST", "/api/config/import", body=big, headers=h)
            except OSError:
                pass
        r = c.getresponse()
        b = json.loads(r.read())
        c.close()
        assert r.status == 413 and "64 KB" in b["message"], (chunked, r.status, b)
    st, b, _h = request(web, "GET", "/api/status")
    assert st == 200, b


def test_the_keys_the_button_reports_and_the_association_key_checked_as_the_cli_does(sim, web, tmp_path):
    """GET /api/keys: the device key the button reports (the CLI's `keys device`), the association key it
    seals to, and the public half of the server's key file (never its secret). POST a new association key:
    the CLI's own check (keys.association_key's) with its words; a path is text, never opened."""
    import argparse
    from alertbutton.device import keys as device_keys, technician as tech
    from alertbutton.evidence import keys as association_keys, seal
    st, b, _h = unlocked(web)
    assert st == 200, b
    st, k, _h = request(web, "GET", "/api/keys")
    assert st == 200, k
    secret, public = seal.load_association_key(sim.association_key)
    assert k["association_pub"] == k["server_association_pub"] == public.hex()
    assert len(k["device_pub"]) == 64 and int(k["device_pub"], 16)
    assert secret.hex() not in json.dumps(k)
    cli = device_keys.association_key  # what `alertbutton keys set-association` says of the same input

    def cli_says(arg, check=cli):  # as the CLI prints it (technician.error_message)
        def refuse(m):
            raise tech.DeviceError(m, tech.EXIT_USAGE, "KEY")
        try:
            check(arg, refuse)
        except tech.DeviceError as e:
            return tech.error_message(e)
    for typed in ("ab" * 31, "zz" * 32, "00" * 32):
        st, b, _h = request(web, "POST", "/api/keys/association", body={"key": typed})
        assert st == 400 and b["field"] == "key" and b["message"] == cli_says(typed), (typed, b)
    st, b, _h = request(web, "POST", "/api/keys/association", body={"key": sim.association_key})
    # a path is text here, never opened: refused as the text it is (its length or its '/'), not as a file
    assert st == 400 and b["message"] == cli_says(sim.association_key, device_keys.association_text), b
    assert "SECRET" not in b["message"] and "owner" not in b["message"], b
    # the SECRET key file uploaded by mistake: refused whatever its mode, as the CLI refuses it
    other = tmp_path / "other.key"
    assert association_keys.run_association(argparse.Namespace(assoc_action="new", out=str(other))) == 0
    st, b, _h = request(web, "POST", "/api/keys/association", body={"key": other.read_text(), "file": "other.key"})
    assert st == 400 and "other.key is the association's SECRET key file" in b["message"], b
    os.chmod(other, 0o644)
    assert cli_says(str(other)) == b["message"].replace("other.key", str(other), 1)
    st, k2, _h = request(web, "GET", "/api/keys")
    assert k2["association_pub"] == public.hex()  # nothing was sent to the button
    # the .pub file, then the original key again
    pub = (tmp_path / "other.key.pub").read_text()
    st, b, _h = request(web, "POST", "/api/keys/association", body={"key": pub, "file": "other.key.pub"})
    assert st == 200 and b["association_pub"] == pub.strip(), b
    st, k3, _h = request(web, "GET", "/api/keys")
    assert k3["association_pub"] == pub.strip() and k3["server_association_pub"] == public.hex()
    st, b, _h = request(web, "POST", "/api/keys/association", body={"key": public.hex().upper()})
    assert st == 200 and b["association_pub"] == public.hex(), b


def test_stopping_the_server_locks_the_session_it_used(sim, web, tmp_path):
    """Ctrl-C on alertbutton web (SIGTERM here) ends with `lock`, as the CLI locks what it unlocked.
    (Last of the module's tests on `web`: it stops it.)"""
    from webserver import WebServer
    st, b, _h = unlocked(web)
    assert st == 200, b
    assert status(web)["unlocked"] is True
    web.stop()
    w2 = WebServer(sim.console_port, evidence_dir=tmp_path)
    try:
        assert status(w2)["unlocked"] is False
    finally:
        w2.stop()


def test_without_a_port_it_picks_as_the_cli_does(tmp_path):
    """No --port, no $ALERTBUTTON_PORT and no USB serial port here: the CLI's own message and exit 3."""
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "tools"))
    env.pop("ALERTBUTTON_PORT", None)
    r = subprocess.run([sys.executable, "-m", "alertbutton.cli", "web", "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 3 and r.stdout == "" and "no USB serial port found" in r.stderr, r


def test_a_button_gone_mid_session_is_said_quickly_not_waited_for(tmp_path):
    """The simulated button's VM killed (a pulled battery: the port stays, silent), then its port gone
    (unplugged): each request ends within the console's bounded wait with 503 and words saying what to
    do, and the server keeps answering."""
    import time
    from webserver import WebServer, start_sim
    run = start_sim(tmp_path / "sim", duration_s=120)
    w = WebServer(run.console_port, evidence_dir=tmp_path / "ev")
    try:
        st, b, _h = request(w, "GET", "/api/status")
        assert st == 200, b
        run.proc.kill()
        run.proc.wait()
        t0 = time.monotonic()
        st, b, _h = request(w, "GET", "/api/status")
        took = time.monotonic() - t0
        assert st == 503 and b["message"], (st, b)
        assert took < 12, took
        print("silent button:", round(took, 1), "s:", b["message"])
        run.stop()
        t0 = time.monotonic()
        st, b, _h = request(w, "GET", "/api/contacts")
        took = time.monotonic() - t0
        assert st == 503 and b["message"] and took < 12, (st, b, took)
        print("port gone:", round(took, 1), "s:", b["message"])
        st, _b, _h = request(w, "GET", "/")  # the page itself still served
        assert st == 200
    finally:
        w.stop()
        run.stop()


def test_a_second_tab_is_told_the_button_is_busy_instead_of_hanging():
    """Two tabs (or two technicians): one runs a long request (a 45 s self-test, an evidence export), the
    other's status poll must not hang behind it without a word: after a bounded wait it is refused
    with a message naming what to do. Button is driven with a fake console so the timing is exact."""
    import threading
    import time
    from alertbutton.device import technician as tech
    from alertbutton.web.button import Button

    class Dev:
        def __init__(self, port, timeout):
            self.timeout = timeout

        def close(self):
            pass

    b = Button("/dev/fake", device=Dev, busy_s=0.5)
    long_done = []
    t = threading.Thread(target=lambda: long_done.append(b.call(lambda dev: time.sleep(3) or "selftest")))
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    with pytest.raises(tech.DeviceError) as e:
        b.call(lambda dev: "status")
    assert time.monotonic() - t0 < 1.5
    assert e.value.code == "BUSY" and "busy" in str(e.value) and "retry" in str(e.value)
    t.join()
    assert long_done == ["selftest"] and b.call(lambda dev: "status") == "status"  # free again


def run_web(*args):
    return subprocess.run([sys.executable, "-m", "alertbutton.cli", "web", "--port", "/dev/null",
                           "--listen", "127.0.0.1:0"] + list(args), capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "tools")))


def test_an_unreadable_or_invalid_association_key_is_refused_at_start(tmp_path):
    """Refused before anything listens (no URL printed), exit 2, with what to give instead: a missing
    file, the public .pub file in place of the secret one, a file that is not a key."""
    from alertbutton.evidence import keys as association_keys
    import argparse
    key = tmp_path / "assoc.key"
    assert association_keys.run_association(argparse.Namespace(assoc_action="new", out=str(key))) == 0
    junk = tmp_path / "junk.key"
    junk.write_text("hello\n")
    for path, said in ((tmp_path / "missing.key", "cannot read the association key"),
                       (str(key) + ".pub", "is not an association key file"),
                       (junk, "is not an association key file")):
        r = run_web("--association-key", str(path))
        assert r.returncode == 2 and r.stdout == "", r
        assert r.stderr.startswith("error: --association-key: ") and said in r.stderr, r.stderr
        assert "alertbutton keys association new --out FILE" in r.stderr

