# Runs in the MicroPython VM (tests/host/test_data_mode_vm.py): the real modem driver against the
# modem simulator on a pty, entering and leaving data mode. network.PPP does not exist on the unix
# port: FakePpp stands for it on the same UART (it writes frames, and reads what the simulator's
# echoing PPP peer sends back). Reads run.json in the cwd, prints "RESULT <json>".
# Modes: "cycle" (dial, PPP owns the UART, commands wait, hangup), "drop" (the network ends the
# call: NO CARRIER), "ignore" (the modem ignores +++: power cycle), "refused" (dial answered
# NO CARRIER), "alert" (an alert triggers while the platform link is sending over PPP, or with
# "trigger_in_dial_ms" that long into a slow dial; the alert then ends at its alert_active_s and
# sends its end notices, issue 20 item 6), "abort" (abort_dial() on its own).
import asyncio
import json
import machine
import time
from time import ticks_ms, ticks_diff

from firmware.core.errors import AtReleased
from drivers.datalink import PppLink
from drivers.modem.simcom_a76xx import SimcomA76xx

RUN = json.load(open("run.json"))
T0 = ticks_ms()
LOG = []
FRAME = b"\x7e\xff\x7d\x23\xc0\x21\x7d\x21\x7d\x22\x7e"  # stands for an LCP Configure-Request


def log(ev, **kw):
    kw["event"] = ev
    kw["ms"] = ticks_diff(ticks_ms(), T0)
    LOG.append(kw)
    if RUN.get("echo_log"):
        print("EV", json.dumps(kw))


def first(ev):
    for x in LOG:
        if x["event"] == ev:
            return x
    return None


class FakePpp:
    """network.PPP's interface on the modem's UART: connect() writes one frame, isconnected() once
    the peer's echo of it came back (so its bytes went through the modem and nobody else read them)."""

    def __init__(self, uart):
        self.uart = uart
        self.got = bytearray()
        self.out = bytearray()
        self.running = False

    def connect(self, **kw):
        self.running = True
        self.send(FRAME)

    def send(self, data):
        self.out.extend(data)
        self.uart.write(data)

    def isconnected(self):
        if not self.running:
            return False
        d = self.uart.read(512)
        if d:
            self.got.extend(d)
        return bytes(FRAME) in bytes(self.got)

    def disconnect(self):
        self.running = False


class PinLog:
    """The power key (GPIO 4): records levels and prints them; the host test forwards them to the
    modem simulator's PWRKEY, as `alertbutton sim` does."""

    def __init__(self):
        self.levels = []

    def value(self, v):
        self.levels.append(v)
        print("PIN 4 %d" % v)


async def start_modem():
    uart = machine.UART(1, path=RUN["path"])
    pk = PinLog()
    m = SimcomA76xx(uart, log, power_key=pk)
    m.start()
    assert await m.bring_up(attempts=3)
    return m, uart, pk


async def cycle():
    m, uart, _pk = await start_modem()
    ppp = FakePpp(uart)
    link = PppLink(ppp, dial=lambda: m.dial(RUN.get("apn", "internet.test")), hangup=m.hangup, shared=True, log=log)
    up = await link.up(5000)
    lines0 = m.at.stats["lines"]  # CONNECT was the last line the AT reader parsed
    # a command issued while PPP owns the UART: it waits for the hang-up, then runs
    waiter = asyncio.create_task(m.at.command("AT+CSQ", timeout_ms=20000, expect="+CSQ:"))
    out = {"up": up, "released": m.at.released}
    try:
        await m.at.command("AT+CGSN", timeout_ms=300)
        out["short"] = "answered"
    except AtReleased:
        out["short"] = "released"
    ppp.send(b"\x7e\x21\x45\x00payload\x7e")  # IP traffic, echoed back to the PPP side only
    await asyncio.sleep_ms(200)
    out["busy_in_data_mode"] = ticks_diff(ticks_ms(), m.at.last_rx) < 20  # power policy: in use
    ppp.isconnected()
    out["ppp_got_back"] = bytes(ppp.got).count(b"payload")
    out["lines_in_data_mode"] = m.at.stats["lines"] - lines0
    t = ticks_ms()
    await link.down()
    out["hangup_ms"] = ticks_diff(ticks_ms(), t)
    r = await waiter
    out["waiter"] = r.line(b"+CSQ:").decode()
    r = await m.at.command("AT")
    out["after"] = r.final.decode()
    out["released_after"] = m.at.released
    out["ppp_out"] = len(ppp.out)
    return out


async def drop():
    m, uart, _pk = await start_modem()
    ok = await m.dial("internet.test")
    await asyncio.sleep_ms(RUN.get("wait_ms", 1000))  # the call drops meanwhile (NO CARRIER, unread)
    t = ticks_ms()
    back = await m.hangup()
    out = {"dial": ok, "hangup": back, "hangup_ms": ticks_diff(ticks_ms(), t)}
    out["after"] = (await m.at.command("AT")).final.decode()
    out["reply"] = (first("command_mode") or {}).get("reply")
    return out


async def ignore():
    m, uart, pk = await start_modem()
    ok = await m.dial("internet.test")
    t = ticks_ms()
    back = await m.hangup()
    out = {"dial": ok, "hangup": back, "hangup_ms": ticks_diff(ticks_ms(), t), "released": m.at.released,
           "pwrkey": pk.levels, "ready": m.ready.is_set(), "failed": first("data_hangup_failed") is not None}
    out["after"] = (await m.at.command("AT")).final.decode()
    return out


async def refused():
    m, uart, _pk = await start_modem()
    ok = await m.dial("internet.test")
    out = {"dial": ok, "released": m.at.released, "failed": (first("data_dial_failed") or {}).get("err")}
    out["after"] = (await m.at.command("AT")).final.decode()
    out["bad_apn"] = await m.dial('x"+CFUN=0')
    return out


async def timed_dial(m, abort_after_ms=None, twice=False):
    """(dial result, ms it took); abort_dial() abort_after_ms after the dial began (0: at once,
    within V.250's 125 ms)."""
    t = ticks_ms()
    task = asyncio.create_task(m.dial("internet.test"))
    if abort_after_ms is not None:
        while not m.at.dialing:  # AT+CGDCONT first
            await asyncio.sleep_ms(0)
        await asyncio.sleep_ms(abort_after_ms)
        out = [m.abort_dial()]
        if twice:
            out.append(m.abort_dial())
        assert out == [True] * len(out), out
    ok = await task
    return ok, ticks_diff(ticks_ms(), t)


async def abort():
    m, uart, _pk = await start_modem()
    out = {"idle": m.abort_dial()}  # nothing in progress: no effect, nothing written
    out["early"] = await timed_dial(m, 0, twice=True)  # within V.250's 125 ms: sent after the guard
    out["late"] = await timed_dial(m, 500)
    out["aborts"] = m.at.stats["dial_aborts"]
    out["after"] = (await m.at.command("AT")).final.decode()
    out["full"] = await timed_dial(m)
    out["after_connect"] = m.abort_dial()  # CONNECT came: the hang-up's job, not a CR's
    out["hangup"] = await m.hangup()
    out["aborts_end"] = m.at.stats["dial_aborts"]
    out["aborted_logs"] = len([x for x in LOG if x["event"] == "data_dial_aborted"])
    return out


class SlowTransport:
    """The platform transport over the fake PPP: each event goes out on the modem's UART (through
    the data call) and the send blocks send_ms like a socket waiting for its acknowledgement."""

    name = "slow"

    def __init__(self, ppp):
        self.ppp = ppp
        self.connected = False
        self.sent = []

    async def connect(self, stop=None):
        self.connected = True

    async def send(self, kind, payload, stop=None):
        self.ppp.send(b"\x7e" + payload + b"\x7e")
        # blocking, as umqtt/requests sockets were before issue 25: the hand-over's worst case
        time.sleep_ms(RUN.get("send_ms", 200))
        self.sent.append((kind, json.loads(payload)))

    def close(self):
        self.connected = False


class OneFix:
    def best(self):
        from firmware.core.fix import Fix
        return Fix(48.85661, 2.35222, 12).stamp()


async def alert():
    from firmware.platform import config as platform_config
    from firmware.alert.manager import AlertManager, IDLE, TRIGGERED, DISPATCHING
    from firmware.alert.outbox import Outbox
    from firmware.platform.link import PlatformLink
    from firmware.platform.queue import PlatformQueue
    m, uart, _pk = await start_modem()
    cfg = {"wearer": "Camille", "lang": "fr", "contacts": RUN["contacts"], "alert_active_s": 2,
           "sms_validity_min": 4320, "modem_ready_wait_s": 1}
    am = AlertManager(cfg, m, OneFix(), lambda: 77, log, None, Outbox(log=log))
    pcfg = platform_config.check({"device": "ab-1", "transport": "http", "link": "ppp", "timeout_s": 2,
                                  "backoff_max_s": 1, "linger_s": 0, "heartbeat_s": 3600,
                                  "http": {"url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef",
                                           "insecure_plaintext": True}})
    ppp = FakePpp(uart)
    link = PppLink(ppp, dial=lambda: m.dial("internet.test"), hangup=m.hangup, shared=True, log=log)
    t = SlowTransport(ppp)
    pl = PlatformLink(pcfg, PlatformQueue("pq"), link, t, log,
                      gate=lambda: am.state not in (TRIGGERED, DISPATCHING))
    am.listeners.append(pl.on_alert)
    from firmware.platform import events as pe
    for i in range(RUN.get("backlog", 20)):  # a backlog keeps the data call up for seconds
        # evidence heads of distinct recordings: none supersedes another (heartbeats would: a newer
        # one replaces the queued one since issue 25)
        pl._note(pe.encode({"type": "evidence", "rec": i}), "e", i)
    if RUN.get("no_abort"):  # negative control: the alert waits for the dial as before
        m.at.abort_dial = lambda: False
    am.start()
    pl.start()
    in_dial = RUN.get("trigger_in_dial_ms")
    if in_dial is None:
        while len(t.sent) < 3:  # the data call is up and events are flowing
            await asyncio.sleep_ms(20)
    else:
        while not m.at.dialing:  # the platform link's first dial is waiting for the network
            await asyncio.sleep_ms(5)
        await asyncio.sleep_ms(in_dial)
    out = {"sent_before": len(t.sent), "released_at_trigger": m.at.released, "dialing_at_trigger": m.at.dialing}
    t_trig = ticks_ms()
    am.trigger("button")
    while not first("sms_sent"):
        await asyncio.sleep_ms(5)
    out["trigger_to_first_sms_ms"] = first("sms_sent")["ms"] - ticks_diff(t_trig, T0)
    cm = [x for x in LOG if x["event"] == "command_mode" and x["ms"] >= ticks_diff(t_trig, T0)]
    out["trigger_to_command_mode_ms"] = cm[0]["ms"] - ticks_diff(t_trig, T0) if cm else None
    while not (am.state == IDLE and not pl.ram and not len(pl.queue)):
        if ticks_diff(ticks_ms(), T0) > RUN.get("end_ms", 60000):
            break
        await asyncio.sleep_ms(50)
    out["sms_sent"] = len([x for x in LOG if x["event"] == "sms_sent"])
    # issue 20 item 6: the alert ending at alert_active_s sends each contact who got it an end notice
    # ("FIN DU SUIVI") through the outbox, its record marked why="end"; the alert's own records have
    # no "why". Each outbox record as the host test needs it to tell the two apart.
    out["recs"] = [{"c": r["c"], "why": r.get("why"), "st": r["st"], "mr": r["mr"]} for r in am.outbox.recs]
    whys = {(r["c"], r["mr"]): r.get("why") for r in am.outbox.recs}
    out["sms_sent_why"] = [whys.get((x["contact"], x["mr"]), "?") for x in LOG if x["event"] == "sms_sent"]
    out["end_notice_logs"] = [x.get("told") for x in LOG if x["event"] == "end_notice"]
    # send_pdu() aborts any data dial in flight (an SMS never waits behind a slow dial): the alert's
    # SMS abort the link's dial at the trigger; the end notices, later, may abort its re-dial too
    end = first("alert_expired")
    aborted = [x["ms"] for x in LOG if x["event"] == "data_dial_aborted"]
    out["dial_aborts_before_end"] = len([t for t in aborted if end is None or t < end["ms"]])
    out["dial_aborts_logged"] = len(aborted)
    out["events"] = [(d.get("event"), d.get("trigger")) for k, d in t.sent if k in ("t", "a")]
    out["sent_total"] = len(t.sent)
    out["pending"] = len(pl.queue)
    out["dials"] = len([x for x in LOG if x["event"] == "data_mode"])
    out["at_released_waits"] = len([x for x in LOG if x["event"] == "at_released"])
    out["dial_aborts"] = m.at.stats["dial_aborts"]
    return out


MODES = {"cycle": cycle, "drop": drop, "ignore": ignore, "refused": refused, "alert": alert, "abort": abort}
res = asyncio.run(MODES[RUN["mode"]]())
res["log"] = [x["event"] for x in LOG]
print("RESULT", json.dumps(res))
