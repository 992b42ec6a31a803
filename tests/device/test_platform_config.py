# The platform settings checked whole (issue 25 item 6), in the VM: every mistake a technician makes
# in platform.json gets a message that says what to write instead, from the same check() the console's
# `AB1 platform put` and `alertbutton provision` run (tests/host/test_provision.py); nothing is saved
# when it is refused. At run time `AB1 platform` and `AB1 hello` carry the link's last error in plain
# words (the words themselves, from real failures: tests/device/test_platform_net.py,
# tests/host/test_platform_status_e2e.py).
import json
import os

from firmware.platform import config as platform_config
from firmware.console import platform_cmds
from test_console import fresh, ok, err

MQTT = {"host": "mqtt.asso.example", "user": "ab-1", "password": "long-enough-1"}
HTTP = {"url": "https://hook.asso.example/in", "secret": "0123456789abcdef"}


def mq(**over):
    m = dict(MQTT)
    m.update(over)
    return {"device": "ab-1", "mqtt": m}


# (config, words the message must hold: what is wrong and what to write)
MISTAKES = [
    (mq(host="mqtts://mqtt.asso.example:8883"),
     'mqtt.host: "mqtts://mqtt.asso.example:8883" is a URL; write the host name alone: "mqtt.asso.example", '
     'and the port in the port setting (8883), and TLS in tls (true)'),
    (mq(host="x:8883"), 'mqtt.host: "x:8883" has a port in it; write "x" here and 8883 in the port setting'),
    (mq(host="mqtt_asso.example"), "mqtt.host: \"mqtt_asso.example\" is not a host name ('_' is not allowed"),
    (mq(host="mqtt asso"), 'mqtt.host: "mqtt asso" is not a host name (no spaces, no path)'),
    (mq(host="10.0.0.300"), 'mqtt.host: "10.0.0.300" is neither a host name nor an IPv4 address'),
    (mq(host=""), "mqtt.host: 0 characters; it needs 1 to 253"),
    (mq(port="8883"), 'mqtt.port: write the number without quotes: 8883, not "8883"'),
    (mq(port=70000), "mqtt.port: 70000 is out of range; write a number from 1 to 65535"),
    (mq(port=88.83), "mqtt.port: write a whole number from 1 to 65535"),
    (mq(tls="false"), 'mqtt.tls: write true or false without quotes (the text "false" is not a yes/no value)'),
    (mq(tls=0), "mqtt.tls: write true or false, not 0"),
    (mq(tls=False), "mqtt.tls: false sends alerts and positions in clear; set insecure_plaintext: true only"),
    (mq(insecure_plaintext=True), "mqtt.insecure_plaintext: only goes with tls: false; remove it"),
    (mq(hostname="mqtt.asso.example"), 'mqtt.hostname: not an mqtt setting; did you mean "host"?'),
    (dict(mq(), heartbeat=3600), 'heartbeat: not a platform setting; did you mean "heartbeat_s"?'),
    (dict(mq(), heartbeat_fix="yes"), "heartbeat_fix: write true or false without quotes"),
    (dict(mq(), timeout_s=30), "timeout_s: 30 is out of range; write a number from 2 to 20"),
    (dict(mq(), timeout_s="5"), 'timeout_s: write the number without quotes: 5, not "5"'),
    (dict(mq(), colour="red"), "colour: not a platform setting; the settings are: "),
    (dict(mq(), transport="https"), 'transport: write "mqtt" or "http"'),
    (dict(mq(), http=HTTP), 'http: given, but transport is "mqtt"; remove it, or write "transport": "http"'),
    (dict(mq(), wlan={"ssid": "home"}), 'wlan: given, but link is "host"; remove it, or write "link": "wlan"'),
    ({"device": "ab-1"}, "mqtt: write an object {host, port, user, password, tls}, it is missing"),
    ({"device": "ab-1", "transport": "http", "http": dict(HTTP, url="http://hook.asso.example/in")},
     "http.url: http:// sends alerts and positions in clear; write https:// (or set insecure_plaintext: true"),
    ({"device": "ab-1", "transport": "http", "http": dict(HTTP, url="hook.asso.example/in")},
     'http.url: "hook.asso.example/in" has no scheme; write https://hook.asso.example/in'),
    ({"device": "ab-1", "transport": "http", "http": dict(HTTP, url="ftp://hook.asso.example/in")},
     'http.url: the scheme "ftp" is not one the button speaks; write https://'),
    ({"device": "ab-1", "transport": "http", "http": dict(HTTP, url="https://hook.asso.example:99999/in")},
     'http.url: the port "99999" is not a number from 1 to 65535'),
    ({"device": "ab-1", "transport": "http", "http": dict(HTTP, url="https://hook asso/in")},
     'http.url host: "hook asso" is not a host name'),
    ({"device": "ab-1", "transport": "http", "http": dict(HTTP, insecure_plaintext=True)},
     "http.insecure_plaintext: only goes with an http:// URL; remove it"),
    ({"device": "ab-1", "transport": "http", "http": dict(HTTP, secret="short")},
     "http.secret: 5 characters; it needs 16 to 128"),
]


def test_each_mistake_is_refused_with_what_to_write():
    for bad, words in MISTAKES:
        try:
            platform_config.check(bad)
            raise AssertionError("accepted: %r" % (bad,))
        except ValueError as e:
            assert words in str(e), (words, str(e))


def test_what_is_right_is_accepted():
    c = platform_config.check(mq(host="192.0.2.10", port=8884))
    assert c["mqtt"]["host"] == "192.0.2.10" and c["mqtt"]["port"] == 8884 and c["mqtt"]["tls"]
    c = platform_config.check(mq(tls=False, insecure_plaintext=True))
    assert c["mqtt"]["port"] == 1883 and c["mqtt"]["insecure_plaintext"]
    c = platform_config.check({"device": "ab-1", "transport": "http", "heartbeat_fix": True,
                               "http": dict(HTTP, url="http://10.0.0.2:8080/in", insecure_plaintext=True)})
    assert c["heartbeat_fix"] and platform_config.split_url(c["http"]["url"]) == ("http", "10.0.0.2", 8080, "/in")
    assert platform_config.split_url("https://hook.asso.example") == ("https", "hook.asso.example", 443, "/")
    # what check() returns, check() accepts (save() writes it; a reboot loads it again)
    assert platform_config.check(c) == c


class Link:
    def __init__(self, summary):
        self.s = summary

    def summary(self):
        return self.s


def test_console_refuses_saves_nothing_and_shows_the_last_error():
    con, app, clock = fresh()
    platform_cmds.register(con)
    ok(con, "AB1 pin set 2468")
    for bad, words in MISTAKES[:3] + MISTAKES[9:10] + MISTAKES[14:15] + MISTAKES[23:24]:
        ans = err(con, "AB1 platform put " + json.dumps(bad), "CONFIG")
        assert words in ans, (words, ans)
        assert platform_config.PATH not in os.listdir()  # nothing saved
    assert ok(con, "AB1 platform put " + json.dumps(mq()))["saved"]
    st = ok(con, "AB1 platform")
    assert st["configured"] and st["config"]["mqtt"]["password"] == "***" and st["link"] is None
    words = "connection refused by mqtt.asso.example:8883: nothing listens on that port"
    app.platform = Link({"state": "retrying", "pending": 3, "error": words, "error_kind": "refused",
                         "error_age_s": 12, "sent": 0, "failures": 4, "dropped": 0})
    st = ok(con, "AB1 platform")
    assert st["link"]["error"] == words and st["link"]["state"] == "retrying", st
    h = ok(con, "AB1 hello")
    assert h["platform"] == {"state": "retrying", "pending": 3, "error": words, "error_age_s": 12, "ok_age_s": None}, h
    app.platform = None
    app.platform_problem = "the platform link did not start: no CA file (platform_ca.der)"
    assert ok(con, "AB1 hello")["platform"]["error"] == app.platform_problem
    assert ok(con, "AB1 platform")["problem"] == app.platform_problem
