"""Every modem dialect's driver, running in the MicroPython VM, against its simulated dialect on a pty
(tools/alertbutton/sim/modem/dialects.py), at the driver level of the issue-3 alert scenarios:
  (a) a fix at once, (b) no fix, then a fix later (40 s in the issue; scaled down here), (c) no GNSS at
  all (indoors): no fix ever, the serving cell instead. Plus SIM7080's GNSS/LTE exclusion and the
external NMEA receiver driver reading a gpsd log from a pty."""
import json
import os
import threading
import time

import pytest

from alertbutton import vm
from alertbutton.sim.modem import dialects
from alertbutton.sim.modem.a76xx import ModemSim

HERE = os.path.dirname(os.path.abspath(__file__))
NMEA_LOG = os.path.join(os.path.dirname(HERE), "data", "nmea", "neo-m8n.log")

DIALECTS = ("a76xx", "sim7600", "sim7080", "bg95")
PARIS = {"lat": 48.85661, "lon": 2.35222}
CELL = {"mcc": 208, "mnc": 1, "tac": 12345, "cid": 1234567}

SCRIPT = r'''
import asyncio, json, machine
from time import ticks_ms, ticks_diff
from boards.profiles import modem_class
from firmware.core.errors import SmsError
from firmware.core.sms_pdu import encode_submit

def fixd(f, t0):
    if f is None:
        return None
    return {"lat": f.lat, "lon": f.lon, "acc": f.acc_m, "sats": f.sats, "utc": f.utc, "src": f.source,
            "ms": ticks_diff(ticks_ms(), t0)}

async def main():
    m = modem_class(DIALECT)(machine.UART(1, path=PATH))
    m.start()
    out = {"ready": await m.bring_up(attempts=3), "name": m.name, "blocks": m.gnss_blocks_lte, "log": []}
    t_on = ticks_ms()
    for step in PLAN:
        op = step[0]
        if op == "gnss":
            await m.gnss_power(step[1])
            t_on = ticks_ms()
            out["log"].append(["gnss", m.gnss_on])
        elif op == "fix":
            out["log"].append(["fix", fixd(await m.gnss_fix(), t_on)])
        elif op == "poll":  # poll every 100 ms until a fix or step[1] ms
            f, n = None, 0
            while f is None and ticks_diff(ticks_ms(), t_on) < step[1]:
                f = await m.gnss_fix()
                n += 1
                if f is None:
                    await asyncio.sleep_ms(100)
            out["log"].append(["poll", fixd(f, t_on), n])
        elif op == "read":  # the self-test's question: did the GNSS answer, with or without a fix?
            a, f = await m.gnss_read()
            out["log"].append(["read", a, fixd(f, t_on)])
        elif op == "status":  # the self-test's modem queries
            out["log"].append(["status", await m.sim_state(), await m.registration(), await m.signal(),
                               await m.operator()])
        elif op == "cell":
            c = await m.serving_cell()
            out["log"].append(["cell", None if c is None else list(c), m.gnss_on])
        elif op == "sms":
            pdu, n = encode_submit("+33612345678", "Essai")
            try:
                out["log"].append(["sms", await m.send_pdu(pdu, n, timeout_ms=5000), m.gnss_on])
            except SmsError as e:
                out["log"].append(["sms_err", e.reason, e.code, m.gnss_on])
        elif op == "raw_sms":  # AT+CMGS straight on the channel, without the driver's precautions
            pdu, n = encode_submit("+33612345678", "Brut")
            try:
                await m.at.command_with_prompt("AT+CMGS=%d" % n, pdu, timeout_ms=5000, expect="+CMGS:")
                out["log"].append(["raw_sms", "ok"])
            except Exception as e:
                out["log"].append(["raw_sms", repr(e)])
    print("RESULT", json.dumps(out))

asyncio.run(main())
'''


def scenario(dialect, gnss=PARIS, after_s=0.0, cell=CELL, acc_m=8.0, **modem):
    m = {"dialect": dialect, "boot_s": 0.2, "banner_gap_s": 0.02, "cmgs_latency_s": 0.05,
         "cmd_latency_s": 0.005, "lte_resume_s": 0.3}
    m.update(modem)
    sc = {"modem": m, "cell": cell}
    sc["gnss"] = None if gnss is None else dict(gnss, acc_m=acc_m, after_s=after_s, sats=11)
    return sc


def run(sc, plan):
    sim = dialects.create(sc)
    path = sim.start()
    try:
        code = (SCRIPT.replace("DIALECT", repr(sc["modem"]["dialect"]), 1).replace("PATH", repr(path), 1)
                .replace("PLAN", repr(plan), 1))
        p = vm.run(code=code, timeout=60)
    finally:
        sim.stop()
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, p.stdout + p.stderr
    r = json.loads(lines[0][7:])
    assert r["ready"], r
    assert sim.error is None, sim.error
    return r, sim


def close_fix(f, acc):
    assert f is not None
    # the dialects print 5 (BG95 mode 2) to 6 decimals: 1e-5 deg is ~1 m
    assert abs(f["lat"] - PARIS["lat"]) <= 1.1e-5 and abs(f["lon"] - PARIS["lon"]) <= 1.1e-5, f
    assert abs(f["acc"] - acc) <= 0.6, f
    assert f["src"] == "gnss" and f["sats"] > 0, f
    assert f["utc"] is not None and f["utc"] > 0, f


@pytest.mark.parametrize("dialect", DIALECTS)
def test_fix_at_once_and_the_serving_cell(dialect):
    plan = [["fix"], ["gnss", True], ["poll", 3000], ["cell"], ["sms"]]
    if dialect == "sim7080":
        plan = [["fix"], ["gnss", True], ["poll", 3000], ["sms"], ["cell"]]
    r, sim = run(scenario(dialect), plan)
    log = r["log"]
    assert log[0] == ["fix", None], log  # GNSS still off: no fix, no error
    assert log[1] == ["gnss", True], log
    close_fix(log[2][1], 8.0)
    cells = [e for e in log if e[0] == "cell"]
    assert cells[0][1] == [208, "01", 12345, 1234567], log
    sms = [e for e in log if e[0] in ("sms", "sms_err")]
    assert sms[0][0] == "sms", log
    assert len(sim.sms) == 1 and sim.sms[0]["text"] == "Essai"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_fix_then_a_fix_later(dialect):
    # the "fix after 40 s", scaled to 0.7 s: the driver must say None, never a stale/empty fix
    r, _ = run(scenario(dialect, after_s=0.7, acc_m=30.0), [["gnss", True], ["fix"], ["poll", 5000]])
    log = r["log"]
    assert log[1] == ["fix", None], log
    f = log[2][1]
    close_fix(f, 30.0)
    assert f["ms"] >= 650, f  # not before the simulated receiver had it
    assert log[2][2] >= 3, log  # several "no fix yet" answers came first and were handled


@pytest.mark.parametrize("dialect", DIALECTS)
def test_indoors_no_gnss_gives_the_cell(dialect):
    plan = [["gnss", True], ["poll", 700], ["cell"]]
    r, _ = run(scenario(dialect, gnss=None, cell={"mcc": 208, "mnc": "20", "tac": 0x5B10, "cid": 58224899}), plan)
    log = r["log"]
    assert log[1][1] is None and log[1][2] >= 3, log
    assert log[2][1] == [208, "20", 0x5B10, 58224899], log


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_cell_information_is_none_not_an_error(dialect):
    r, _ = run(scenario(dialect, cell=None), [["cell"]])
    assert r["log"][0][1] is None, r


@pytest.mark.parametrize("dialect", DIALECTS)
def test_status_queries_and_gnss_read_tell_no_fix_from_no_gnss(dialect):
    r, _ = run(scenario(dialect, gnss=None), [["status"], ["gnss", True], ["read"]])
    assert r["log"][0] == ["status", "READY", 1, 20, "Orange F"], r
    assert r["log"][2] == ["read", True, None], r  # the engine answers: no fix yet (indoors)
    r, _ = run(scenario(dialect), [["gnss", True], ["poll", 3000], ["read"]])
    assert r["log"][2][1] is True, r
    close_fix(r["log"][2][2], 8.0)
    sc = scenario(dialect)
    sc["faults"] = [{"name": "no_gnss"}]  # a module without a working GNSS engine
    r, sim = run(sc, [["gnss", True], ["read"]])
    assert r["log"] == [["gnss", False], ["read", False, None]], r
    assert sim.fault_hits["no_gnss"] >= 2


def test_status_queries_without_a_sim():
    sc = scenario("a76xx")
    sc["faults"] = [{"name": "no_sim"}]
    r, _ = run(sc, [["status"]])
    assert r["log"][0] == ["status", "SIM not inserted", 0, 20, None], r


def test_sim7080_gnss_and_lte_are_exclusive():
    plan = [["gnss", True], ["poll", 3000], ["raw_sms"], ["sms"], ["gnss", True], ["cell"]]
    r, sim = run(scenario("sim7080"), plan)
    assert r["blocks"] is True and r["name"] == "simcom-sim7080"
    log = r["log"]
    close_fix(log[1][1], 8.0)
    # the simulated module refuses an SMS while GNSS holds the radio...
    assert log[2][0] == "raw_sms" and "331" in log[2][1], log
    assert sim.refused_sms == 1
    # ...and the driver gets it through anyway: GNSS off first, wait for registration, then send
    assert log[3][0] == "sms" and log[3][2] is False, log
    assert [s["text"] for s in sim.sms] == ["Essai"]
    # the serving cell also needs LTE: GNSS is paused for it too
    assert log[5] == ["cell", [208, "01", 12345, 1234567], False], log


@pytest.mark.parametrize("dialect", ("a76xx", "sim7600", "bg95"))
def test_other_dialects_keep_gnss_on_while_sending(dialect):
    r, sim = run(scenario(dialect), [["gnss", True], ["sms"], ["cell"]])
    assert r["blocks"] is False
    assert r["log"][1][0] == "sms" and r["log"][1][2] is True, r
    assert r["log"][2][2] is True, r


def test_gnss_power_is_idempotent_on_every_dialect():
    # SIM7600 answers ERROR to a second AT+CGPS=1, BG95 +CME ERROR 504/505: the drivers must read
    # that as "already in that state", not as a failure
    for d in DIALECTS:
        r, _ = run(scenario(d), [["gnss", True], ["gnss", True], ["gnss", False], ["gnss", False],
                                 ["gnss", True]])
        assert [e[1] for e in r["log"]] == [True, True, False, False, True], (d, r)


def test_bg95_verbose_and_numeric_errors():
    # drivers/modem/base.py sets AT+CMEE=2: "+CME ERROR: Not fixed now"; the numeric form is tested in
    # tests/device/test_dialects_gnss.py
    sim = dialects.create(scenario("bg95", after_s=60))
    sim.cmee = 2
    assert sim._final_text(("cme", 516)) == "+CME ERROR: Not fixed now"
    sim.cmee = 1
    assert sim._final_text(("cme", 516)) == "+CME ERROR: 516"


def test_registered_in_modem_sim_dialects():
    from alertbutton.sim.modem.a76xx import DIALECTS as REG
    for d in ("sim7600", "sim7080", "bg95"):
        assert REG[d] is dialects.OURS[d]
    assert REG["a76xx"] is ModemSim  # the base module's own entry is left alone


NMEA_SCRIPT = r'''
import asyncio, json, machine
from drivers.nmea_gnss import NmeaGnss

async def main():
    g = NmeaGnss(machine.UART(2, path=PATH))
    g.start()
    fixes = []
    for _ in range(60):
        await asyncio.sleep_ms(50)
        f = await g.gnss_fix()
        if f is not None and (not fixes or fixes[-1] != [f.lat, f.lon]):
            fixes.append([f.lat, f.lon])
    print("RESULT", json.dumps({"fixes": fixes, "stats": g.stats()}))

asyncio.run(main())
'''


def test_nmea_receiver_on_a_pty_matches_the_vm_parser():
    """drivers/nmea_gnss.py reads a u-blox log (gpsd excerpt) from a pty in small writes; its fixes
    are those of `alertbutton nmea` (firmware/core/nmea.py) on the same log."""
    import pty
    import tty
    from alertbutton.checks import nmea_decode
    master, slave = pty.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    data = b"".join(ln for ln in open(NMEA_LOG, "rb") if not ln.startswith(b"#"))

    def writer():
        time.sleep(0.3)
        for i in range(0, len(data), 37):  # sentences split across reads
            os.write(master, data[i:i + 37])
            time.sleep(0.002)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        p = vm.run(code=NMEA_SCRIPT.replace("PATH", repr(os.ttyname(slave))), timeout=60)
    finally:
        t.join(5)
        os.close(master)
        os.close(slave)
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, p.stdout + p.stderr
    r = json.loads(lines[0][7:])
    assert r["stats"]["errors"] == 0 and r["stats"]["badsum"] == 0, r
    ref, _, _ = nmea_decode.run_vm(NMEA_LOG)
    ref_pos = [[f["lat"], f["lon"]] for f in ref if f["mode"] >= 2]
    assert len(r["fixes"]) >= 3, r
    for lat, lon in r["fixes"]:  # every fix the driver gave is one the parser reports for the log
        assert any(abs(lat - a) < 1e-7 and abs(lon - b) < 1e-7 for a, b in ref_pos), (lat, lon)
