"""`alertbutton faults`: the modem fault suite (issue 5).

Each scenario boots the firmware in the MicroPython VM on the simulated board with five contacts,
arms one or more modem faults (tools/alertbutton/sim/modem/faults.py FAULTS), makes the alert gesture, then
probe gestures while the fault is active, and checks what happened against the scenario's
expectations (data in SCENARIOS, described in docs/fault-suite.md):

  * SMS per contact: how many SMS to each number the (simulated) network accepted; by default
    exactly one each; a scenario may allow a duplicate (the SMS in flight when the modem rebooted)
    or expect none (no SIM, a permanently refused number);
  * the firmware's events: the ones it must log (sim_error, sms_permanent_failure, modem_power_cycle,
    sms_delivered per contact, dispatch_done {sent, failed}, ...) and the ones it must not;
  * the button: every gesture is recognised within 100 ms of its end, measured from the host time
    of the first edge of the gesture's last release (the default gesture's taps are counted at their
    release, issue 20) to the host time the firmware's {"event": "gesture"} line arrives, less the
    time the kernel kept the VM waiting for a CPU meanwhile (SimRun.cpu_wait_s): that is the loaded
    PC's latency, not the firmware's.

The table printed: scenario | outcome | SMS per contact | trigger -> last contact's SMS accepted |
trigger -> last contact's delivery report | worst gesture latency.
"""
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter

from alertbutton.sim.run import SimRun, gesture_edges

CONTACTS = [{"name": "Contact %d" % (i + 1), "number": "+3361234560%d" % (i + 1)} for i in range(5)]
NUMBERS = [c["number"] for c in CONTACTS]
GESTURE_MAX_MS = 100
SETTLE_S = 0.030  # firmware/wearer/gestures.py SETTLE_MS: edges closer than this belong to one burst

# Every scenario is a short real-time run: the modem answers fast, so a scenario's time is spent in
# the fault and the firmware's reaction to it (timeouts, backoff, power cycle), not in normal latency.
BASE_MODEM = {"cmgs_latency_s": 0.3, "cmd_latency_s": 0.005, "boot_s": 0.3, "banner_gap_s": 0.05,
              "delivery_s": 1.0, "reregister_s": 1.0}
ALERT_AT = 2.5  # s after start: the firmware has booted and configured the modem (about 1 s)

EXPECT_DEFAULTS = {
    "sms": {},            # contact index -> [min, max] SMS accepted; others exactly 1
    "attempts_max": {},   # contact index -> most AT+CMGS submissions allowed
    "delivered": "sent",  # contacts whose delivery report the firmware must log (sms_delivered with
                          # status 0): "sent" = every contact expected to get an SMS, or a list
    "dispatch_done": {"sent": 5, "failed": 0},  # one dispatch_done with these fields, None: not required
    "events": [],         # each spec must match at least one event ("key~": regex on the value)
    "forbid": [],         # no event may match any of these
    "power_cycles": 0,    # at least this many modem power cycles through PWRKEY
}
# Signs of a firmware bug in any scenario.
ALWAYS_FORBID = [{"event": "alert_error"}, {"event": "urc_handler_error"}, {"event": "listener_error"},
                 {"event": "unparsed"}]


def scenario(name, models, faults=(), expect=None, modem=None, config=None, probes=(1.2, 3.0), duration_s=15.0,
             linger_s=1.0):
    """One suite entry. faults: modem simulator fault specs {"name", "at_s"?, params}. probes: seconds after
    the alert gesture starts at which a probe gesture (the alert gesture again) starts."""
    exp = dict(EXPECT_DEFAULTS)
    exp.update(expect or {})
    return {"name": name, "models": models, "faults": [dict(f) for f in faults], "expect": exp,
            "modem": dict(BASE_MODEM, **(modem or {})), "config": dict(config or {}),
            "probes": list(probes), "duration_s": float(duration_s), "linger_s": float(linger_s)}


NO_SMS = {i: [0, 0] for i in range(5)}

SCENARIOS = [
    scenario("baseline", "no fault: the reference run"),
    scenario("no_sim", "no SIM card (or a bad SIM holder contact)", [{"name": "no_sim"}],
             {"sms": NO_SMS, "delivered": [], "dispatch_done": None,
              "events": [{"event": "sim_error", "err~": "(?i)not inserted|removed"}]}, duration_s=14),
    scenario("sim_pin", "SIM locked by a PIN the device does not know", [{"name": "sim_pin"}],
             {"sms": NO_SMS, "delivered": [], "dispatch_done": None,
              "events": [{"event": "sim_error", "err~": "PIN"}]}, duration_s=14),
    scenario("not_registered_for", "no network for a while (120 s scaled to 6.5 s), then registered",
             [{"name": "not_registered_for", "duration_s": ALERT_AT + 4.0}], duration_s=30),
    scenario("cms_38", "+CMS ERROR: 38 network out of order, twice, then success",
             [{"name": "cms_38", "times": 2}],
             {"events": [{"event": "sms_failed", "code": 38, "transient": True}],
              "attempts_max": {i: 3 for i in range(5)}}, duration_s=25),
    scenario("cms_42", "+CMS ERROR: 42 congestion, twice, then success", [{"name": "cms_42", "times": 2}],
             {"events": [{"event": "sms_failed", "code": 42, "transient": True}],
              "attempts_max": {i: 3 for i in range(5)}}, duration_s=25),
    scenario("cms_500", "+CMS ERROR: 500 unknown error, three times, then success",
             [{"name": "cms_500", "times": 3}],
             {"events": [{"event": "sms_failed", "code": 500, "transient": True}],
              "attempts_max": {i: 4 for i in range(5)}}, duration_s=25),
    scenario("cms_permanent", "one contact's number is unassigned (+CMS ERROR: 1), always",
             [{"name": "cms_permanent", "to": NUMBERS[2], "code": 1}],
             {"sms": {2: [0, 0]}, "attempts_max": {2: 1}, "dispatch_done": {"sent": 4, "failed": 1},
              "events": [{"event": "sms_permanent_failure", "contact": 2, "code": 1}],
              "forbid": [{"event": "sms_sent", "contact": 2}]}),
    scenario("no_prompt", 'the "> " prompt never reaches the firmware once', [{"name": "no_prompt"}],
             duration_s=25),
    scenario("no_cmgs", "the PDU is taken but +CMGS never comes, once (the SMS was not sent)",
             [{"name": "no_cmgs"}], config={"cmgs_timeout_s": 10}, duration_s=35),
    scenario("cmgs_lost_after_send", "+CMGS never comes, but the network did send the SMS",
             [{"name": "no_cmgs", "sent": True}], {"sms": {0: [1, 2]}}, config={"cmgs_timeout_s": 10},
             duration_s=35),
    scenario("garbage", "junk bytes, partial lines and stray line ends between and inside responses",
             [{"name": "garbage", "rate": 0.6, "idle_hz": 4.0}]),
    scenario("baud_noise", "bursts of high-bit bytes (line noise, a wrong-baud glitch)",
             [{"name": "baud_noise", "rate": 0.5, "idle_hz": 5.0}]),
    scenario("partial_lines", "every byte written on its own, 1-3 ms apart", [{"name": "partial_lines"}]),
    scenario("urc_storm_during_cmgs", "URCs at 50 Hz while each SMS is sent, even around the prompt",
             [{"name": "urc_storm_during_cmgs"}]),
    scenario("ring_during_cmgs", "an incoming call rings (RING, +CLIP) while SMS are sent",
             [{"name": "ring_during_cmgs"}]),
    scenario("cmti_flood", "40 incoming-SMS notifications (+CMTI) during the dispatch",
             [{"name": "cmti_flood"}]),
    scenario("reboot_mid_sms", "the modem resets with the 2nd SMS in flight: banners, echo on, settings lost",
             [{"name": "reboot_mid_sms", "skip": 1}],
             {"sms": {1: [1, 2]}, "events": [{"event": "modem_rebooted"}]}, duration_s=25),
    scenario("reboot_before_alert", "the modem resets just before the alert (brownout of the modem)",
             [{"name": "spontaneous_reboot", "at_s": ALERT_AT - 0.5}],
             {"events": [{"event": "modem_rebooted"}]}, duration_s=25),
    scenario("echo_reenabled", "echo comes back on after the first SMS", [{"name": "echo_reenabled"}]),
    scenario("silent_until_power_cycle", "the modem hangs on the 2nd AT+CMGS until its power key is cycled",
             [{"name": "silent_until_power_cycle", "skip": 1}],
             # contact 0's report reaches the module while it is hung: lost, nobody can log it
             {"delivered": [1, 2, 3, 4], "events": [{"event": "modem_power_cycle"}], "power_cycles": 1},
             probes=(2.0, 6.0, 12.0), duration_s=50),
    scenario("slow_cmgs_30s", "one AT+CMGS takes 30 s to be answered", [{"name": "slow_cmgs", "latency_s": 30}],
             probes=(2.0, 10.0, 25.0), duration_s=50),
    scenario("cds_failed", "one contact's delivery report says permanent error 0x41",
             [{"name": "cds_failed", "to": NUMBERS[3]}],
             {"sms": {3: [1, 2]}, "delivered": [0, 1, 2, 4],
              "events": [{"event": "sms_delivery_failed", "contact": 3, "status": 0x41}]}),
    scenario("cds_never", "no delivery report ever comes", [{"name": "cds_never"}],
             {"delivered": [], "forbid": [{"event": "sms_delivered"}]}, linger_s=3.0),
    scenario("cds_temporary_then_delivered", "report 0x21 (SME busy, SC still trying), then delivered",
             [{"name": "cds_temporary_then_delivered", "then_s": 2.0}],
             {"events": [{"event": "sms_delivery_pending", "status": 0x21}]}),
    scenario("sms_done_late", '"SMS DONE" comes 8 s after boot: SMS commands answer ERROR until then',
             [{"name": "sms_done_late", "delay_s": 8.0}], duration_s=25),
]
BY_NAME = {s["name"]: s for s in SCENARIOS}


# --- observation -------------------------------------------------------------------------------------

def _bursts(edges):
    """[(first t, last t, settled level)]: edges less than SETTLE_S apart form one burst."""
    bursts = []
    for t, level in edges:
        if bursts and t - bursts[-1][1] < SETTLE_S:
            bursts[-1] = (bursts[-1][0], t, level)
        else:
            bursts.append((t, t, level))
    return bursts


def last_press_t(edges):
    """Time of the first edge of the last press in [(t, level), ...] (level 0 = pressed): a burst
    that settles at 0 is a press."""
    presses = [b[0] for b in _bursts(edges) if b[2] == 0]
    return presses[-1] if presses else None


def gesture_end_t(edges):
    """Time of the first edge of the last release (a burst settling at 1): where a gesture whose
    presses count at their release ends."""
    ends = [b[0] for b in _bursts(edges) if b[2] == 1]
    return ends[-1] if ends else None


def gesture_latencies(press_times, gesture_ts, end_waits=None, event_waits=None):
    """For each gesture (time of its end, sorted), ms until the first gesture event at or
    after it and before the next gesture's press; None when the firmware logged none.
    end_waits, event_waits (optional, parallel to press_times and gesture_ts): SimRun.cpu_wait_s()
    at each gesture's end and as each event arrived; what it grew in between is taken off."""
    out = []
    for k, t in enumerate(press_times):
        nxt = press_times[k + 1] if k + 1 < len(press_times) else float("inf")
        hits = [i for i, g in enumerate(gesture_ts) if t <= g < nxt]
        if not hits:
            out.append(None)
            continue
        lat = gesture_ts[hits[0]] - t
        w0 = end_waits[k] if end_waits else None
        w1 = event_waits[hits[0]] if event_waits else None
        if w0 is not None and w1 is not None:
            lat -= min(max(0.0, w1 - w0), lat)
        out.append(round(lat * 1000))
    return out


def _run(defn, out_dir, seed, echo):
    sc = {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
          "last_fix": {"lat": 45.76404, "lon": 4.83566, "acc_m": 15, "age_s": 300},
          "modem": defn["modem"], "faults": defn["faults"], "config": defn["config"],
          "duration_s": defn["duration_s"]}
    run = SimRun(sc, out_dir, echo=echo, seed=seed)
    plan = [(ALERT_AT, "alert")] + [(ALERT_AT + p, "probe") for p in defn["probes"]]
    presses, stop_at = [], None
    run.start()
    try:
        while run.now() < defn["duration_s"]:
            if not run.supervise():
                break
            # a gesture starts at its time, and never within 1 s of the previous one's end (the
            # default's 5 taps last ~2 s: back to back, two gestures would read as one)
            if plan and run.now() >= plan[0][0] and (not presses or run.now() >= presses[-1][0] + 1.0):
                plan.pop(0)
                presses.append(_play_gesture(run))  # (end, cpu wait then)
                continue
            done = (not plan and any(e["event"] == "dispatch_done" for e in run.events)
                    and run.modem.reports_pending() == 0)
            if not done:
                stop_at = None
            elif stop_at is None:
                stop_at = run.now() + defn["linger_s"]
            elif run.now() >= stop_at:
                break
            time.sleep(0.01)
        elapsed = run.now()
    finally:
        run.stop()
    return run, presses, elapsed


def _play_gesture(run):
    """The alert gesture (the default's 5 taps, contact bounce) on the virtual button; its end (the
    last release's first edge) and run.cpu_wait_s() then."""
    edges, waits, start = [], {}, time.monotonic()
    for delay, level in gesture_edges({"gesture": "alert"}, run.rng):
        left = start + delay - time.monotonic()
        if left > 0:
            time.sleep(left)
        run.set_pin(level, at=start + delay)  # the firmware dates it there (boards/sim.py)
        edges.append((run.now(), level))  # when it was written: the firmware is timed from there
        waits[edges[-1][0]] = run.cpu_wait_s()
    end = gesture_end_t(edges)
    return end, waits.get(end)


def observe(run, presses, elapsed):
    """Everything the expectations are checked against, from a finished SimRun."""
    ev = list(run.events)
    sms_t = {}
    for s in run.sms:
        sms_t.setdefault(s["to"], []).append(s["t"])
    trig = [e["t"] for e in ev if e["event"] == "trigger"]
    reports = {}
    for r in run.modem.reports:
        if r["routed"] and r["status"] == 0:
            reports.setdefault(r["to"], r["t"])
    log = ""
    try:
        with open(os.path.join(run.out, "firmware.log")) as f:
            log = f.read()
    except OSError:
        pass
    return {
        "events": ev,
        "sms": [len(sms_t.get(n, [])) for n in NUMBERS],
        "first_sms_t": [min(sms_t[n]) if n in sms_t else None for n in NUMBERS],
        "attempts": [sum(1 for s in run.modem.submits if s["to"] == n) for n in NUMBERS],
        "report_t": [reports.get(n) for n in NUMBERS],
        "trigger_t": trig[0] if trig else None,
        "triggers": len(trig),
        "gestures_ms": gesture_latencies([p for p, _w in presses if p is not None],
                                         [e["t"] for e in ev if e["event"] == "gesture"],
                                         [w for p, w in presses if p is not None], list(run.gesture_waits)),
        "gestures_wall_ms": gesture_latencies([p for p, _w in presses if p is not None],
                                              [e["t"] for e in ev if e["event"] == "gesture"]),
        "gestures_sent": len(presses),
        "fault_hits": dict(run.modem.fault_hits),
        "power_cycles": sum(1 for p in run.modem.power_log if p["event"] == "on" and p["why"] == "PWRKEY"),
        "tracebacks": log.count("Traceback"),
        "exit_codes": list(run.exit_codes),
        "modem_error": repr(run.modem.error) if run.modem.error else None,
        "elapsed_s": round(elapsed, 1),
    }


# --- expectations ------------------------------------------------------------------------------------

def matches(spec, ev):
    for k, want in spec.items():
        if k.endswith("~"):
            if not re.search(want, str(ev.get(k[:-1], ""))):
                return False
        elif ev.get(k, object()) != want:
            return False
    return True


def _fmt(spec):
    return " ".join("%s=%s" % kv for kv in spec.items())


def evaluate(defn, obs):
    """List of reasons the scenario failed (empty: it passed)."""
    exp = defn["expect"]
    why = []
    for name in sorted({f["name"] for f in defn["faults"]}):
        if not obs["fault_hits"].get(name):
            why.append("fault %s never acted" % name)  # the scenario tested nothing
    want = {i: exp["sms"].get(i, [1, 1]) for i in range(5)}
    for i in range(5):
        lo, hi = want[i]
        if not lo <= obs["sms"][i] <= hi:
            why.append("contact %d: %d SMS (want %s)" % (i, obs["sms"][i], lo if lo == hi else "%d-%d" % (lo, hi)))
    for i, most in sorted(exp["attempts_max"].items()):
        if obs["attempts"][i] > most:
            why.append("contact %d: %d send attempts (at most %d)" % (i, obs["attempts"][i], most))
    ev = obs["events"]
    if obs["triggers"] != 1:
        why.append("%d alerts triggered (want 1)" % obs["triggers"])
    delivered = exp["delivered"]
    if delivered == "sent":
        delivered = [i for i in range(5) if want[i][0] >= 1]
    for i in delivered:
        if not any(matches({"event": "sms_delivered", "contact": i, "status": 0}, e) for e in ev):
            why.append("contact %d: delivery not logged" % i)
    if exp["dispatch_done"] is not None:
        spec = dict({"event": "dispatch_done"}, **exp["dispatch_done"])
        if not any(matches(spec, e) for e in ev):
            done = [e for e in ev if e["event"] == "dispatch_done"]
            why.append("no dispatch_done %s (got %s)" % (_fmt(exp["dispatch_done"]),
                                                         ", ".join(_fmt({k: e.get(k) for k in ("sent", "failed")})
                                                                   for e in done) or "none"))
    for spec in exp["events"]:
        if not any(matches(spec, e) for e in ev):
            why.append("missing event %s" % _fmt(spec))
    for spec in exp["forbid"] + ALWAYS_FORBID:
        bad = [e for e in ev if matches(spec, e)]
        if bad:
            why.append("unexpected %s" % _fmt({k: v for k, v in bad[0].items() if k not in ("t", "ms")}))
    if obs["power_cycles"] < exp["power_cycles"]:
        why.append("modem power-cycled %d times (want >= %d)" % (obs["power_cycles"], exp["power_cycles"]))
    lat = obs["gestures_ms"]
    if len(lat) < obs["gestures_sent"]:
        why.append("%d gestures played, %d timed" % (obs["gestures_sent"], len(lat)))
    for k, ms in enumerate(lat):
        if ms is None:
            why.append("gesture %d not recognised" % (k + 1))
        elif ms > GESTURE_MAX_MS:
            why.append("gesture %d recognised after %d ms (> %d)" % (k + 1, ms, GESTURE_MAX_MS))
    if obs["tracebacks"]:
        why.append("%d tracebacks in firmware.log" % obs["tracebacks"])
    crashed = [c for c in obs["exit_codes"] if c not in (0, 75)]
    if crashed:
        why.append("firmware exited with %s" % crashed)
    if obs["modem_error"]:
        why.append("modem simulator error %s" % obs["modem_error"])
    return why


def summary(defn, obs, why):
    t0 = obs["trigger_t"]
    delivered = defn["expect"]["delivered"]
    if delivered == "sent":
        delivered = [i for i in range(5) if defn["expect"]["sms"].get(i, [1, 1])[0] >= 1]

    def last(times, idx):
        ts = [times[i] for i in idx]
        if t0 is None or not ts or None in ts:
            return None
        return round(max(ts) - t0, 2)
    must_send = [i for i in range(5) if defn["expect"]["sms"].get(i, [1, 1])[0] >= 1]
    lat = [x for x in obs["gestures_ms"] if x is not None]
    return {"name": defn["name"], "ok": not why, "reasons": why, "sms": obs["sms"], "attempts": obs["attempts"],
            "t_sms_s": last(obs["first_sms_t"], must_send), "t_report_s": last(obs["report_t"], delivered),
            "gestures_ms": obs["gestures_ms"], "gesture_max_ms": max(lat) if lat else None,
            "gestures_wall_ms": obs.get("gestures_wall_ms"),  # before the CPU wait is taken off
            "power_cycles": obs["power_cycles"], "fault_hits": obs["fault_hits"], "elapsed_s": obs["elapsed_s"],
            "events": dict(Counter(e["event"] for e in obs["events"]))}


def run_one(name, out_dir, seed=1, echo=None):
    defn = BY_NAME[name]
    run, presses, elapsed = _run(defn, out_dir, seed, echo)
    obs = observe(run, presses, elapsed)
    return summary(defn, obs, evaluate(defn, obs))


# --- table and CLI -----------------------------------------------------------------------------------

COLUMNS = ("scenario", "outcome", "SMS per contact", "trigger->last SMS", "trigger->last report",
           "gesture (worst)")


def _cell(v, unit):
    return "-" if v is None else ("%g %s" % (v, unit))


def table(results, reason_width=70):
    rows = []
    for r in results:
        outcome = "PASS" if r["ok"] else "FAIL: " + "; ".join(r["reasons"])
        if len(outcome) > reason_width:
            outcome = outcome[:reason_width - 3] + "..."
        rows.append((r["name"], outcome, " ".join(str(n) for n in r["sms"]), _cell(r["t_sms_s"], "s"),
                     _cell(r["t_report_s"], "s"), _cell(r["gesture_max_ms"], "ms")))
    widths = [max(len(x) for x in col) for col in zip(COLUMNS, *rows)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def add_arguments(p):
    p.add_argument("--only", help="comma-separated scenario names (default: all)")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--out", help="keep each scenario's outputs in OUT/<scenario> (default: a temp dir)")
    p.add_argument("--seed", type=int, default=1)


def run(args):
    if args.list:
        for s in SCENARIOS:
            print("%-30s %s" % (s["name"], s["models"]))
        return 0
    names = [s["name"] for s in SCENARIOS]
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            print("error: unknown scenario(s) %s (see --list)" % ", ".join(unknown), file=sys.stderr)
            return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        for n in names:
            t = time.monotonic()
            r = run_one(n, os.path.join(args.out or tmp, n), seed=args.seed)
            results.append(r)
            print("%-30s %s (%.0f s)" % (n, "PASS" if r["ok"] else "FAIL", time.monotonic() - t), file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(table(results))
        failed = [r for r in results if not r["ok"]]
        for r in failed:
            print("\n%s:\n  - %s" % (r["name"], "\n  - ".join(r["reasons"])))
        print("\n%d/%d scenarios pass" % (len(results) - len(failed), len(results)))
    return 0 if all(r["ok"] for r in results) else 1
