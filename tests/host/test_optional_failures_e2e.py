"""End to end: a failing optional part (here the evidence recorder) or a bad setting on the alert path
must never stop the alert. The firmware runs in the VM on the simulated board; every contact must
get its SMS, and the failure must be logged, not crash the firmware."""
import os
import time

import pytest

from alertbutton import vm
from alertbutton.sim.run import FirmwareExited, SimRun, run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
WAV = os.path.join(vm.REPO, "tests", "data", "audio", "speechlike_8k.wav")


def scenario(**kw):
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
          "last_fix": {"lat": 48.1, "lon": -1.6, "acc_m": 15, "age_s": 120},
          "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005},
          "events": [{"t": 3.0, "gesture": "alert"}], "duration_s": 25}
    sc.update(kw)
    return sc


def check_five_sms(run, out):
    assert sorted(s["to"] for s in run.sms) == [c["number"] for c in CONTACTS], \
        [e for e in run.events if e["event"] not in ("state", "gnss")]
    assert [e for e in run.events if e["event"] == "alert_error"] == []
    with open(os.path.join(str(out), "firmware.log")) as f:
        assert "Traceback" not in f.read()


def test_recorder_that_cannot_start_leaves_the_button_working(tmp_path):
    # a recorder setup failing with something other than MemoryError/OSError/ValueError (here a
    # setting of the wrong type: TypeError) ended App.run, hence the whole event loop, at boot
    run = run_scenario(scenario(audio=WAV, config={"evidence_chunk_s": "10"}), tmp_path)
    assert any(e["event"] == "evidence_unavailable" for e in run.events)
    check_five_sms(run, tmp_path)


def test_cmgs_timeout_setting_of_the_wrong_type_is_ignored(tmp_path):
    # "10" * 1000 is a string: the first AT+CMGS raised TypeError and the alert ended with 0 SMS
    run = run_scenario(scenario(config={"cmgs_timeout_s": "10"}), tmp_path)
    check_five_sms(run, tmp_path)


def test_zero_modem_failures_before_cycle_is_ignored(tmp_path):
    # one AT+CMGS without an answer counts as a modem failure: n % 0 raised ZeroDivisionError and
    # the four contacts after it never got the alert
    run = run_scenario(scenario(config={"modem_failures_before_cycle": 0, "cmgs_timeout_s": 10},
                                faults=[{"name": "no_cmgs"}], duration_s=35), tmp_path)
    assert any(e["event"] == "sms_failed" and e["reason"] == "timeout" for e in run.events)
    check_five_sms(run, tmp_path)


def test_a_boot_that_crashes_is_reset_by_the_watchdog_and_tried_again(tmp_path):
    # the first boot raises while the App is built (fault injected in the simulated board's
    # make_modem): main() armed the watchdog before, so the board, left at the REPL, is reset when
    # it fires and the second boot sends the alert pressed after it (3 s watchdog to keep it short)
    run = run_scenario(scenario(crash_first_boot=True, watchdog_ms=3000,
                                events=[{"t": 6.0, "gesture": "alert"}], duration_s=30), tmp_path)
    assert run.exit_codes[:1] == [1]  # the crash: MicroPython's uncaught exception
    assert [why for _t, why in run.resets] == ["watchdog"] and 2.5 <= run.resets[0][0] <= 5.0
    assert sorted(s["to"] for s in run.sms) == [c["number"] for c in CONTACTS]


def test_a_wait_stops_at_once_with_the_traceback_when_the_firmware_exits(tmp_path):
    # the e2e tests' own wait loops asserted supervise() on every pass: a crash that the board's watchdog
    # resets kept them waiting until their timeout, and the failure then showed events, not the cause.
    # wait_for(fail_on_exit=True) stops at the exit and says why.
    run = SimRun(scenario(crash_first_boot=True, watchdog_ms=3000, events=[]), str(tmp_path), echo=None)
    run.start()
    try:
        t0 = time.monotonic()
        with pytest.raises(FirmwareExited, match="(?s)exited with code 1 .*simulated crash while building the firmware"):
            run.wait_for(lambda r: False, 60, fail_on_exit=True)
        assert time.monotonic() - t0 < 30  # the boot and its crash, not the 60 s
        assert run.resets == []  # stopped before the watchdog's reset
    finally:
        run.stop()
