"""The impact wake (issue 22) in the MicroPython VM: the simulated LIS3DH alone decides when the MCU
wakes (generator 1 on high-passed axes, INT1), the FIFO frozen at the impact (stream-to-FIFO) or
streaming, the firmware's FallMonitor after each wake until the detector is idle, then asleep again.
Committed MobiFall excerpt (tests/data/mobifall: 6 falls, 7 activity trials)."""
import os

from alertbutton.energy import impact_wake

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mobifall")


def test_every_fall_wakes_the_mcu_and_without_a_boot_the_frozen_fifo_loses_none(report):
    trials = impact_wake.load(DATA, None)
    assert sum(1 for t in trials if t[3]) == 6
    res = impact_wake.run(trials, thresholds=(1000,), boot_ms=0)
    s = impact_wake.summary(trials, res, (1000,))[1000]
    assert s["falls"]["awake"] == 6 and s["falls"]["no_wake"] == []
    # no boot: the 32 samples before the impact, then every sample after it: as awake
    assert s["falls"]["impact"] == 6 and s["adl"]["alarmed_impact"] == 0
    rows = {}
    for fz in (True, False):
        res = impact_wake.run(trials, thresholds=(1000,), boot_ms=1000, freeze=fz)
        rows[fz] = impact_wake.summary(trials, res, (1000,))[1000]
        assert all(r["impact"]["1000"]["wakes"] for r, t in zip(res, trials) if t[3])  # every fall woke it
    report("impact wake, 1 s boot, committed excerpt", "\n".join(
        "%s: falls %d / 6 (lost %s); %d wakes in %.1f min of activity" % (
            "stream-to-FIFO" if fz else "stream", r["falls"]["impact"], ", ".join(r["falls"]["lost"]) or "none",
            r["adl"]["wakes"], r["adl"]["hours"] * 60) for fz, r in rows.items()))
    # a 1 s boot loses falls either way (the frozen FIFO the second after the impact, the streaming
    # one the history before it): docs/fall-detection.md, *The impact wake*
    assert rows[True]["falls"]["impact"] < 6 and rows[False]["falls"]["impact"] < 6
