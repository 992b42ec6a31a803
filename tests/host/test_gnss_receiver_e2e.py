"""End to end with an external NMEA receiver instead of the modem's GNSS (board profile option): the
firmware in the VM reads a real receiver's log (gpsd's neo-m8n regression log, u-blox M8N) from its
simulated UART2, and the five SMS carry the position gpsd itself decoded from the same sentences."""
import json
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from alertbutton.sim.run import run_scenario, ScenarioError, GNSS_EN_PIN  # noqa: E402
from alertbutton import vm  # noqa: E402

LOG = "tests/data/nmea/neo-m8n.log"
CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
POS = re.compile(r"(-?\d{1,3}\.\d{4,6}),(-?\d{1,3}\.\d{4,6})")


def gpsd_fixes(log):
    """gpsd's decoding of the log: (lat, lon) of every TPV with a 2D/3D fix."""
    out = []
    with open(os.path.join(vm.REPO, log + ".chk")) as f:
        for ln in f:
            if ln.startswith('{"class":"TPV"'):
                d = json.loads(ln)
                if d.get("mode", 0) >= 2:
                    out.append((d["lat"], d["lon"]))
    assert out
    return out


def scenario(**receiver):
    spec = {"log": LOG, "lines_per_s": 40}
    spec.update(receiver)
    return {"wearer": "Camille", "contacts": CONTACTS, "gnss": None, "last_fix": None, "cell": None,
            "gnss_receiver": spec, "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005},
            # after the receiver is powered and the first epochs can have been polled (2 s poll)
            "events": [{"t": 6.0, "gesture": "alert"}], "duration_s": 30}


def check_positions(run):
    assert len(run.sms) == 5, [e for e in run.events if e["event"] not in ("state",)]
    truth = gpsd_fixes(LOG)
    for s in run.sms:
        m = POS.search(s["text"])
        assert m, s["text"]
        lat, lon = float(m.group(1)), float(m.group(2))
        assert min(abs(lat - a) + abs(lon - b) for a, b in truth) < 2e-5, (lat, lon, s["text"])


def test_sms_carry_the_external_receivers_position(tmp_path):
    run = run_scenario(scenario(), tmp_path)
    check_positions(run)
    # the firmware powered the receiver through its enable pin, and it talked only after that
    assert any(g == GNSS_EN_PIN and lvl == 1 for _, g, lvl in run.pins), run.pins
    assert run.receiver.sent > 0


def test_garbage_on_the_receivers_line_loses_nothing(tmp_path):
    run = run_scenario(scenario(garbage_every=3), tmp_path)
    check_positions(run)
    assert run.receiver.garbage > 5


def _nmea(body):
    ck = 0
    for c in body.encode():
        ck ^= c
    return "$%s*%02X" % (body, ck)


def test_receiver_without_a_fix_falls_back_to_the_cell(tmp_path):
    # a receiver indoors: valid sentences, never a fix -> the SMS give the serving cell, no position
    log = tmp_path / "void.log"
    log.write_text("\n".join([_nmea("GPGGA,101500.00,,,,,0,00,99.99,,,,,,"),
                              _nmea("GPRMC,101500.00,V,,,,,,,271126,,,N")]) + "\n")
    sc = scenario(log=str(log), lines_per_s=10)
    sc["cell"] = {"mcc": 208, "mnc": "10", "tac": 0x1A2B, "cid": 123456789}
    run = run_scenario(sc, tmp_path / "run")
    assert len(run.sms) == 5
    for s in run.sms:
        assert "CID 123456789" in s["text"] and not POS.search(s["text"]), s["text"]
    assert run.receiver.sent > 10


def test_bad_receiver_spec_is_a_clear_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="gnss_receiver"):
        run_scenario({"contacts": CONTACTS, "gnss_receiver": {"log": "no/such.log"}}, tmp_path)
    with pytest.raises(ScenarioError, match="gnss_receiver"):
        run_scenario({"contacts": CONTACTS, "gnss_receiver": {}}, tmp_path)
