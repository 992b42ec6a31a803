"""drivers/modem/sms_reader.py in the MicroPython VM with the A76xx driver, against the modem simulator with
inbound SMS (tools/alertbutton/sim/modem/inbound.py) over a pty: messages stored while the firmware was
down, +CMTI during operation, concatenated parts out of order and duplicated, UCS2 from a national
number, unknown senders, a wrong PIN, an undecodable PDU and the simulator's random incoming SMS.
Every whole message goes through firmware/sms/inbox.py; at the end the SIM store must be empty."""
import json
import threading

from alertbutton import vm
from alertbutton.sim.modem.inbound import InboundModemSim, deliver_pdus

SCRIPT = r'''
import asyncio, json, machine
from time import ticks_ms, ticks_diff
from drivers.modem.simcom_a76xx import SimcomA76xx
from drivers.modem.sms_reader import SmsReader
from firmware.settings import pin_lock
from firmware.sms.inbox import Inbox

CFG = {"contacts": [{"name": "A", "number": "+33612345678"}, {"name": "B", "number": "+33750000001"},
                    {"name": "C", "number": "+33611111111"}], "contacts_pin": pin_lock.make("482916")}

async def main():
    events = []
    def log(ev, **kw):
        events.append(ev)
    m = SimcomA76xx(machine.UART(1, path=PATH), log=log)
    m.start()
    ok = await m.bring_up(attempts=3)
    inbox = Inbox(CFG, log=log)
    got = []
    noise = []
    def on_msg(sms):
        act = inbox.handle(sms.sender, sms.text, ticks_ms(), True)
        if sms.sender == "+33611223344":  # the simulator's random incoming SMS
            noise.append(sms.text)
            return
        got.append([sms.sender, sms.text, sms.total, sms.enc] + list(act))
    r = SmsReader(m, on_msg, log=log, sweep_ms=SWEEP_MS)
    r.start()
    t0 = ticks_ms()
    while (len(got) < N or r.stats["bad"] < 2) and ticks_diff(ticks_ms(), t0) < 20000:
        await asyncio.sleep_ms(50)
    await asyncio.sleep_ms(300)
    print("RESULT", json.dumps({"ready": ok, "got": got, "noise": noise, "stats": r.stats, "events": events}))

asyncio.run(main())
'''

LONG_POS = "POSITION 482916 " + "merci de me dire ou tu es, " * 7
LONG_STOP = "STOP 482916 " + "c'est fini, je suis avec elle maintenant. " * 5


def run(sim, n, sweep_ms=1500):
    path = sim.start()
    try:
        code = SCRIPT.replace("PATH", repr(path)).replace("SWEEP_MS", str(sweep_ms)).replace("N or", "%d or" % n)
        p = vm.run(code=code, timeout=60)
    finally:
        sim.stop()
    lines = [x for x in p.stdout.split("\n") if x.startswith("RESULT ")]
    assert lines, p.stdout[-3000:] + p.stderr[-3000:]
    return json.loads(lines[0][7:])


def test_inbound_sms_end_to_end_in_the_vm():
    log = []
    lock = threading.Lock()

    def on_log(line):
        with lock:
            log.append(line)
    sim = InboundModemSim({"modem": {"boot_s": 0.3, "cmd_latency_s": 0.005, "urc_rate_hz": 4.0}},
                          on_log=on_log, seed=5)
    # arrived while the firmware was down: on the SIM before the VM starts, one part of a long one
    sim.put_stored(deliver_pdus("+33612345678", "ok")[0])
    pos = deliver_pdus("+33750000001", LONG_POS, reference=77)
    assert len(pos) == 2
    sim.put_stored(pos[1], stat=1)
    sim.put_stored(pos[0])
    # while it runs (the network holds them until the module is up, then +CMTI)
    sim.deliver("0612345678", "OÙ 482916")  # national number; Ù is not GSM-7: UCS2
    for k, (who, text) in enumerate((("+33699999999", "STOP 482916"), ("+33611111111", "STOP 000000"))):
        for p in deliver_pdus(who, text):
            sim.deliver_pdu(p, delay_s=2.0 + 0.2 * k)
    stop = deliver_pdus("+33611111111", LONG_STOP, reference=300)  # 16-bit reference
    assert len(stop) == 2
    for d, k in ((2.6, 1), (2.7, 1), (2.9, 0)):  # out of order, part 2 twice
        sim.deliver_pdu(stop[k], delay_s=d)
    sim.deliver_pdu("07913386094000F004ZZ", delay_s=2.4)  # garbage: retried once, then deleted

    r = run(sim, n=6)
    assert r["ready"]
    got = {(g[0], g[1]): g for g in r["got"]}
    assert len(r["got"]) == 6, r["got"]
    assert got[("+33612345678", "ok")][4:] == ["ack", 0, None]
    assert got[("+33750000001", LONG_POS)][2:] == [2, "gsm7", "position", 1, None]
    assert got[("0612345678", "OÙ 482916")][2:] == [1, "ucs2", "position", 0, None]
    assert got[("+33699999999", "STOP 482916")][4:] == ["ignore", -1, "unknown_sender"]
    assert got[("+33611111111", "STOP 000000")][4:] == ["ignore", 2, "bad_pin"]
    assert got[("+33611111111", LONG_STOP)][2:] == [2, "gsm7", "stop", 2, None]
    # everything handled was deleted, garbage included; the simulator's random SMS keep coming (~0.6/s)
    # and one may arrive after the reader's last pass: only such an unread one may be left
    from gsmmodem.pdu import decodeSmsPdu
    left = [decodeSmsPdu(rec[1]) for rec in sim.store.values()]
    assert all(d["number"] == "+33611223344" and d["text"] not in r["noise"] for d in left), sim.store
    assert r["stats"]["bad"] == 2 and "sms_undecodable" in r["events"]
    assert "sms_duplicate" in r["events"]  # the second copy of part 2
    joined = "\n".join(log)
    assert "> AT+CMGL=4" in joined and "> AT+CMGR=" in joined  # sweep and +CMTI paths both used
    assert len(r["noise"]) >= 1  # random SMS from an unknown number came, were ignored and deleted too
    assert sim.error is None


def test_reader_survives_a_modem_reboot_and_catches_up_by_sweep():
    # the module resets at 1.8 s; an SMS at 1.5 s comes normally, the one at 3 s without its +CMTI
    # (lost): the periodic sweep finds it
    sim = InboundModemSim({"modem": {"boot_s": 0.3, "cmd_latency_s": 0.005},
                           "faults": [{"name": "spontaneous_reboot", "at_s": 1.8}]}, seed=2)
    sim.deliver_pdu(deliver_pdus("+33612345678", "Reçu")[0], delay_s=1.5)
    sim.deliver_pdu(deliver_pdus("+33750000001", "OK")[0], delay_s=3.0, announce=False)
    path = sim.start()
    try:
        code = SCRIPT.replace("PATH", repr(path)).replace("SWEEP_MS", "1000").replace(
            "N or", "2 or").replace('r.stats["bad"] < 2', 'r.stats["bad"] < 0')
        p = vm.run(code=code, timeout=60)
    finally:
        sim.stop()
    lines = [x for x in p.stdout.split("\n") if x.startswith("RESULT ")]
    assert lines, p.stdout[-3000:] + p.stderr[-3000:]
    r = json.loads(lines[0][7:])
    assert sorted((g[1], g[4]) for g in r["got"]) == [("OK", "ack"), ("Reçu", "ack")]
    assert sim.store == {}
    assert sim.fault_hits.get("spontaneous_reboot") == 1 and sim.boots == 2
    assert r["stats"]["sweeps"] >= 2
