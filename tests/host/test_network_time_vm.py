"""The network's time (NITZ) through the A76xx driver, in the MicroPython VM, against the modem
simulator: AT+CTZU=1 / AT+CTZR=1 at bring-up, the +CTZV report on registering, then AT+CCLK? sets the
device clock as network time. Without NITZ, or with the module's default or an absurd date, the clock
stays unset (the VM's own RTC, the PC's clock, is never taken for the time)."""
import calendar
import json

from alertbutton import vm
from alertbutton.sim.modem.a76xx import ModemSim

SCRIPT = r'''
import asyncio, json, machine, time
from drivers.modem.simcom_a76xx import SimcomA76xx
from firmware.core import clock

UNIX = 946684800 if time.gmtime(0)[0] == 2000 else 0
logs = []

async def main():
    m = SimcomA76xx(machine.UART(1, path=PATH), log=lambda e, **k: logs.append(e))
    m.start()
    ok = await m.bring_up(attempts=3)
    before = clock.utc_now()
    await asyncio.sleep_ms(2500)  # the network registers the module meanwhile
    await m.poll_status()
    t = clock.utc_now()
    print("RESULT", json.dumps({"ready": ok, "before": before, "utc": None if t is None else t + UNIX,
                                "status": list(clock.status()), "logs": logs}))

asyncio.run(main())
'''


def run_against(sim):
    path = sim.start()
    try:
        p = vm.run(code=SCRIPT.replace("PATH", repr(path)), timeout=60)
    finally:
        sim.stop()
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, p.stdout + p.stderr
    return json.loads(lines[0][7:])


def modem(**kw):
    m = {"boot_s": 0.3, "cmd_latency_s": 0.005, "registered_after_s": 1.5}
    m.update(kw)
    lines = []
    sim = ModemSim({"modem": m}, on_log=lines.append)
    sim.rx_log = lambda: [ln.split("> ", 1)[1] for ln in lines if "> AT" in ln]
    return sim


def test_network_time_sets_the_clock_in_utc():
    sim = modem(net_time="27/03/14,18:45:00+08")  # local time 2 h ahead of UTC
    r = run_against(sim)
    assert r["ready"] and r["before"] is None  # the +CTZV comes with the registration, after bring-up
    assert r["status"][0] == "network" and r["status"][1] <= 3
    # the sim clock ran ~3 s since boot: UTC 16:45:0x on 14 March 2027
    assert 0 <= r["utc"] - calendar.timegm((2027, 3, 14, 16, 45, 0)) <= 8
    assert "AT+CTZU=1" in sim.rx_log() and "AT+CTZR=1" in sim.rx_log()
    assert sim.rx_log().count("AT+CCLK?") == 1  # once per network report


def test_no_nitz_leaves_the_clock_unset():
    sim = modem(nitz=False)
    r = run_against(sim)
    assert r["ready"] and r["utc"] is None and r["status"] == [None, None]
    assert "AT+CCLK?" not in sim.rx_log()  # the module's RTC is never read without a network report


def test_absurd_network_dates_are_refused():
    for net_time in ("80/01/06,00:00:00+00", "70/01/01,00:00:00+00", "23/12/31,23:00:00+00"):
        sim = modem(net_time=net_time)
        r = run_against(sim)
        assert r["ready"] and r["utc"] is None and r["status"] == [None, None], (net_time, r)
        assert "clock_refused" in r["logs"]


def test_a_burst_of_network_reports_reads_the_time_at_most_once_a_minute():
    sim = modem(urc_rate_hz=30.0)  # +CTZV is one of the random URCs: ~6 a second here
    r = run_against(sim)
    assert r["ready"] and r["status"][0] == "network"
    # at most: once at bring-up, once for the first report, once at the status poll (not ~18 times)
    assert 1 <= sim.rx_log().count("AT+CCLK?") <= 3, sim.rx_log()
