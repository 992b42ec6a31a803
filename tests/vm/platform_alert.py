# Runs in the MicroPython VM (tests/host/test_platform_mqtt.py): the firmware's alert manager with a
# fake modem (SMS accepted after sms_ms, delivery reports report_after_ms later) and the platform link
# (firmware/platform/link.py) publishing to a real broker (its own MQTT client and HTTP POST, issue 25).
# Reads run.json in the cwd; prints the event log as "EV <json>" lines and a final "DONE <json>".
# Modes: "alert" (one alert, runs until every event left the queue), "connect" (one connection
# attempt: "CONNECT ok" or "CONNECT fail <kind> <plain words>").
# run.json "esp32_sockets": true puts the link on boards/simlib/esp32_socket.py (the ESP32's socket
# rules; every blocking call is printed as "ESP32NET blocking ...").
import asyncio
import json
import sys
from time import ticks_ms, ticks_diff

from drivers.datalink import HostLink
from firmware.platform import config as platform_config
from firmware.alert.manager import AlertManager, IDLE, TRIGGERED, DISPATCHING
from firmware.system.eventlog import EventLog
from firmware.core.fix import Fix
from firmware.alert.outbox import Outbox
from firmware.platform.link import PlatformLink, transport_for, describe
from firmware.platform.queue import PlatformQueue

RUN = json.load(open("run.json"))
T0 = ticks_ms()
sms_ticks = []


def _print(line):
    print("EV", line)


class FakeModem:
    def __init__(self):
        self.ready = asyncio.Event()
        self.ready.set()
        self.mr = 0
        self.on_status_report = None
        self.csq = 18
        self.registered = True

    async def send_pdu(self, pdu, n, timeout_ms=0):
        sms_ticks.append(ticks_ms())
        await asyncio.sleep_ms(RUN.get("sms_ms", 300))
        self.mr += 1
        rep = RUN.get("reports", {}).get(str(self.mr))
        if rep:
            asyncio.create_task(self._report(rep))
        return self.mr

    async def _report(self, pdu):
        await asyncio.sleep_ms(RUN.get("report_after_ms", 1000))
        self.on_status_report(pdu)

    async def power_cycle(self):
        return False

    async def switch_sms_domain(self):
        return False


class OneFix:
    def __init__(self, f):
        self.fix = Fix(f["lat"], f["lon"], f["acc_m"]).stamp() if f else None

    def best(self):
        return self.fix


def data_link():
    socks = None
    if RUN.get("esp32_sockets"):
        import esp32_socket as socks
    return HostLink(socks, tuple(RUN["dns"]) if RUN.get("dns") else None)


def make_link(log, alert=None):
    pcfg = platform_config.check(RUN["platform"])
    link = data_link()
    transport = transport_for(pcfg, link)
    q = PlatformQueue("pq", pcfg["queue_items"], pcfg["queue_bytes"], log=log)
    gate = None
    if alert is not None:
        gate = lambda: alert.state not in (TRIGGERED, DISPATCHING)  # noqa: E731
    status = lambda: {"battery": 77, "csq": 18, "registered": True, "fix": None,  # noqa: E731
                      "alert_state": alert.state if alert else None}
    return PlatformLink(pcfg, q, link, transport, log, gate=gate, status=status)


async def connect_once():
    pcfg = platform_config.check(RUN["platform"])
    t = transport_for(pcfg, data_link())
    t0 = ticks_ms()
    try:
        await t.connect()
        await t.send("a", b'{"probe": 1}')
        t.close()
        print("CONNECT ok")
    except Exception as e:
        kind, text = describe(e)
        print("CONNECT fail", kind, text)
    print("BLOCKED_MS", ticks_diff(ticks_ms(), t0))


async def session_run():
    """Connect, then publish a probe every 300 ms while the test revokes the device on the broker:
    "SENT ok" lines, then "SENT fail <kind> <words>" and "RECONNECT fail <kind> <words>"."""
    pcfg = platform_config.check(RUN["platform"])
    t = transport_for(pcfg, data_link())
    await t.connect()
    print("CONNECTED")
    for _ in range(100):
        await asyncio.sleep_ms(300)
        try:
            await t.send("h", b'{"probe": 2}')
            print("SENT ok")
        except Exception as e:
            print("SENT fail", *describe(e))
            break
    try:
        await t.connect()
        print("RECONNECT ok")
    except Exception as e:
        print("RECONNECT fail", *describe(e))


async def alert_run():
    log = EventLog([_print])
    cfg = {"wearer": "Camille", "lang": "fr", "contacts": RUN["contacts"], "alert_active_s": RUN.get("active_s", 5),
           "sms_validity_min": 4320, "modem_ready_wait_s": 1}
    modem = FakeModem()
    am = AlertManager(cfg, modem, OneFix(RUN.get("fix")), lambda: 77, log, None, Outbox(log=log))
    link = make_link(log, am)
    am.listeners.append(link.on_alert)
    am.start()
    link.start()
    await asyncio.sleep_ms(RUN.get("trigger_after_ms", 300))
    t_trig = ticks_ms()
    am.trigger("button")
    deadline = RUN.get("deadline_ms", 60000)
    while True:
        await asyncio.sleep_ms(50)
        done = am.state == IDLE and not link.ram and not len(link.queue) and len(sms_ticks) >= len(RUN["contacts"])
        if done or ticks_diff(ticks_ms(), T0) > deadline:
            break
    # issue 20 item 6: the alert ends at alert_active_s by sending each contact who received it an
    # end notice ("FIN DU SUIVI"), an outbox record with why="end"; the alert's own records have no
    # "why". "sms" counts the alert's SMS accepted, "notices" the end notices, "sends" every
    # send_pdu() call; "recs" is the outbox in order (the platform events' "sms" lists follow it).
    recs = [{"c": r["c"], "why": r.get("why"), "st": r["st"], "mr": r["mr"]} for r in am.outbox.recs]
    sent = [r for r in recs if r["st"] in ("accepted", "delivered")]
    print("DONE", json.dumps({"first_sms_ms": ticks_diff(sms_ticks[0], t_trig) if sms_ticks else None,
                              "sms": len([r for r in sent if r["why"] is None]),
                              "notices": len([r for r in sent if r["why"] == "end"]),
                              "sends": len(sms_ticks), "recs": recs, "sent": link.sent, "failures": link.failures,
                              "pending": len(link.queue), "dropped": link.queue.dropped,
                              "ms": ticks_diff(ticks_ms(), T0)}))


if RUN.get("mode") == "connect":
    asyncio.run(connect_once())
elif RUN.get("mode") == "session":
    asyncio.run(session_run())
else:
    asyncio.run(alert_run())
sys.exit(0)
