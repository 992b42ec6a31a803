"""`alertbutton bench heap`: the smallest MicroPython heap in which a FULL alert completes, and where
the heap goes.

The firmware boots on the simulated board (tools/alertbutton/sim/run.py) with `-X heapsize=N`, from the .py
sources and from the .mpy files `alertbutton deploy` builds, and plays scenarios/heap.json. A run
counts as complete only from the firmware's own output: the events it logged (events.jsonl) and
its console (firmware.log), never because time ran out (see judge()). The heap size is bisected on
those verdicts. Sizes mean something only on the 32-bit VM (ALERTBUTTON_VM=32, tools/vm32/build.sh):
the ESP32 is a 32-bit machine, and on the 64-bit VM every pointer and object header is twice as large.

The table comes from one more run per form in a 1000 KB heap with tools/alertbutton/sim/heap_probe_vm.py
loaded first: the live heap (after gc.collect()) each import, each big construction and each phase
of the alert keeps. Those are live bytes; the bisected minimum adds fragmentation and the transient
peak, which is why it is the honest figure."""
import json
import os
import shutil
import sys
import tempfile
import time

from alertbutton import vm

SCENARIO = os.path.join(vm.REPO, "scenarios", "heap.json")
# The profile runs in a heap large enough for any form, yet under firmware/settings/ram_profile.py's
# SMALL_HEAP (1 MB), so that it runs with the settings of the bisection's heaps (a board without PSRAM)
PROFILE_HEAP_KB = 1000
# Output of a VM that the simulated board has and an ESP32 has not (its `machine` is built in, the
# LIS3DH is a chip, the board profile is boards/esp32_a7670e.py): shown apart in the table.
SIM_ONLY = ("machine", "lis3dh_sim", "ramblock", "ussl", "boards.sim", "sim.Board")
# An event with one of these names means the run did not do what a full alert does.
FAIL_EVENTS = (
    "config_error", "alert_error", "compose_error", "listener_error", "outbox_write_failed",
    "sms_failed", "sms_error", "sms_invalid", "dispatch_gave_up", "modem_power_cycle",
    "evidence_unavailable", "evidence_error", "evidence_overrun", "evidence_flash_full",
    "evidence_listener_error", "fall_detection_unavailable", "accel_missing", "two_way_unavailable",
    "power_unavailable", "platform_unavailable", "gnss_receiver_missing", "console_error",
    "sim_reset",
)


class Verdict:
    def __init__(self, problems, missing):
        self.problems = problems  # what went wrong: the run failed, whatever comes next
        self.missing = missing  # what a complete alert has logged and this run has not (yet)

    @property
    def ok(self):
        return not self.problems and not self.missing

    @property
    def decided(self):
        return bool(self.problems) or not self.missing

    def why(self):
        return "; ".join(self.problems + ["missing: " + m for m in self.missing])


def judge(sc, events, log_lines, resets=()):
    """Did this run complete a full alert? From the firmware's events (dicts, events.jsonl) and the
    VM's other output lines (firmware.log). Complete means all of:
      boot: "boot", "button_armed", "fall_detection_on", "evidence_armed";
      the alert: a button "trigger"; each contact's first SMS accepted ("sms_sent"), then a
        "dispatch_done" with nothing failed; for an SMS the scenario sends to the button, its
        "sms_ack"; a "fix", then a "followup_queued" (why "fix") per contact, those SMS accepted
        and a second clean "dispatch_done";
      the recording: "evidence_recording", its chunks ("evidence_chunk", the last one final) and
        "evidence_done";
      the fall detector: the scenario's fall seen during the alert ("fall_during_alert");
    and none of: a MemoryError or a traceback anywhere, an event of FAIL_EVENTS, a reset."""
    problems = []
    for line in log_lines:
        if "MemoryError" in line or "Traceback" in line:
            problems.append("firmware.log: " + line.strip()[:160])
            break
    for e in events:
        if e.get("event") in FAIL_EVENTS or "MemoryError" in json.dumps(e):
            problems.append("event %s" % json.dumps({k: v for k, v in e.items() if k != "ms"})[:200])
            break
    if resets:
        problems.append("reset: %s" % (resets[0],))
    names = [e.get("event") for e in events]
    n = len(sc.get("contacts", []))
    missing = [x for x in ("boot", "button_armed", "fall_detection_on", "evidence_armed") if x not in names]
    trig = [i for i, e in enumerate(events) if e.get("event") == "trigger" and e.get("source") == "button"]
    if not trig:
        return Verdict(problems, missing + ["a button trigger"])
    after = events[trig[0]:]
    done = [e for e in after if e.get("event") == "dispatch_done"]
    first_sent = set()
    for e in after:
        if e.get("event") == "dispatch_done":
            break
        if e.get("event") == "sms_sent":
            first_sent.add(e.get("contact"))
    if len(first_sent) < n or not done:
        missing.append("the first SMS to each of the %d contacts and their dispatch_done" % n)
    elif done[0].get("failed") or done[0].get("sent", 0) < n:
        problems.append("first dispatch_done: %s" % done[0])
    if any("sms" in ev for ev in sc.get("events", [])) and "sms_ack" not in names:
        missing.append("sms_ack (the contact's reply)")
    fix_followups = set(e.get("contact") for e in after if e.get("event") == "followup_queued" and e.get("why") == "fix")
    if "fix" not in names or len(fix_followups) < n:
        missing.append("a fix and a position follow-up queued for each contact")
    elif names.count("sms_sent") < 2 * n or len(done) < 2:
        missing.append("the follow-up SMS sent and their dispatch_done")
    elif done[-1].get("failed"):
        problems.append("follow-up dispatch_done: %s" % done[-1])
    chunks = [e for e in after if e.get("event") == "evidence_chunk"]
    if "evidence_recording" not in names or not chunks or not chunks[-1].get("final") or "evidence_done" not in names:
        missing.append("the recording: its chunks written, the last final, evidence_done")
    if sc.get("accel") and "fall_during_alert" not in names:
        missing.append("fall_during_alert (the fall detector running through the alert)")
    return Verdict(problems, missing)


def judge_files(sc, out):
    """judge() on what a finished run wrote: OUT/events.jsonl and OUT/firmware.log."""
    events = []
    with open(os.path.join(out, "events.jsonl")) as f:
        for line in f:
            if line.strip():
                events.append(json.loads(line))
    with open(os.path.join(out, "firmware.log")) as f:
        log_lines = f.readlines()
    return judge(sc, events, log_lines)


def trial(sc, heap_kb, form, out, tree=None, probe=False):
    """One simulated full alert in a heap of heap_kb KB, booting from `form` (FORMS; tree: what
    sim/tree.py's build() made for it). Stops as soon as the firmware's output decides (complete, or
    failed), else at the scenario's duration_s. The verdict is then taken again from the files the
    run wrote."""
    from alertbutton.sim.run import SimRun
    run = SimRun(sc, out, echo=None, heapsize="%dk" % heap_kb, mpy=form != "py", romfs=form == "romfs", tree=tree,
                 heap_probe=probe)
    seen = [-1, -1]

    def decided(r):
        if (len(r.events), len(r.vm_errors)) == tuple(seen):
            return False
        seen[:] = [len(r.events), len(r.vm_errors)]
        return judge(sc, r.events, [line for _, line in r.vm_errors], r.resets).decided

    t0 = time.monotonic()
    try:
        run.start()
        run.run_script(stop_when_done=False, until=decided)
    finally:
        run.stop()
    v = judge_files(sc, out)
    if run.resets and not v.problems:
        v.problems.append("reset: %s" % (run.resets[0],))
    v.seconds = time.monotonic() - t0
    return v


def bisect(sc, form, lo_kb, hi_kb, step_kb, workdir, tree=None, echo=print):
    """Smallest heap (KB, a multiple of step_kb) in which trial() passes, assuming more heap never
    hurts: hi_kb must pass and lo_kb fail. The result is run once more: a fail there (a verdict that
    is not monotonic near the edge) moves it up a step at a time until it passes."""
    tries = []

    def run_at(kb):
        v = trial(sc, kb, form, os.path.join(workdir, "%s-%dk" % (form, kb)), tree)
        tries.append((kb, v.ok))
        echo("  %-5s %5d KB  %-4s %5.1f s  %s" % (form, kb, "ok" if v.ok else "FAIL", v.seconds,
                                                  "" if v.ok else v.why()[:150]))
        return v.ok

    if not run_at(hi_kb):
        return None, tries
    if run_at(lo_kb):
        return lo_kb, tries
    lo, hi = lo_kb, hi_kb
    while hi - lo > step_kb:
        mid = (lo + hi) // 2 // step_kb * step_kb
        if mid <= lo:
            mid = lo + step_kb
        if run_at(mid):
            hi = mid
        else:
            lo = mid
    while not run_at(hi):  # the confirmation run
        hi += step_kb
    return hi, tries


# --- the table ------------------------------------------------------------------------------------

def probe_lines(out):
    """[(kind, name, bytes, free or None, grew)] from the "HEAP" lines the probe wrote to
    firmware.log; grew: this import made the qstr table take a new block."""
    rows, pools = [], None
    with open(os.path.join(out, "firmware.log")) as f:
        for line in f:
            w = line.split()
            if len(w) >= 5 and w[1] == "HEAP":
                rows.append((w[2], w[3], int(w[4]), int(w[5]) if len(w) > 5 else None, False))
            elif "qstr pool: n_pool=" in line and rows and rows[-1][0] == "import":
                n = int(line.split("n_pool=")[1].split(",")[0])
                if pools is not None and n > pools:
                    rows[-1] = rows[-1][:4] + (True,)
                pools = n
    return rows


# The phases of a run, bounded by the probe's marks: (label, mark that ends it).
PHASES = (("VM started, before boot.py", "start"), ("imports and App() (main.py)", "boot"),
          ("start-up: tasks, buffers, console, modem up", "modem_ready"),
          ("idle until the alert", "trigger"), ("the alert, until its last event", None))


def profile(lines):
    """From one probe run: {"rows": [(phase, kind, name, bytes, grew)], "marks": {mark: live bytes},
    "other": {phase: bytes not in any row}} with rows in the order they happened."""
    marks, rows, other = {}, [], {}
    phase = 0
    in_phase = 0
    last = None
    for kind, name, n, _free, grew in lines:
        if kind == "mark":
            last = n
            if name == "start":
                marks["start"] = n
                continue
            end = PHASES[phase][1]
            if name == end:
                prev = marks[PHASES[phase - 1][1]] if phase else 0
                other[PHASES[phase][0]] = n - prev - in_phase
                marks[name] = n
                phase, in_phase = phase + 1, 0
            continue
        if phase == 0:
            phase = 1  # rows before any mark but "start": main.py's imports
        rows.append((PHASES[phase][0], kind, name, n, grew))
        in_phase += n
    if last is not None and phase < len(PHASES) and "trigger" in marks:
        marks["end"] = last
        other[PHASES[-1][0]] = last - marks["trigger"] - in_phase
    return {"rows": rows, "marks": marks, "other": other}


FORMS = ("py", "mpy", "romfs")
LABELS = {"py": ".py", "mpy": ".mpy", "romfs": "ROMFS"}


def table(profiles, minimum):
    """Text of the per-module table: profiles {form: profile()}, minimum {form: KB or None}."""
    forms = [f for f in FORMS if f in profiles]
    order, by = [], {}
    for f in forms:
        for phase, kind, name, n, grew in profiles[f]["rows"]:
            key = (phase, kind, name)
            if key not in by:
                by[key] = {}
                order.append(key)
            by[key][f] = by[key].get(f, 0) + n
            if grew:
                by[key][f + "*"] = True
    order.sort(key=lambda k: [p[0] for p in PHASES].index(k[0]))  # stable: import order kept

    def kb(n, mark=""):
        return ("%7.1f" % (n / 1024.0) if n is not None else "      -") + mark

    def row(label, values):
        return "  %-50s" % label[:50] + "".join("  " + v for v in values)

    out = ["  %-50s" % ("live heap, KB (after gc.collect(), in a %d KB heap)" % PROFILE_HEAP_KB)
           + "".join("%9s" % LABELS[f] for f in forms)]
    phase = None
    for key in order:
        if key[0] != phase:
            phase = key[0]
            out.append(phase + ":")
        name = key[2]
        label = ("import " if key[1] == "import" else "build  ") + name + (" (simulator)" if name in SIM_ONLY else "")
        out.append(row(label, [kb(by[key].get(f), "*" if by[key].get(f + "*") else " ") for f in forms]))
    out.append("not in any row above (task objects, event-log lines, buffers of the I/O):")
    for label, _ in PHASES[1:]:
        out.append(row(label, [kb(profiles[f]["other"].get(label)) for f in forms]))
    out.append("of the rows above, the simulated board's own (an ESP32 has its machine built in):")
    out.append(row("  the (simulator) rows", [
        kb(sum(r[3] for r in profiles[f]["rows"] if r[2] in SIM_ONLY)) for f in forms]))
    out.append("live heap at each step:")
    for label, mark in (("VM started (interpreter, this probe)", "start"), ("App built (event boot)", "boot"),
                        ("started (event modem_ready)", "modem_ready"), ("alert triggered", "trigger"),
                        ("alert over (its last event)", "end")):
        out.append(row(label, [kb(profiles[f]["marks"].get(mark)) for f in forms]))
    out.append(row("kept by the first alert (over - triggered)", [
        kb(_diff(profiles[f]["marks"], "end", "trigger")) for f in forms]))
    out.append(row("PEAK: smallest heap completing the alert, KB", [
        "%7d" % minimum[f] if minimum.get(f) else "      -" for f in forms]))
    out.append("* the import took a new block of the qstr (interned names) table, which grows by doubling:")
    out.append("  the block holds the names of the modules imported after it too")
    return "\n".join(out)


def _diff(marks, a, b):
    return marks[a] - marks[b] if a in marks and b in marks else None


# --- CLI ------------------------------------------------------------------------------------------

def add_arguments(p):
    p.add_argument("--scenario", default=SCENARIO, help="full-alert scenario (default scenarios/heap.json)")
    p.add_argument("--form", action="append", choices=FORMS,
                   help="boot from the .py sources (py), the .mpy files deploy builds (mpy), or those in a "
                        "ROMFS image, run in place (romfs); repeat for several (default: all three)")
    p.add_argument("--step", type=int, default=4, help="bisection resolution, KB (default 4)")
    p.add_argument("--lo", type=int, default=32, help="bisection lower bound, KB (must fail; default 32)")
    p.add_argument("--hi", type=int, default=1000, help="bisection upper bound, KB (must pass; default 1000)")
    p.add_argument("--no-table", action="store_true", help="only bisect (no profile runs)")
    p.add_argument("--no-bisect", action="store_true", help="only the table (one profile run per form)")
    p.add_argument("--keep", help="keep every run's outputs in this directory")
    p.add_argument("--json-out", help="also write the figures to this JSON file")


def run(args):
    facts = vm.vm_facts()
    if facts["bits"] != 32:
        print("error: bench heap measures heap sizes for the ESP32, a 32-bit machine; this is the %s, where "
              "every pointer and object header is twice as large. Run it on the 32-bit VM: "
              "tools/vm32/build.sh, then ALERTBUTTON_VM=32 alertbutton bench heap" % vm.vm_label(), file=sys.stderr)
        return 2
    from alertbutton.sim import tree as sim_tree
    from alertbutton.sim.run import load_scenario
    sc = load_scenario(args.scenario)
    forms = [f for f in FORMS if f in (args.form or FORMS)]
    work = args.keep or tempfile.mkdtemp(prefix="bench-heap-")
    os.makedirs(work, exist_ok=True)
    trees = dict((f, sim_tree.build(os.path.join(work, "tree-" + f), romfs=f == "romfs")) for f in forms if f != "py")
    print("heap bench: %s on the %s" % (os.path.relpath(args.scenario), vm.vm_label()))
    print("a full alert: boot, the alert gesture, an SMS to each of %d contacts, a contact's reply, a GNSS fix "
          "and a position follow-up to each, the evidence recording closed, the fall detector running "
          "through it (judged from events.jsonl and firmware.log)" % len(sc.get("contacts", [])))
    results = {"vm": vm.vm_label(), "scenario": os.path.relpath(args.scenario, vm.REPO), "step_kb": args.step,
               "minimum_kb": {}, "tries": {}, "profiles": {}}
    try:
        minimum = {}
        if not args.no_bisect:
            for f in forms:
                print("bisecting -X heapsize, booting from %s (%d..%d KB, %d KB steps):" % (
                    LABELS[f], args.lo, args.hi, args.step))
                kb, tries = bisect(sc, f, args.lo, args.hi, args.step, work, trees.get(f))
                minimum[f] = results["minimum_kb"][f] = kb
                results["tries"][f] = tries
                print("  smallest heap for a full alert from %s: %s" % (
                    LABELS[f], "%d KB" % kb if kb else "none up to %d KB" % args.hi))
        if not args.no_table:
            profiles = {}
            for f in forms:
                out = os.path.join(work, "profile-" + f)
                v = trial(sc, PROFILE_HEAP_KB, f, out, trees.get(f), probe=True)
                if not v.ok:
                    print("the profile run from %s did not complete the alert: %s" % (LABELS[f], v.why()))
                profiles[f] = results["profiles"][f] = profile(probe_lines(out))
            print(table(profiles, minimum))
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(results, f, indent=1)
        return 0 if args.no_bisect or all(minimum.get(f) for f in forms) else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
