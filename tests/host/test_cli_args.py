"""The `alertbutton` command line without a device: global and per-command options, the other tools
still parse, and input is refused on the host by the firmware's own checks before any connection."""
import json

from alertbutton import cli, fwimport  # noqa: F401
from firmware.core import phone
from firmware.settings import config as settings


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


def test_port_and_json_before_or_after_the_command():
    a = parse("--port", "/dev/ttyUSB0", "contacts", "list")
    assert a.port == "/dev/ttyUSB0" and a.action == "list" and a._device_command == "contacts" and not a.json
    a = parse("contacts", "list", "--port", "/dev/ttyUSB1", "--json")
    assert a.port == "/dev/ttyUSB1" and a.json
    a = parse("--port", "P", "--json", "contacts", "set", "2", "06 12 34 56 78", "Karim", "Ben")
    assert a.json and (a.slot, a.number, a.name) == ("2", "06 12 34 56 78", ["Karim", "Ben"])
    a = parse("--port", "P", "status", "--pin", "1234", "--timeout", "2")
    assert a.pin == "1234" and a.timeout == 2.0
    assert parse("--port", "P", "status").timeout == 5.0
    a = parse("--port", "P", "deploy", "--skip-mip")
    assert a.port == "P" and a.skip_mip


def test_other_tools_still_parse():
    a = parse("sim", "--scenario", "x.json", "--out", "o")
    assert a.scenario == "x.json" and a.port is None
    assert parse("nmea", "log.nmea")._module == "alertbutton.checks.nmea_decode"


def test_invalid_input_is_refused_before_connecting(capsys, tmp_path):
    port = str(tmp_path / "no-such-port")  # would fail with "no device" if it were opened
    assert cli.main(["--port", port, "contacts", "set", "1", "0812345678", "X"]) == 2
    assert "invalid number: 08 numbers" in capsys.readouterr().err
    assert cli.main(["--port", port, "contacts", "set", "7", "0612345678", "X"]) == 2
    assert "invalid slot" in capsys.readouterr().err
    assert cli.main(["--port", port, "--json", "contacts", "set", "1", "0612345678", "N" * 30]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["error"] == "NAME" and "at most 24" in out["message"]
    bad = tmp_path / "c.json"
    bad.write_text('{"contacts": [{"name": "A", "number": "+33 6"}]}')
    assert cli.main(["--port", port, "config", "import", str(bad)]) == 2
    assert "9 digits" in capsys.readouterr().err
    assert cli.main(["--port", port, "config", "import", str(tmp_path / "missing.json")]) == 2
    assert cli.main(["--port", port, "status"]) == 3
    assert "no device at" in capsys.readouterr().err


def test_contact_typed_as_the_button_reads_it(capsys, tmp_path):
    from alertbutton.device.technician import DeviceError, typed_contact
    # a number typed in groups without quotes: read like the console does
    assert typed_contact("06", "12 34 56 78 Sophie Martin".split()) == ("+33612345678", "Sophie Martin")
    assert typed_contact("+33", "6 12 34 56 78 Sophie".split()) == ("+33612345678", "Sophie")
    assert typed_contact("+44", "7400 900105 Nadia".split()) == ("+447400900105", "Nadia")
    assert typed_contact("0692 12 34 04", ["Julie", "2"]) == ("+262692123404", "Julie 2")
    # issue 19: digits right after an unquoted number could belong to it: refused, never guessed (the
    # button would have stored +2626921234042 / +44740090010512, an alert to nobody); quoted: as written
    for number, name in (("0612345678", ["12"]), ("0692", "12 34 04 2 Julie".split()),
                         ("+447400900105", "12 rue des Lilas".split())):
        try:
            typed_contact(number, name)
            raise AssertionError("guessed %r %r" % (number, name))
        except DeviceError as e:
            assert e.code == "NUMBER" and "could be part of it" in str(e) and "double quotes" in str(e), str(e)
    assert typed_contact("0692 12 34 04", ["2 Julie"]) == ("+262692123404", "2 Julie")
    assert typed_contact("+447400900105", ["12 rue des Lilas"]) == ("+447400900105", "12 rue des Lilas")
    port = str(tmp_path / "no-such-port")
    assert cli.main(["--port", port, "contacts", "set", "4", "+262", "692", "12", "34", "04", "2", "Julie"]) == 2
    err = capsys.readouterr().err
    assert 'contacts set SLOT "+262 692 12 34 04" 2 Julie' in err, err
    assert cli.main(["--port", port, "contacts", "set", "1", "06", "12", "34", "56", "78"]) == 2
    assert "name is missing" in capsys.readouterr().err
    try:
        typed_contact("06", "12 34 56 7 Sophie".split())
        raise AssertionError("9 digits accepted")
    except DeviceError as e:
        assert e.code == "NUMBER" and "this one has 9" in str(e)


def test_port_vanishing_mid_command_says_what_to_do(capsys):
    import os
    import pty
    import threading
    import tty
    m, s = pty.openpty()
    tty.setraw(s)

    def unplug():  # the request arrives, then the port is gone before any answer
        got = b""
        while b"\n" not in got:
            got += os.read(m, 256)
        os.close(m)
    t = threading.Thread(target=unplug)
    t.start()
    try:
        assert cli.main(["--port", os.ttyname(s), "contacts", "set", "1", "0612345678", "Sophie"]) == 3
    finally:
        t.join()
        os.close(s)
    err = capsys.readouterr().err
    assert "lost the button" in err and "plug it back in" in err and "contacts list" in err


def test_factory_reset_needs_confirmation_when_not_interactive(capsys, tmp_path, monkeypatch):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    from alertbutton.device.ptybridge import PtyBridge
    b = PtyBridge().start()  # a port that opens; the command must stop before sending anything
    try:
        assert cli.main(["--port", b.host_path, "factory-reset", "--timeout", "0.3"]) == 2
    finally:
        b.close()
    assert "--yes" in capsys.readouterr().err


def test_host_uses_the_firmware_modules():
    # the CLI's checks are firmware/core/phone.py and firmware/settings/config.py themselves, imported in CPython
    import os
    from alertbutton import vm
    from alertbutton.device import technician
    assert technician.phone is phone and technician.settings is settings
    assert os.path.samefile(phone.__file__, os.path.join(vm.REPO, "firmware", "core", "phone.py"))
    assert phone.normalize("0692 12 34 56") == "+262692123456"


def test_a_firmware_without_the_line_kill_is_still_understood(capsys):
    # firmware older than Ctrl-U reads it as part of the request and answers ERR PROTO (nothing
    # done): the CLI then speaks to it without the line kill, once, and keeps working
    import os
    import pty
    import threading
    import tty
    m, s = pty.openpty()
    tty.setraw(s)
    seen = []

    def old_firmware():
        buf = b""
        while len(seen) < 3:
            buf += os.read(m, 256)
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                seen.append(line)
                if not line.startswith(b"AB1 "):
                    os.write(m, b"ERR PROTO requests start with AB1, e.g. 'AB1 hello'\n")
                else:
                    os.write(m, b'OK {"proto": 1, "firmware": "old", "slots": []}\n')
    t = threading.Thread(target=old_firmware, daemon=True)
    t.start()
    from alertbutton.device.technician import Device
    dev = Device(os.ttyname(s), timeout=3)
    try:
        assert dev.call("hello")["firmware"] == "old"
        assert dev.call("contacts list")["proto"] == 1
    finally:
        dev.close()
        t.join(2)
        os.close(m)
        os.close(s)
    assert seen == [b"\x15AB1 hello", b"AB1 hello", b"AB1 contacts list"]
