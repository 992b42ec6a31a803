"""Falls that start while the MCU deep-sleeps (issue 8), in the MicroPython VM: the simulated LIS3DH
raises INT1 (activity interrupt set by FallMonitor.sleep_mode) on the simulated pin, the boot loses
all but the FIFO's last 32 samples, the firmware's FallMonitor resumes with the still posture kept in
"RTC memory". Committed MobiFall excerpt (tests/data/mobifall: 6 falls of held-out subjects)."""
import os

from alertbutton import energy_fall_wake as fw

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mobifall")


def test_a_fall_from_deep_sleep_wakes_the_mcu_and_is_detected(report):
    trials = fw.load(DATA)
    assert len(trials) == 6
    res = fw.run(trials, boot_ms=(0, 640, 1000))
    s = fw.summary(res, (0, 640, 1000))
    report("falls from deep sleep (6 committed MobiFall falls)", "\n".join(
        "boot %d ms: detected %d/6" % (b, s[b]["detected"]) for b in (0, 640, 1000)))
    assert s["awake"] == 6
    for b in (0, 640, 1000):
        assert s[b]["woke"] == 6  # INT1 fired on every fall, before the trace ended
        for r in res:
            a = r["asleep"][str(b)]
            assert a["posture"] is not None and 900 < sum(v * v for v in a["posture"]) ** 0.5 < 1100
    # a boot within the FIFO's 0.64 s loses nothing here; a 1 s boot loses falls (the assumption's
    # cost, measured over every fall trial in docs/power.md)
    assert s[0]["detected"] == 6 and s[640]["detected"] == 6
    assert s[1000]["detected"] < 6


def test_the_saved_posture_is_what_recovers_falls_after_a_boot():
    trials = fw.load(DATA)
    seeded = fw.summary(fw.run(trials, boot_ms=(640,)), (640,))
    blind = fw.summary(fw.run(trials, boot_ms=(640,), seed=False), (640,))
    assert seeded[640]["detected"] == 6 and blind[640]["detected"] < 6
