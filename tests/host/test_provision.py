"""`alertbutton provision` on the host side: template and credential checks run before any device is
touched (the e2e over a console is in test_platform_sim_e2e.py)."""
import json

from alertbutton import cli

PLATFORM = {"transport": "mqtt", "link": "host", "mqtt": {"host": "mqtt.asso.example", "tls": True}}
_n = [0]


def _template(tmp_path, **over):
    t = {"platform": dict(PLATFORM), "config": {"lang": "en"}}
    t.update(over)
    _n[0] += 1
    p = tmp_path / ("fleet%d.json" % _n[0])
    p.write_text(json.dumps(t))
    return str(p)


def test_dry_run_masks_the_password(tmp_path, capsys):
    der = bytes.fromhex("3003020100")  # a DER SEQUENCE: the host only checks the format, the button TLS
    (tmp_path / "ca.der").write_bytes(der)
    t = _template(tmp_path, ca="ca.der")
    creds = tmp_path / "c.csv"
    creds.write_text("device,user,password\nab-7,ab-7,pass-for-ab-7\n")
    rc = cli.main(["provision", "--template", t, "--device", "ab-7", "--credentials", str(creds), "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0, out
    d = json.loads(out)
    assert d["platform"]["device"] == "ab-7" and d["platform"]["mqtt"]["client_id"] == "ab-7"
    assert d["platform"]["mqtt"]["password"] == "***" and "pass-for-ab-7" not in out


def test_refusals_before_touching_a_device(tmp_path, capsys):
    creds = tmp_path / "c.csv"
    creds.write_text("device,user,password\nab-7,ab-7,pass-for-ab-7\n")
    (tmp_path / "ca.der").write_bytes(bytes.fromhex("3003020100"))
    cases = [
        (["--device", "ab-8", "--credentials", str(creds)], _template(tmp_path), "no row for device"),
        (["--device", "ab-7", "--credentials", str(creds)], _template(tmp_path), "needs the platform's CA"),
        (["--device", "ab/7", "--password", "long-password"], _template(tmp_path), "device"),
        (["--device", "ab-7", "--password", "short"], _template(tmp_path), "password"),
        (["--device", "ab-7", "--password", "long-password"],
         _template(tmp_path, config={"colour": "red"}, ca="ca.der"), "unknown key"),
        (["--device", "ab-7", "--password", "long-password"], _template(tmp_path, ca="nothere.pem"), "cannot read CA"),
        (["--device", "ab-7", "--secret", "0123456789abcdef0"],
         _template(tmp_path, platform={"transport": "http", "http": {"url": "https://hook.example/x"}}),
         "needs the platform's CA"),  # https:// is verified: it needs the CA
    ]
    for args, t, why in cases:
        rc = cli.main(["provision", "--template", t, "--port", "/nonexistent"] + args)
        err = capsys.readouterr().err
        assert rc == 2 and why in err, (args, rc, err)


def test_misconfigurations_get_what_to_write_instead(tmp_path, capsys):
    """Issue 25: the device's own check, run by the tool before any button is touched."""
    (tmp_path / "ca.der").write_bytes(bytes.fromhex("3003020100"))
    cases = [
        ({"mqtt": {"host": "mqtts://mqtt.asso.example:8883"}},
         'mqtt.host: "mqtts://mqtt.asso.example:8883" is a URL; write the host name alone: "mqtt.asso.example"'),
        ({"mqtt": {"host": "x:8883"}}, 'write "x" here and 8883 in the port setting'),
        ({"mqtt": {"host": "mqtt.asso.example", "tls": "false"}}, "mqtt.tls: write true or false without quotes"),
        ({"mqtt": {"host": "mqtt.asso.example", "port": "8883"}}, "mqtt.port: write the number without quotes"),
        ({"heartbeat": 3600, "mqtt": {"host": "mqtt.asso.example"}}, 'did you mean "heartbeat_s"?'),
        ({"transport": "http", "http": {"url": "http://hook.asso.example/in"}},
         "http.url: http:// sends alerts and positions in clear; write https://"),
    ]
    for platform, words in cases:
        platform = dict({"transport": "mqtt", "link": "host"}, **platform)
        t = _template(tmp_path, platform=platform, ca="ca.der")
        args = ["--secret", "0123456789abcdef0"] if platform["transport"] == "http" else ["--password", "long-password"]
        rc = cli.main(["provision", "--template", t, "--device", "ab-7", "--dry-run"] + args)
        err = capsys.readouterr().err
        assert rc == 2 and "platform config for ab-7: " in err and words in err, (platform, rc, err)
