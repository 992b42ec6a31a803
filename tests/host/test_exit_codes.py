"""Issue 19 item 9: the exit codes documented in docs/technician.md ("Exit codes"), one test per code,
and --port / $ALERTBUTTON_PORT taken the same way by every subcommand that talks to a button. The
button is a fake console on a pty answering the lines a test gives it."""
import json
import hashlib
import os
import pty
import re
import threading
import tty

import pytest

from alertbutton import cli, vm


class FakeButton:
    """A pty whose other end answers `AB1 <request>` lines from a dict {request prefix: answer}."""

    def __init__(self, answers):
        self.answers = answers
        self.seen = []
        self.m, s = pty.openpty()
        tty.setraw(s)
        self.s = s
        self.path = os.ttyname(s)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        buf = b""
        while True:
            try:
                data = os.read(self.m, 1024)
            except OSError:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = line.decode("utf-8", "replace")
                if "AB1 " not in req:
                    continue
                req = req[req.index("AB1 ") + 4:].strip()
                self.seen.append(req)
                ans = next((a for p, a in self.answers.items() if req.startswith(p)), "ERR UNKNOWN ?")
                os.write(self.m, (ans + "\r\n").encode())

    def close(self):
        os.close(self.s)
        os.close(self.m)


HELLO = "OK " + json.dumps({"proto": 1, "firmware": "0.1.0", "board": "fake", "configured": True, "contacts": 5,
                            "wearer_set": True, "lang": "fr", "config_source": "main", "config_problems": [],
                            "modem": None, "battery": None, "signal_dbm": None, "pin_set": True, "unlocked": False,
                            "last_fix": None, "last_alert": None, "platform": None, "power": None, "lockout_s": 0})


@pytest.fixture
def button():
    b = FakeButton({"hello": HELLO, "lock": 'OK {"unlocked": false}'})
    yield b
    b.close()


def codes_documented():
    text = open(os.path.join(vm.REPO, "docs", "technician.md"), encoding="utf-8").read()
    table = text[text.index("## Exit codes"):]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}


def test_the_table_lists_every_code_tested_here():
    assert codes_documented() == {0, 1, 2, 3, 4, 5, 6, 130}


def test_6_intact_but_not_anchored(tmp_path, capsys):
    """An intact export with nothing kept outside it: 6 and what is unanchored; with its head: 0."""
    from alertbutton.evidence import export as ev_export
    from firmware.core import evidence_chunk as C
    data = (C.header(b"DEV-0006", 1, 1, 0, 8000, C.H_PREALERT, None, -1000, 0, None, C.ZERO_HASH)
            + bytes(256 * 2) + C.trailer(2, C.T_FINAL))

    class Src:
        name = "test"

        def chunks(self, rec):
            return [{"index": 0, "file": "c0000.evc", "size": len(data)}]

        def read(self, rec, index, offset, n):
            return data[offset:offset + n]

        def mark_exported(self, rec, head):
            return True
    d, problems = ev_export.export_recording(Src(), 1, str(tmp_path), progress=False)
    assert problems == [] and d.endswith(b"DEV-0006".hex() + "-r00001")
    assert cli.main(["evidence", "verify", d]) == 6
    assert "chunks 0..0 are NOT anchored" in capsys.readouterr().out
    assert cli.main(["evidence", "verify", d, "--head", hashlib.sha256(data).hexdigest()]) == 0


def test_0_done(button, capsys):
    assert cli.main(["--port", button.path, "status"]) == 0
    assert "firmware 0.1.0" in capsys.readouterr().out


def test_1_the_button_refused(button, capsys):
    button.answers["contacts clear"] = "ERR BUSY an alert is being sent (state dispatching)"
    assert cli.main(["--port", button.path, "contacts", "clear", "3"]) == 1
    assert "an alert is being sent" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["logs", "-n", "-5"], "logs -n takes 1 to 64"),
    (["contacts", "set", "4", "+262", "692", "12", "34", "04", "2", "Julie"], "double quotes"),
    (["contacts", "set", "4", "+1 202 555 0143", "Jo"], "not a country this button serves"),
    (["config", "import", "LATIN1"], "not UTF-8 text"),
    (["config", "import", "FOLDER"], "is a folder"),
    (["config", "export", "FOLDER"], "is a folder"),
    (["keys", "set-association", "ab" * 31], "64 hex characters"),
    (["keys", "set-association", "00" * 32], "all-zero"),
    (["keys", "set-association", "FOLDER"], "is a folder"),
    # the association's SECRET key file made readable to all: refused by what it holds, not only by its mode
    (["keys", "set-association", "SECRET644"], "is the association's SECRET key file"),
])
def test_2_bad_input_refused_on_the_laptop(button, capsys, tmp_path, argv, words):
    latin = tmp_path / "latin1.json"
    latin.write_bytes('{"wearer": "Zo\xe9"}'.encode("latin-1"))
    secret = tmp_path / "assoc.key"
    if "SECRET644" in argv:
        from alertbutton.evidence import seal
        seal.new_association_key(str(secret))
        os.chmod(secret, 0o644)
    argv = [str(latin) if a == "LATIN1" else str(tmp_path) if a == "FOLDER" else str(secret) if a == "SECRET644"
            else a for a in argv]
    assert cli.main(["--port", button.path] + argv) == 2
    assert words in capsys.readouterr().err
    assert button.seen == []  # nothing was sent


def test_a_bom_is_not_an_error(button, capsys, tmp_path):
    f = tmp_path / "bom.json"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps({"wearer": "Camille"}).encode())
    button.answers["config put"] = 'OK {"configured": true, "contacts": 0, "keys": ["wearer"], "warnings": []}'
    assert cli.main(["--port", button.path, "config", "import", str(f)]) == 0, capsys.readouterr().err


SUBCOMMANDS = [["status"], ["contacts", "list"], ["logs"], ["preview"], ["selftest"], ["unlock", "--pin", "1234"],
               ["factory-reset", "--yes"], ["evidence", "list", "--pin", "1234"], ["keys", "device", "--pin", "1234"], ["deploy", "--skip-mip"],
               ["provision", "--template", "T", "--device", "d1", "--password", "long-password-1"]]


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=lambda a: a[0])
def test_3_no_device_whichever_way_the_port_is_given(argv, capsys, tmp_path, monkeypatch):
    gone = str(tmp_path / "ttyGONE")
    tpl = tmp_path / "t.json"
    tpl.write_text(json.dumps({"platform": {"transport": "mqtt", "link": "host", "mqtt": {
        "host": "h", "port": 1883, "tls": False, "insecure_plaintext": True}}}))
    argv = [str(tpl) if a == "T" else a for a in argv]
    # --port before the command, --port after it, $ALERTBUTTON_PORT: the same port, the same answer
    for form in (["--port", gone] + argv, argv[:1] + ["--port", gone] + argv[1:] if argv[0] not in
                 ("contacts", "evidence") else argv[:2] + ["--port", gone] + argv[2:], argv):
        monkeypatch.setenv("ALERTBUTTON_PORT", gone) if form is argv else monkeypatch.delenv("ALERTBUTTON_PORT",
                                                                                              raising=False)
        rc = cli.main(form)
        err = capsys.readouterr().err
        assert rc == 3 and "no device" in err and gone in err, (form, rc, err)


def test_4_locked_or_wrong_pin(button, capsys):
    button.answers["contacts list"] = "ERR LOCKED the button is locked: unlock <PIN> first"
    assert cli.main(["--port", button.path, "contacts", "list"]) == 4
    button.answers["unlock"] = "ERR PIN wrong PIN (4 tries left before a 15 min lockout)"
    assert cli.main(["--port", button.path, "contacts", "list", "--pin", "0000"]) == 4
    assert "wrong PIN (4 tries left" in capsys.readouterr().err  # the button's own words


def test_5_selftest_found_a_failing_part(button, capsys):
    button.answers["selftest"] = "OK " + json.dumps({"ok": False, "parts": [
        {"part": "modem", "ok": False, "value": "no answer", "note": "check the modem's power"},
        {"part": "flash", "ok": True, "value": "1.2 MB free", "note": ""}]})
    assert cli.main(["--port", button.path, "selftest"]) == 5
    assert "FAIL" in capsys.readouterr().out


def test_130_interrupted(monkeypatch):
    from alertbutton.device import technician

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(technician, "run", interrupted)
    assert cli.main(["--port", "/dev/null", "status"]) == 130
