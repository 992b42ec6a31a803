"""The firmware's modem driver, running in the MicroPython VM, against the modem simulator on a pty:
boot sync through banners and echo, URCs injected at every point of an exchange, CMS errors."""
import json

from gsmmodem.pdu import decodeSmsPdu

from alertbutton import vm
from alertbutton.sim.modem.a76xx import ModemSim

SCRIPT = r'''
import asyncio, json, machine
from drivers.modem.simcom_a76xx import SimcomA76xx
from firmware.core.errors import SmsError
from firmware.core.sms_pdu import encode_submit

async def main():
    m = SimcomA76xx(machine.UART(1, path=PATH))
    m.start()
    ok = await m.bring_up(attempts=3)
    out = {"ready": ok, "sim": m.sim_ready, "reg": m.registered, "csq": m.csq, "imei": m.imei, "mr": [], "err": []}
    for i in range(N):
        pdu, n = encode_submit("+3361234560%d" % (i % 10), "Essai %d" % i)
        try:
            out["mr"].append(await m.send_pdu(pdu, n, timeout_ms=3000))
        except SmsError as e:
            out["err"].append([e.reason, e.code, e.transient])
    await m.gnss_power(True)
    await asyncio.sleep_ms(300)
    f = await m.gnss_fix()
    out["fix"] = None if f is None else [f.lat, f.lon, f.acc_m]
    out["stats"] = m.at.stats
    print("RESULT", json.dumps(out))

asyncio.run(main())
'''


def run_against(sim, n=3):
    path = sim.start()
    try:
        p = vm.run(code=SCRIPT.replace("PATH", repr(path)).replace("N)", "%d)" % n), timeout=60)
    finally:
        sim.stop()
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, p.stdout + p.stderr
    return json.loads(lines[0][7:])


def base(**modem):
    m = {"boot_s": 0.3, "cmgs_latency_s": 0.05, "cmd_latency_s": 0.005}
    m.update(modem)
    return {"modem": m, "gnss": {"lat": 43.6047, "lon": 1.44421, "acc_m": 10, "after_s": 0.1}}


def test_bring_up_send_and_gnss():
    sim = ModemSim(base())
    r = run_against(sim)
    assert r["ready"] and r["sim"] and r["reg"] and r["csq"] == 20 and r["imei"] == sim.imei
    assert r["mr"] == [0, 1, 2] and r["err"] == []
    assert [decodeSmsPdu(s["pdu"])["text"] for s in sim.sms] == ["Essai 0", "Essai 1", "Essai 2"]
    lat, lon, acc = r["fix"]
    assert abs(lat - 43.6047) < 1e-5 and abs(lon - 1.44421) < 1e-5 and abs(acc - 10) < 0.5


def test_urcs_at_every_point_of_the_exchange():
    sim = ModemSim(base(urc_rate_hz=30.0), seed=3)
    for when in ("before_final", "after_prompt", "after_echo"):
        for _ in range(4):
            sim.inject('+CMTI: "SM",7', when=when)
    r = run_against(sim, n=4)
    assert r["mr"] == [0, 1, 2, 3] and r["err"] == []
    assert r["stats"]["urcs"] >= 8


def test_cms_errors_are_reported_with_their_code():
    sim = ModemSim(base())
    sim.fault("cms_error", code=500, times=1)
    r = run_against(sim, n=2)
    assert r["err"] == [["cms", 500, True]] and r["mr"] == [0]


def test_unregistered_modem_gives_a_transient_error():
    r = run_against(ModemSim(base(registered_after_s=None)), n=1)
    assert not r["reg"] and r["err"] == [["cms", 331, True]]


AFTER_ERROR = r'''
import asyncio, json, machine
from drivers.modem.simcom_a76xx import SimcomA76xx
from firmware.core.errors import SmsError
from firmware.core.errors import AtError, AtTimeout
from firmware.core.sms_pdu import encode_submit

async def main():
    m = SimcomA76xx(machine.UART(1, path=PATH))
    m.start()
    await m.bring_up(attempts=3)
    out = []
    for i in range(3):
        pdu, n = encode_submit("+33612345601", "Essai")
        try:
            await m.send_pdu(pdu, n, timeout_ms=3000)
            out.append("sent")
        except SmsError as e:
            out.append(e.code)
        try:
            await m.at.command("AT", timeout_ms=1000)
            out.append("AT ok")
        except (AtError, AtTimeout) as e:
            out.append("AT failed " + repr(e))
    print("RESULT", json.dumps(out))

asyncio.run(main())
'''


def test_error_instead_of_prompt_sends_no_pdu_and_the_next_command_works():
    # not registered: AT+CMGS answers +CMS ERROR at once; the PDU must not follow into command mode
    sim = ModemSim(base(registered_after_s=None))
    path = sim.start()
    try:
        p = vm.run(code=AFTER_ERROR.replace("PATH", repr(path)), timeout=60)
    finally:
        sim.stop()
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, p.stdout + p.stderr
    assert json.loads(lines[0][7:]) == [331, "AT ok"] * 3
