"""`alertbutton energy`: a short accelerated day in the VM (the firmware's power accounting), the
current table, the arithmetic and the plot."""
import json
import struct
import zlib

import pytest

from alertbutton.energy import battery_life



HOURS3 = {
    "duration_s": 3 * 3600,
    "segments": [
        {"from": "00:00", "to": "01:00", "activity": "still"},
        {"from": "01:00", "to": "01:20", "activity": "walking"},
        {"from": "01:20", "to": "02:00", "activity": "moves", "every_s": 120, "burst_s": 10},
        {"from": "02:00", "to": "03:00", "activity": "still"},
    ],
    "alerts": [{"t": "01:10"}],
    "hardware": {"mic_chipen": False, "accel_state": "n50"},
    "power": {"fall_detection": True, "still_s": 30, "min_deep_s": 60, "max_deep_s": 21600},
    "modem": {"contacts": 5, "boot_s": 11.1, "config_s": 1.0, "register_s": 5.0, "sms_s": 3.0,
              "wake_ms": 100, "idle_to_sleep_s": 5, "off_after_s": 60, "check_s": 3600},
    "gnss": {"fix_s": 30},
    "mcu": {"boot_ms": 1000, "arm_ms": 300, "fifo_samples": 25, "rate_hz": 50, "i2c_hz": 400000,
            "wake_overhead_ms": 1.0, "at_ms": 50},
}
CPU_MS = 8.0


@pytest.fixture(scope="module")
def days():
    out = {}
    for mode in ("ready", "off"):
        P = battery_life.resolve(HOURS3, mode, CPU_MS)
        out[mode] = (P, battery_life.run_day(P))
    return out


def test_every_component_accounts_for_the_whole_day(days):
    for mode, (P, res) in days.items():
        D = res["duration_ms"]
        assert D == 3 * 3600 * 1000
        for comp in battery_life.COMPONENTS:
            assert sum(res["totals_ms"][comp].values()) == D, (mode, comp, res["totals_ms"][comp])


def test_the_timeline_agrees_with_the_accounting(days):
    # the bins come from the accounting's change hook, the totals from its own sums (and from the
    # bytes that crossed every deep sleep): they must agree to the millisecond
    for mode, (P, res) in days.items():
        summed = {}
        for b in res["bins"]:
            for k, ms in b.items():
                summed[k] = summed.get(k, 0) + ms
        flat = dict(("%s.%s" % (c, s), ms) for c in res["totals_ms"] for s, ms in res["totals_ms"][c].items() if ms)
        assert summed == flat, mode


def test_the_mcu_deep_sleeps_and_each_sleep_ends_in_a_boot(days):
    for mode, (P, res) in days.items():
        n = res["counts"]
        assert n["deep_sleeps"] > 5 and n["boots"] == n["deep_sleeps"] - 1  # the day ends asleep
        assert res["totals_ms"]["mcu"]["deep"] > 0.5 * res["duration_ms"]
        # the walk: the detector ran in light sleep, woken by FIFO watermarks (0.5 s)
        assert n["wake_accel"] > 20 * 60 * 2 * 0.9
        # the LIS3DH at 25 Hz (FallMonitor.SLEEP_HZ) from each still sleep to the boot's first FIFO
        # read, at the detector's 50 Hz otherwise (the walk's FIFO light sleeps included)
        a, mcu = res["totals_ms"]["accel"], res["totals_ms"]["mcu"]
        assert set(a) == {"n25", "n50"} and a["n25"] + a["n50"] == res["duration_ms"]
        assert mcu["deep"] <= a["n25"] <= mcu["deep"] + mcu.get("light", 0) + n["boots"] * P["mcu"]["boot_ms"]
        assert a["n50"] >= 20 * 60 * 1000  # the walk
        assert res["totals_ms"]["mic"] == {"standby": res["duration_ms"]}  # no CHIPEN on this board


def test_first_sms_latency_per_policy(days):
    m = HOURS3["modem"]
    P, res = days["ready"]
    (lat,) = res["latency"]
    # the presses woke the modem by DTR before the trigger: only the send remains
    assert lat["first_sms_after_trigger_ms"] == m["sms_s"] * 1000
    # the gesture's last tap, with the waking one counted (5 taps since issue 20)
    assert lat["trigger_ms"] - lat["press_ms"] == battery_life.GESTURE_MS[-1] == 1800
    assert res["totals_ms"]["modem"]["sending"] == 5 * m["sms_s"] * 1000
    P, res = days["off"]
    (lat,) = res["latency"]
    expected = 100 + (m["boot_s"] + m["config_s"] + m["register_s"] + m["sms_s"]) * 1000
    assert lat["first_sms_after_trigger_ms"] == expected
    assert res["counts"]["modem_boots"] == 1
    assert res["totals_ms"]["modem"]["off"] > 0.95 * res["duration_ms"]
    assert res["totals_ms"]["gnss"].get("on", 0) <= 60000  # no standby refresh in "off" mode


def test_a_slow_boot_loses_the_gesture():
    sc = json.loads(json.dumps(HOURS3))
    sc["mcu"]["arm_ms"] = 500  # the second tap (at 450 ms) comes before the ISR is armed
    sc["duration_s"] = 2 * 3600
    sc["segments"] = [{"from": "00:00", "to": "02:00", "activity": "still"}]
    res = battery_life.run_day(battery_life.resolve(sc, "ready", CPU_MS))
    assert res["counts"].get("gesture_lost") == 1 and res["latency"] == [] and "sms" not in res["counts"]
    ev = [e for e in res["events"] if e["event"] == "wake_press"]
    assert ev and ev[0]["gesture_ok"] is False


def test_energy_arithmetic_against_the_table(days):
    table = battery_life.load_table()
    P, res = days["ready"]
    e = battery_life.energy(res["totals_ms"], res["duration_ms"], table)
    with open(battery_life.DEFAULT_TABLE) as f:
        doc = json.load(f)["profiles"]["datasheet"]
    mah = sum(ms / 3600000.0 * doc["states"]["%s.%s" % (c, s)]["ma"]
              for c, st in res["totals_ms"].items() for s, ms in st.items())
    mah += doc["floor"]["ldo"]["ma"] * 3
    assert abs(e["mah"][0] - mah) < 1e-9
    assert abs(e["avg_ma"][0] - mah / 3) < 1e-9
    assert e["avg_ma"][1] <= e["avg_ma"][0] <= e["avg_ma"][2]
    assert abs(battery_life.days(e["avg_ma"][0], 1000) - 1000 / (e["avg_ma"][0] * 24)) < 1e-9
    # the plot's bins integrate to the same charge
    cur = battery_life.bin_currents(res["bins"], P["bin_s"] * 1000, table)
    assert abs(sum(cur) * P["bin_s"] / 3600.0 - e["mah"][0]) < 1e-6 * e["mah"][0] + 1e-9


def test_the_table_sources_every_figure():
    with open(battery_life.DEFAULT_TABLE) as f:
        doc = json.load(f)
    states = doc["profiles"]["datasheet"]["states"]
    for k in battery_life.firmware_states():
        e = states[k]  # every state the firmware can record has a figure
        assert e["source"] and e["range"][0] <= e["ma"] <= e["range"][1], k
    base = battery_life.load_table(profile="datasheet")
    lily = battery_life.load_table(profile="lilygo-measured")
    assert abs(lily["floor"][0] - base["floor"][0] - 0.125) < 1e-12
    assert base["states"]["modem.sleep"][0] == 2.0 and base["states"]["mic.standby"][0] == 0.8
    with pytest.raises(battery_life.EnergyError):
        battery_life.load_table(profile="nope")


def test_measured_cpu_per_fifo_wake():
    c = battery_life.measure_cpu_ms(HOURS3["mcu"], batches=50, pystone_loops=2000)
    assert c["i2c_ms"] == round((25 * 6 + 2) * 9 * 1000.0 / 400000, 3)
    assert 0 < c["detector_ms"] < 100 and c["fifo_cpu_ms"] > c["i2c_ms"]


def test_cli_report_and_png(tmp_path, capsys):
    sc = tmp_path / "day.json"
    sc.write_text(json.dumps(HOURS3))
    png = tmp_path / "e.png"
    args = energy_args("--scenario", str(sc), "--mode", "ready", "--cpu-ms", str(CPU_MS), "--png", str(png))
    assert battery_life.run(args) == 0
    out = capsys.readouterr().out
    assert "ready" in out and "days" in out and "3.0 s" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    i = data.index(b"IDAT")
    n = struct.unpack(">I", data[i - 4:i])[0]
    assert len(zlib.decompress(data[i + 4:i + 4 + n])) == h * (w * 3 + 1)


def energy_args(*argv):
    from alertbutton import cli
    return cli.build_parser().parse_args(["energy"] + list(argv))


def test_the_modem_sleeps_through_fifo_work_and_is_checked_every_check_s(days):
    P, res = days["ready"]
    t, n = res["totals_ms"], res["counts"]
    assert n["light_sleeps"] > 2000  # the detector's FIFO wakes (walk, movements)
    # the modem is awake (23 mA) only for AT exchanges: GNSS sessions, the alert, 5 s after a use
    assert t["modem"]["idle"] <= t["gnss"].get("on", 0) + 3 * 5 * 1000 + 60 * 1000, t["modem"]
    assert n["reg_checks"] == 2  # 3 h, one AT+CEREG? every hour; the alert's use counted as none
    assert "reg_checks" not in days["off"][1]["counts"]  # "off" mode: nothing to check


def test_gnss_on_lets_the_mcu_light_sleep_between_polls(days):
    P, res = days["ready"]
    why = res["awake_ms_by_reason"]
    assert "gnss" not in why and "timer" not in why, why  # light sleep between the 2 s polls
    on = res["totals_ms"]["gnss"]["on"]
    assert on >= HOURS3["gnss"]["fix_s"] * 1000  # the walk's refresh ran to its fix
    # awake per poll: one AT exchange (at_ms) every 2 s, plus the other exchanges
    assert why["at_command"] <= (on // 2000 + 10) * HOURS3["mcu"]["at_ms"], why


def _gnss_day(segments, moved_by):
    sc = dict(HOURS3, duration_s=6 * 3600, segments=segments, alerts=[])
    sc["gnss"] = {"fix_s": 30, "moved_by": moved_by}
    res = battery_life.run_day(battery_life.resolve(sc, "ready", CPU_MS))
    return res["counts"].get("gnss_sessions", 0), res["totals_ms"]["gnss"].get("on", 0), res["counts"]


def test_standby_gnss_follows_motion_and_age_not_a_fixed_period():
    # issue 22: the day starts with a fix an hour old (older than the 30 min age). Still for 6 h: the
    # motion watch is armed and never fires, no refresh (a fixed 30 min period would make 12 attempts).
    n, on, counts = _gnss_day([{"from": "00:00", "to": "06:00", "activity": "still"}], ["walking"])
    assert n == 0 and on == 0 and counts.get("moved", 0) == 0, counts
    # a 20 min walk after 2 h: one refresh, outdoors, its fix after fix_s; nothing after it (still)
    walk = [{"from": "00:00", "to": "02:00", "activity": "still"},
            {"from": "02:00", "to": "02:20", "activity": "walking"},
            {"from": "02:20", "to": "06:00", "activity": "still"}]
    n, on, counts = _gnss_day(walk, ["walking"])
    assert n == 1 and 30000 <= on <= 31000 and counts["moved"] == 1, counts
    # moving about indoors all the time, if that trips the watch: no fix indoors, the age doubles per
    # timeout (the next after 1 h, 2 h, then 4 h): attempts at 0, 1 h and 3 h of 120 s each, not 12
    home = [{"from": "00:00", "to": "06:00", "activity": "moves", "every_s": 120, "burst_s": 10}]
    n, on, counts = _gnss_day(home, ["walking", "moves"])
    assert n == 3 and 3 * 120000 <= on <= 3 * 121000, counts
    n, on, counts = _gnss_day(home, ["walking"])
    assert n == 0, counts

def test_impact_wake_deep_sleeps_through_the_walk_and_wakes_at_the_measured_rate():
    # power.fall_wake "impact": no FIFO wakes while moving; INT1 fires at the replay's rates per hour
    sc = json.loads(json.dumps(HOURS3))
    sc["power"]["fall_wake"] = "impact"
    sc["impact_wake"] = {"wakes_per_h": {"walking": 30, "moves": 60}, "awake_ms": {"walking": 3000, "moves": 3000}}
    P = battery_life.resolve(sc, "ready", CPU_MS)
    res = battery_life.run_day(P)
    n = res["counts"]
    # 20 min walking at 30/h, 20 bursts of 10 s (moves: 40 min, every 120 s) at 60/h: 10 + 3.3
    assert 12 <= n["impact_wakes"] <= 14, n
    # nothing else from INT1 but the watermarks of each 3 s check (light sleep, PowerTask._check)
    assert n.get("wake_accel", 0) - n["impact_wakes"] <= n["impact_wakes"] * 3000 // 500 + 1
    assert n["boots"] == n["deep_sleeps"] - 1
    assert res["totals_ms"]["accel"]["n25"] > 0.95 * res["duration_ms"] - n["boots"] * 5000
    # 3 s of checking after each wake, light-slept between watermarks (one of them overlaps the test
    # alert, which keeps it awake anyway): before the checks light-slept, 3 s active each
    assert res["totals_ms"]["mcu"].get("light", 0) >= (n["impact_wakes"] - 1) * 2900 * 0.9
    assert res["awake_ms_by_reason"].get("fall_check", 0) == 0
    fifo = battery_life.run_day(battery_life.resolve(HOURS3, "ready", CPU_MS))
    assert res["totals_ms"]["mcu"].get("light", 0) < fifo["totals_ms"]["mcu"]["light"] / 10


def test_counted_checks_light_sleep_and_cost_their_cpu_per_fifo_wake():
    # issue 22, the MCU term: a check light-sleeps between FIFO wakes (firmware/power/task.py
    # PowerTask._check); each FIFO wake under check (half of the walk here) costs check_extra_ms more,
    # and a decision at most one timer wake per decide_ms of checking (before: the MCU active for half
    # of the 20 min walk, 600 s)
    sc = json.loads(json.dumps(HOURS3))
    sc["detector_checks"] = {"check_frac": {"walking": 0.5, "moves": 0.0}}
    sc["count_checks"] = True
    res = battery_life.run_day(battery_life.resolve(sc, "ready", CPU_MS, 10.0))
    base = battery_life.run_day(battery_life.resolve(HOURS3, "ready", CPU_MS))
    extra = res["totals_ms"]["mcu"]["active"] - base["totals_ms"]["mcu"]["active"]
    walk_wakes = 20 * 60 * 1000 // 500  # the FIFO watermarks of the walk (the test alert takes a few)
    per_wake = 0.5 * 10.0 + 0.5 * 500 / 2500.0 * HOURS3["mcu"]["wake_overhead_ms"]
    assert 0.85 * walk_wakes * per_wake <= extra <= 1.01 * walk_wakes * per_wake, extra
    assert abs(res["counts"]["check_timer_wakes"] - walk_wakes * 0.1) <= 0.15 * walk_wakes * 0.1, res["counts"]
    light = base["totals_ms"]["mcu"]["light"] - res["totals_ms"]["mcu"]["light"]
    assert abs(light - extra) <= 0.02 * extra, (light, extra)  # the time comes out of light sleep
    sc.pop("count_checks")  # the block alone changes nothing: the flag decides
    same = battery_life.run_day(battery_life.resolve(sc, "ready", CPU_MS, 10.0))
    assert same["totals_ms"]["mcu"] == base["totals_ms"]["mcu"]


def test_the_armed_ring_is_the_awake_mcu_and_the_mic_from_the_table():
    # issue 21 item 5: the pre-alert ring armed by the gesture keeps the MCU active and the INMP441 on
    table = battery_life.load_table()
    st = table["states"]
    out = {"battery_mah": 1000.0, "modes": {"ready": {"avg_ma": [2.9, 2.7, 3.5]}, "baseline": {"avg_ma": [67.3] * 3}}}
    a = battery_life.armed_ring(out, table, (0.5, 1.0))
    ma = st["mcu.active"][0] + st["mic.on"][0]
    assert a["ma"][0] == ma and abs(a["extra_ma"][0] - (ma - st["mcu.deep"][0] - st["mic.off"][0])) < 1e-9
    assert abs(a["mah_per_arming"][0] - a["extra_ma"][0] / 2) < 1e-9  # 30 min
    d = a["modes"]["ready"]["0.5"][0]
    assert abs(d - 1000.0 / ((2.9 + a["extra_ma"][0] * 0.5 / 24) * 24)) < 1e-9
    assert a["modes"]["ready"]["1"][0] < d and "baseline" not in a["modes"]  # the ring runs there anyway
    lines = battery_life.report_lines(dict(out, fifo_cpu_ms=6.3, cpu=None, modes={}, armed_ring=a))
    assert any(ln.startswith("pre-alert ring armed by the gesture (mcu.active + mic.on)") for ln in lines)
