"""`alertbutton energy --scenario DAY.json`: battery life from the firmware's own accounting.

1. A simulated day runs ACCELERATED inside the MicroPython VM (tools/alertbutton/energy/day_vm.py): the
   firmware's decision objects (PowerPolicy, ModemPolicy, GnssPower) get injected time, and the
   firmware's Accounting records the time each component spends in each state. It crosses every
   deep sleep only as the bytes RTC memory would hold. A day takes seconds.
2. Here, on the host, that accounting (read back from the VM) is multiplied by the current table of
   a board profile (boards/currents_a7670e.json: every figure with its source from
   /work/shared/hardware/currents.md, or marked as an assumption), giving the average current and the
   projected days on a battery, low/high bounds from the table's ranges, and a PNG of the current
   over the day (the per-bin average, log scale).

Modes: ready (UART sleep, first SMS in seconds), off (modem off, booted on alert), ready-psm (ready +
PSM granted: what-if, the A7670's PSM current is not sourced), baseline (no low power: the MCU and
the modem always awake, the firmware before issue 8).
"""
import json
import os
import sys
import tempfile

from alertbutton import vm
from alertbutton.energy.vm_measure import PYSTONE_DIR, vm_floats

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TABLE = os.path.join(vm.REPO, "boards", "currents_a7670e.json")
MODES = ("ready", "off", "ready-psm", "baseline")
ESP32_MHZ = 160  # MicroPython's default CPU clock on the ESP32 (the active current's row)
PYSTONE_MHZ = 240  # falls.evaluate.ESP32_PYSTONES is for 240 MHz
GESTURE_MS = (0, 450, 900, 1350, 1800)  # the simulator's "alert" gesture (sim.gesture_edges): 5 taps
COMPONENTS = ("mcu", "modem", "gnss", "accel", "mic")


class EnergyError(ValueError):
    pass


# ---- scenario ---------------------------------------------------------------------------------------

def _clock(v):
    if isinstance(v, (int, float)):
        return float(v)
    h, m = str(v).split(":")
    return int(h) * 3600 + int(m) * 60


def load_scenario(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise EnergyError("cannot read scenario %s: %s" % (path, e))


def resolve(sc, mode, cpu_ms, check_extra_ms=0.0):
    """The parameters day_vm.py needs, for one mode."""
    if mode not in MODES:
        raise EnergyError("mode must be one of %s" % ", ".join(MODES))
    segs = []
    for s in sc.get("segments", []):
        kind = s.get("activity")
        if kind not in ("still", "walking", "moves"):
            raise EnergyError("segment activity must be still, walking or moves: %r" % (s,))
        extra = {"every_s": s.get("every_s", 300), "burst_s": s.get("burst_s", 5)} if kind == "moves" else None
        segs.append([_clock(s["from"]), _clock(s["to"]), kind, extra])
    m = dict(sc["modem"])
    power = dict(sc.get("power", {}))
    if mode == "ready-psm":
        m["psm"] = {"tau_s": 3600, "active_s": 10}
        m["psm_granted_s"] = 10
    P = {
        "duration_s": float(sc.get("duration_s", 86400)),
        "mode": {"ready-psm": "ready", "baseline": "on"}.get(mode, mode),
        "segments": segs,
        "alerts": [{"t_s": _clock(a["t"])} for a in sc.get("alerts", [])],
        "gesture_ms": list(GESTURE_MS),
        "gesture_window_ms": 2800 + 500,  # firmware/power/task.py gesture_window_ms of the default
        "hardware": dict(sc.get("hardware", {"mic_chipen": False, "accel_state": "n50"})),
        "power": power,
        "gnss_power": sc.get("gnss_power"),
        "impact_wake": sc.get("impact_wake"),
        "detector_checks": sc.get("detector_checks") if sc.get("count_checks") else None,
        "modem": m,
        "gnss": dict(sc.get("gnss", {"fix_s": 30})),
        "mcu": dict(sc["mcu"]),
        "bin_s": float(sc.get("bin_s", 60)),
        "baseline": mode == "baseline",
    }
    P["mcu"]["fifo_ms"] = int(1000 * P["mcu"].get("fifo_samples", 25) / P["mcu"].get("rate_hz", 50))
    P["mcu"]["fifo_cpu_ms"] = cpu_ms
    P["mcu"]["check_extra_ms"] = check_extra_ms  # --count-checks: a FIFO wake under check costs this more
    return P


# ---- CPU time of one FIFO batch ----------------------------------------------------------------------

CPU_SCRIPT = r"""
import sys, time
from drivers.lis3dh import LIS3DH
from firmware.fall.monitor import FallMonitor
n, batch, loops = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


class Bus:  # an I2C bus that costs nothing: the driver's conversion and the monitor are what is timed
    # (the bus time is counted apart from its bits); the FIFO data is what the buffer already holds
    def readfrom_mem_into(self, addr, reg, buf):
        r = reg & 0x7F
        if r == 0x0F:
            buf[0] = 0x33  # WHO_AM_I
        elif r == 0x2F:
            buf[0] = batch  # FIFO_SRC: batch samples waiting

    def writeto_mem(self, addr, reg, buf):
        pass


class Alert:
    state = "idle"

    class followups:
        @staticmethod
        def on_motion(moving):
            pass


acc = LIS3DH(Bus(), range_g=8, rate_hz=50)
s = 12345
raw = acc._buf
for i in range(len(raw)):  # a walking-like signal around 1 g on y (no falls): pseudo-random bytes
    s = (s * 1103515245 + 12345) & 0x7FFFFFFF
    raw[i] = (s >> 8) & 0xFF if i % 2 == 0 else (0x0F if i % 6 == 3 else (s >> 16) & 0x03)
fm = FallMonitor(acc, Alert(), lambda *a, **k: None)
t0 = time.ticks_us()
for b in range(n):
    fm.batch()  # the FIFO wake's work: the driver's read and conversion, detector, verdict, posture
busy = time.ticks_diff(time.ticks_us(), t0)
import pystone
print("CPU", busy, n * batch, pystone.main(loops))
"""


def esp32_scale(vm_pystones):
    """VM time x this = ESP32 time at MicroPython's 160 MHz (pystones measured in the same VM run)."""
    from alertbutton.falls.evaluate import ESP32_PYSTONES
    return vm_pystones / float(ESP32_PYSTONES) * PYSTONE_MHZ / float(ESP32_MHZ)


def measure_cpu_ms(mcu, batches=400, pystone_loops=5000):
    """ms of ESP32 CPU per FIFO wake: FallMonitor.batch() over one batch with the real LIS3DH driver
    on a bus that costs nothing (the conversion, the detector, the motion verdict, the still posture;
    measured in the VM, scaled by pystones to an ESP32 at MicroPython's 160 MHz) + the I2C burst
    read's bus time + the wake overhead."""
    from alertbutton.falls.evaluate import ESP32_PYSTONES
    batch = int(mcu.get("fifo_samples", 25))
    busy_us, samples, pystones = vm_floats(CPU_SCRIPT, "CPU", (batches, batch, pystone_loops), (PYSTONE_DIR,),
                                           "CPU measurement")
    scale = esp32_scale(pystones)
    detector_ms = busy_us / float(samples) * batch * scale / 1000.0
    i2c_ms = (batch * 6 + 2) * 9 * 1000.0 / float(mcu.get("i2c_hz", 400000))  # bytes x 9 bits
    total = detector_ms + i2c_ms + float(mcu.get("wake_overhead_ms", 1.0))
    return {"fifo_cpu_ms": round(total, 3), "detector_ms": round(detector_ms, 3), "i2c_ms": round(i2c_ms, 3),
            "vm_pystones": pystones, "esp32_pystones_240mhz": ESP32_PYSTONES, "batch": batch}


# ---- the day in the VM ------------------------------------------------------------------------------

def run_day(P, timeout=600):
    """The VM's answer: {"totals_ms", "counts", "latency", "duration_ms", "bins", "events"}."""
    with tempfile.TemporaryDirectory(prefix="energy-") as tmp:
        path = os.path.join(tmp, "day.json")
        with open(path, "w") as f:
            json.dump(P, f)
        proc = vm.run(script=os.path.join(HERE, "day_vm.py"), args=(path,), timeout=timeout, cwd=tmp,
                      heapsize="16M")
    if proc.returncode != 0:
        raise RuntimeError("energy VM failed (%d): %s" % (proc.returncode, (proc.stderr or proc.stdout)[-3000:]))
    res, bins, events = None, [], []
    for line in proc.stdout.splitlines():
        if line.startswith("BIN "):
            _, i, js = line.split(" ", 2)
            bins.append(json.loads(js))
        elif line.startswith("EV "):
            events.append(json.loads(line[3:]))
        elif line.startswith("RESULT "):
            res = json.loads(line[7:])
    if res is None:
        raise RuntimeError("energy VM gave no result:\n" + proc.stdout[-2000:])
    res["bins"] = bins
    res["events"] = events
    return res


# ---- currents -------------------------------------------------------------------------------------------

def firmware_states():
    """Every (component, state) the firmware's accounting can record (firmware/power/policy.py)."""
    from alertbutton import fwimport  # noqa: F401
    from firmware.power.policy import STATES
    return ["%s.%s" % (c, s) for c in STATES for s in STATES[c]]


def load_table(path=DEFAULT_TABLE, profile="datasheet"):
    """{"states": {"comp.state": (ma, lo, hi)}, "floor": (ma, lo, hi), "self_discharge": (lo, hi),
    "sources": {...}} for a profile (a profile may extend a base profile's floor)."""
    with open(path) as f:
        doc = json.load(f)
    profs = doc["profiles"]
    if profile not in profs:
        raise EnergyError("unknown profile %r (known: %s)" % (profile, ", ".join(profs)))
    chain = []
    p = profile
    while p is not None:
        chain.insert(0, profs[p])
        p = profs[p].get("base")
    states, floor, sources, sd = {}, {}, {}, None
    for pr in chain:
        for k, e in pr.get("states", {}).items():
            states[k] = e
        for k, e in pr.get("floor", {}).items():
            floor[k] = e
        if "self_discharge" in pr:
            sd = pr["self_discharge"]
    out = {"states": {}, "floor": [0.0, 0.0, 0.0], "sources": {}, "self_discharge": None}
    for k, e in states.items():
        if "source" not in e or "ma" not in e:
            raise EnergyError("%s: every figure needs ma and a source" % k)
        lo, hi = e.get("range", [e["ma"], e["ma"]])
        out["states"][k] = (float(e["ma"]), float(lo), float(hi))
        out["sources"][k] = e["source"] + ("; ASSUMPTION: " + e["assumption"] if e.get("assumption") else "")
    for k, e in floor.items():
        lo, hi = e.get("range", [e["ma"], e["ma"]])
        for i, v in enumerate((e["ma"], lo, hi)):
            out["floor"][i] += float(v)
        out["sources"]["floor." + k] = e["source"]
    if sd:
        out["self_discharge"] = (float(sd["ma"][0]), float(sd["ma"][1]))
    missing = [k for k in firmware_states() if k not in out["states"]]
    if missing:
        raise EnergyError("%s profile %s: no current for %s" % (path, profile, ", ".join(missing)))
    return out


def energy(totals_ms, duration_ms, table):
    """mAh per component and the average current (typ, low, high) over duration_ms."""
    per = {}
    tot = [0.0, 0.0, 0.0]
    for comp in COMPONENTS:
        c = [0.0, 0.0, 0.0]
        for st, ms in totals_ms.get(comp, {}).items():
            key = comp + "." + st
            if key not in table["states"]:
                raise EnergyError("no current for %s in the table" % key)
            for i, ma in enumerate(table["states"][key]):
                c[i] += ms * ma / 3.6e6
        per[comp] = c
        for i in range(3):
            tot[i] += c[i]
    hours = duration_ms / 3.6e6
    fl = [f * hours for f in table["floor"]]
    per["floor"] = fl
    for i in range(3):
        tot[i] += fl[i]
    avg = [t / hours for t in tot]
    return {"mah": tot, "per_component_mah": per, "avg_ma": avg, "hours": hours}


def days(avg_ma, battery_mah):
    return battery_mah / (avg_ma * 24.0) if avg_ma > 0 else float("inf")


def bin_currents(bins, bin_ms, table, idx=0):
    out = []
    for b in bins:
        ma = sum(ms * table["states"][k][idx] for k, ms in b.items()) / float(bin_ms)
        covered = sum(ms for k, ms in b.items() if k.startswith("mcu.")) or bin_ms
        out.append(ma * bin_ms / covered + table["floor"][idx])
    return out


# ---- the plot ------------------------------------------------------------------------------------------

COLOURS = {"ready": (20, 60, 200), "off": (0, 140, 60), "ready-psm": (230, 120, 0), "baseline": (210, 0, 0)}


def plot(series, bin_s, path, title=""):
    """PNG of the per-bin average current (mA, log scale 0.01..1000) over the day, one line per mode.
    Drawn with the tiny raster of alertbutton.falls.plot (no matplotlib)."""
    import math
    from alertbutton.falls.plot import Canvas, GREY, BLACK
    n = max(len(v) for v in series.values())
    width, height = max(800, n + 110), 460
    left, right, top, bottom = 80, width - 20, 40, height - 50
    cv = Canvas(width, height)
    lo, hi = -2.0, 3.0  # log10 mA

    def y_of(ma):
        v = math.log10(max(ma, 10 ** lo))
        return int(bottom - (v - lo) / (hi - lo) * (bottom - top))

    for d in range(int(lo), int(hi) + 1):
        y = y_of(10 ** d)
        cv.dashed_hline(left, right, y, GREY)
        label = ("%g" % (10 ** d)) + " MA"
        cv.text(left - 8 - 8 * len(label), y - 5, label, BLACK, 2)
    cv.line(left, top, left, bottom, BLACK)
    cv.line(left, bottom, right, bottom, BLACK)
    hours = n * bin_s / 3600.0
    step = 3 if hours > 6 else 1
    for h in range(0, int(hours) + 1, step):
        x = left + int((right - left) * h / max(hours, 1e-9))
        cv.line(x, bottom, x, bottom + 5, BLACK)
        cv.text(min(x - 18, right - 40), bottom + 10, "%02d:00" % h, BLACK, 2)
    cv.text(left, 12, title.upper()[:120], BLACK, 2)
    lx = right - 260
    items = list(series.items())
    for k, (mode, vals) in enumerate(items):
        col = COLOURS.get(mode, BLACK)
        cv.rect(lx, top + 8 + k * 16, lx + 14, top + 18 + k * 16, col)
        cv.text(lx + 20, top + 8 + k * 16, mode.upper(), BLACK, 2)
    for mode, vals in reversed(items):  # the first mode drawn last, on top
        col = COLOURS.get(mode, BLACK)
        prev = None
        for i, ma in enumerate(vals):
            x = left + int((right - left) * i / float(n))
            y = y_of(ma)
            if prev is not None:
                cv.line(prev[0], prev[1], x, y, col)
            prev = (x, y)
    with open(path, "wb") as f:
        f.write(cv.png())


# ---- CLI -----------------------------------------------------------------------------------------------

def add_arguments(p):
    p.add_argument("--scenario", default=os.path.join(vm.REPO, "scenarios", "day.json"),
                   help="day scenario JSON (default scenarios/day.json)")
    p.add_argument("--mode", action="append", choices=MODES,
                   help="modem policy to simulate (repeatable; default: ready, off, ready-psm, baseline)")
    p.add_argument("--profile", default="datasheet", help="board profile in the current table")
    p.add_argument("--table", default=DEFAULT_TABLE, help="current table JSON (default boards/currents_a7670e.json)")
    p.add_argument("--battery-mah", type=float, help="battery capacity (default: the scenario's, else 1000)")
    p.add_argument("--png", default="out/energy.png", help="plot of the current over the day ('' for none)")
    p.add_argument("--cpu-ms", type=float, help="ESP32 ms per FIFO wake (default: measured in the VM)")
    p.add_argument("--mic-standby", action="store_true",
                   help="a board without the microphone's CHIPEN on a GPIO (idle mic in standby, 0.8 mA)")
    p.add_argument("--fall-light", action="store_true",
                   help="fall detection without deep sleep (power.fall_deep_sleep false: light sleep while still)")
    p.add_argument("--impact", action="store_true",
                   help="the LIS3DH's impact interrupt alone wakes the MCU (power.fall_wake \"impact\"; "
                        "wake rates from the scenario's impact_wake block)")
    p.add_argument("--count-checks", action="store_true",
                   help="FIFO mode: the detector's checks of candidates, for the measured fraction of each "
                        "activity (the scenario's detector_checks block): light sleep between FIFO wakes "
                        "that each cost --check-cpu-ms more, and a timer wake per decision")
    p.add_argument("--check-cpu-ms", type=float,
                   help="with --count-checks: ESP32 ms a FIFO wake costs more under check (default: "
                        "measured in the VM, alertbutton.energy.check_cpu)")
    p.add_argument("--armed-h", type=float, action="append",
                   help="hours a day the pre-alert ring is armed by the gesture (default: 0.5 and 1)")
    p.add_argument("--json", dest="as_json", action="store_true", help="print one JSON object")


def evaluate(sc, modes, table, battery, cpu_ms=None, echo=None, check_cpu_ms=None):
    """Everything the report prints, as a dict."""
    cpu = None
    if cpu_ms is None:
        cpu = measure_cpu_ms(sc["mcu"])
        cpu_ms = cpu["fifo_cpu_ms"]
    out = {"battery_mah": battery, "cpu": cpu, "fifo_cpu_ms": cpu_ms, "modes": {}}
    check = 0.0
    if sc.get("count_checks") or (sc.get("power") or {}).get("fall_wake") == "impact":
        if check_cpu_ms is None:
            from alertbutton.energy import check_cpu
            out["check_cpu"] = check_cpu.measure(sc["mcu"], esp32_scale)
            check_cpu_ms = out["check_cpu"]["check_extra_ms"]
        check = out["check_extra_ms"] = float(check_cpu_ms)
    for mode in modes:
        P = resolve(sc, mode, cpu_ms, check)
        res = run_day(P)
        e = energy(res["totals_ms"], res["duration_ms"], table)
        r = {"avg_ma": e["avg_ma"], "days": [days(a, battery) for a in e["avg_ma"]],
             "mah_per_day": [m * 24.0 / e["hours"] for m in e["mah"]],
             "per_component_mah_per_day": dict((k, v[0] * 24.0 / e["hours"]) for k, v in e["per_component_mah"].items()),
             "totals_ms": res["totals_ms"], "counts": res["counts"], "latency": res["latency"], "awake_ms_by_reason": res.get("awake_ms_by_reason"),
             "events": [ev for ev in res["events"] if ev.get("event") in ("wake_press", "trigger")],
             "bins": bin_currents(res["bins"], P["bin_s"] * 1000, table)}
        if table["self_discharge"]:
            r["days_with_self_discharge"] = [days(e["avg_ma"][0] + sdv, battery) for sdv in table["self_discharge"]]
        out["modes"][mode] = r
        if echo:
            echo(mode, r)
    return out


ARMED_STATES = ("mcu.active", "mic.on")  # the ring armed: the MCU awake (I2S, encoder), the INMP441 on
RESTING_STATES = ("mcu.deep", "mic.off")  # what those two draw instead, at best, when it is not


def armed_ring(out, table, hours=(0.5, 1.0), arm_min=30):
    """The pre-alert ring armed by the gesture (issue 21 item 5, firmware/evidence/arming.py): its
    current from the table, the mAh of one arming, and each mode's battery life with `hours` armed a
    day. Armed hours replace resting ones: the MCU's and the mic's difference is added to the day's
    average (the modem, GNSS and accelerometer go on as in the day)."""
    armed = [sum(table["states"][k][i] for k in ARMED_STATES) for i in range(3)]
    rest = [sum(table["states"][k][i] for k in RESTING_STATES) for i in range(3)]
    extra = [a - r for a, r in zip(armed, rest)]
    res = {"states": list(ARMED_STATES), "ma": armed, "extra_ma": extra, "arm_min": arm_min,
           "mah_per_arming": [x * arm_min / 60.0 for x in extra], "modes": {}}
    for mode, r in out["modes"].items():
        if mode == "baseline":
            continue  # no low power: the ring runs all day already, arming adds nothing
        res["modes"][mode] = dict(("%g" % h, [days(r["avg_ma"][i] + extra[i] * h / 24.0, out["battery_mah"])
                                             for i in range(3)]) for h in hours)
    out["armed_ring"] = res
    return res


def _fmt_ms(ms):
    return "%.1f s" % (ms / 1000.0)


def report_lines(out):
    b = out["battery_mah"]
    lines = ["battery %g mAh; ESP32 time per FIFO wake %.2f ms%s" % (
        b, out["fifo_cpu_ms"], " (measured: driver + fall monitor %.2f ms + I2C bus %.2f ms + wake overhead)" % (
            out["cpu"]["detector_ms"], out["cpu"]["i2c_ms"]) if out["cpu"] else "")]
    if "check_extra_ms" in out:
        c = out.get("check_cpu")
        lines.append("detector checks counted: light sleep between FIFO wakes, %.2f ms more per FIFO wake under "
                     "check%s, a timer wake per decision" % (out["check_extra_ms"], (
                         " (measured: %.2f ms per checking batch against %.2f idle, %d decisions)" % (
                             c["check_batch_ms"], c["idle_batch_ms"], c["decisions"])) if c else ""))
    lines.append("%-10s %10s %16s %9s %16s %s" % ("mode", "avg mA", "(low..high)", "days", "(low..high)",
                                                   "first SMS after the gesture's last press"))
    for mode, r in out["modes"].items():
        lat = r["latency"][0]["first_sms_after_trigger_ms"] if r["latency"] else None
        lines.append("%-10s %10.3f %16s %9.1f %16s %s" % (
            mode, r["avg_ma"][0], "(%.3f..%.3f)" % (r["avg_ma"][1], r["avg_ma"][2]), r["days"][0],
            "(%.1f..%.1f)" % (r["days"][2], r["days"][1]), _fmt_ms(lat) if lat is not None else "-"))
    lines.append("")
    lines.append("mAh per day by component (typical figures):")
    comps = list(COMPONENTS) + ["floor"]
    lines.append("%-10s " % "mode" + " ".join("%8s" % c for c in comps))
    for mode, r in out["modes"].items():
        lines.append("%-10s " % mode + " ".join("%8.2f" % r["per_component_mah_per_day"][c] for c in comps))
    a = out.get("armed_ring")
    if a:
        lines.append("")
        lines.append("pre-alert ring armed by the gesture (%s): %.1f mA (%.1f..%.1f), %.1f mA more than at rest; "
                     "one %d-min arming %.1f mAh (%.1f..%.1f)" % (
                         " + ".join(a["states"]), a["ma"][0], a["ma"][1], a["ma"][2], a["extra_ma"][0],
                         a["arm_min"], a["mah_per_arming"][0], a["mah_per_arming"][1], a["mah_per_arming"][2]))
        for mode, per in a["modes"].items():
            lines.append("%-10s " % mode + "; ".join("armed %s h/day: %.1f days (%.1f..%.1f)" % (
                h, d[0], d[2], d[1]) for h, d in per.items()))
    return lines


def run(args):
    try:
        sc = load_scenario(args.scenario)
        if args.mic_standby:
            sc.setdefault("hardware", {})["mic_chipen"] = False
        if args.fall_light:
            sc.setdefault("power", {})["fall_deep_sleep"] = False
        if args.count_checks:
            if not (sc.get("detector_checks") or {}).get("check_frac"):
                raise EnergyError("--count-checks needs the scenario's detector_checks.check_frac")
            sc["count_checks"] = True
        if args.impact:
            if not (sc.get("impact_wake") or {}).get("wakes_per_h"):
                raise EnergyError("--impact needs the scenario's impact_wake.wakes_per_h (measured by "
                                  "python -m alertbutton.energy.impact_wake)")
            sc.setdefault("power", {})["fall_wake"] = "impact"
        table = load_table(args.table, args.profile)
        battery = args.battery_mah or float(sc.get("battery_mah", 1000))
        modes = args.mode or list(MODES)
        out = evaluate(sc, modes, table, battery, args.cpu_ms, check_cpu_ms=args.check_cpu_ms)
        armed_ring(out, table, tuple(args.armed_h or (0.5, 1.0)))
    except EnergyError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    if args.png:
        os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
        plot(dict((m, r["bins"]) for m, r in out["modes"].items()), float(sc.get("bin_s", 60)), args.png,
             "average current per minute, %s, profile %s" % (os.path.basename(args.scenario), args.profile))
    if args.as_json:
        slim = json.loads(json.dumps(out))
        for r in slim["modes"].values():
            r.pop("bins", None)
        print(json.dumps(slim, indent=1))
    else:
        for ln in report_lines(out):
            print(ln)
        if args.png:
            print("plot: %s" % args.png)
    return 0
