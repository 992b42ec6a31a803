"""Falls that start while the MCU deep-sleeps (issue 8/6), in the MicroPython VM: the simulated LIS3DH
raises INT1 (activity interrupt set by FallMonitor.sleep_mode, the chip then at its sleep rate) on the
simulated pin, the boot loses all but the FIFO's last 32 samples, the firmware's FallMonitor resumes
with the still posture kept in "RTC memory" and interpolates the FIFO up to 50 Hz. Committed MobiFall
excerpt (tests/data/mobifall: 6 falls of held-out subjects)."""
import os

from alertbutton.energy import fall_wake

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mobifall")
BOOTS = (0, 640, 1000)


def test_a_fall_from_deep_sleep_wakes_the_mcu_and_is_detected(report):
    trials = fall_wake.load(DATA)
    assert len(trials) == 6
    res = fall_wake.run(trials, boot_ms=BOOTS)
    assert all(r["sleep_hz"] == 25 for r in res)  # the firmware's default sleep rate
    s = fall_wake.summary(res, BOOTS)
    s50 = fall_wake.summary(fall_wake.run(trials, boot_ms=BOOTS, sleep_hz=50), BOOTS)
    report("falls from deep sleep (6 committed MobiFall falls)", "\n".join(
        "boot %d ms: detected %d/6 at 25 Hz, %d/6 at 50 Hz" % (b, s[b]["detected"], s50[b]["detected"])
        for b in BOOTS))
    assert s["awake"] == 6 and s50["awake"] == 6
    for b in BOOTS:
        assert s[b]["woke"] == 6  # INT1 fired on every fall, before the trace ended (also at 25 Hz)
        for r in res:
            a = r["asleep"][str(b)]
            assert a["posture"] is not None and 900 < sum(v * v for v in a["posture"]) ** 0.5 < 1100
    # at 25 Hz the FIFO spans 1.28 s, but the impact is sampled at 25 Hz and interpolated: its peak
    # reads 0.2-0.6 g lower. Issue 24's second model (more weight on the peak) loses FKL_4_1 after a
    # 1 s boot (5 of 6; the model before it kept 6: docs/fall-detection.md, *Falls from deep sleep*)
    assert s[0]["detected"] == 6 and s[640]["detected"] == 6 and s[1000]["detected"] >= 5
    assert s50[0]["detected"] == 6 and s50[1000]["detected"] < 6


def test_the_saved_posture_is_what_recovers_falls_after_a_long_boot():
    # a 2 s boot: past the FIFO's 1.28 s, only the posture says where she was before the fall
    trials = fall_wake.load(DATA)
    seeded = fall_wake.summary(fall_wake.run(trials, boot_ms=(2000,)), (2000,))
    blind = fall_wake.summary(fall_wake.run(trials, boot_ms=(2000,), seed=False), (2000,))
    # (issue 24's first model lost SDL_4_1 past a 2 s boot: 5 of 6, the one before it kept 6; its
    # second model keeps 4 of 6: docs/fall-detection.md, *Falls from deep sleep*)
    assert seeded[2000]["detected"] >= 4 and blind[2000]["detected"] == 0


def test_the_wake_batch_costs_little_esp32_time(report):
    # a figure with a generous bound, not a benchmark: the lowest of 3 VM runs, pystone over ~50 ms
    # of each (one run on a loaded CI machine once read 172 ms for what is ~26 ms)
    ms = fall_wake.wake_batch_ms(fall_wake.load(DATA)[:3], loops=20000)
    report("first FIFO batch after a deep-sleep wake (ESP32 ms, 3 falls)", "%.1f ms" % ms)
    assert 0 < ms < 100  # against a boot of ~1 s
