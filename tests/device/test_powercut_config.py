# Power cut at every flash operation of configuration changes, on LittleFS in RAM inside the VM
# (harness: powercut_harness.py; full run with figures: `alertbutton powercut`).
import powercut_harness as H


def test_every_cut_point_leaves_the_old_or_the_new_config():
    c = H.run(rounds=3)
    print(H.report(c))
    assert c["changes"] == 1 + 3 * len(H.changes(0))
    assert c["cuts"] == 3 * c["ops"] >= 300, c  # every operation, in each of the three modes
    assert c.get("old", 0) + c.get("new", 0) == c["cuts"], c.get("bad", [])[:10]
    assert not c.get("empty") and not c.get("corrupt") and not c.get("unmountable")
    assert c["new"] >= c["changes"] - 1  # the cut after the last operation does land on the new config


def test_the_harness_catches_a_naive_writer():
    # the same cuts on a writer that flushes mid-write and keeps no CRC nor backup: must be caught,
    # or the test above would prove nothing
    c = H.run(rounds=1, store=H.NaiveConfig())
    print("negative control: " + H.report(c))
    assert c.get("empty", 0) + c.get("corrupt", 0) > 0, c
