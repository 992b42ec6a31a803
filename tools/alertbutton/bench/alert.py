"""`alertbutton bench alert`: trigger -> first and -> fifth +CMGS, over several simulated alerts.
`alertbutton bench heap`: the smallest heap a full alert needs, and where it goes (heap.py).
`alertbutton bench gestures`: intended gestures recognised and false alerts per day (gestures.py);
`--arm`: the same for the gesture that arms the pre-alert ring, next to the alert's (arm_gestures.py).
`alertbutton bench crypto`: the evidence seal's and signature's cost in ESP32 terms (crypto.py).

Figures, not a timed test: each run boots the firmware in the MicroPython VM on the simulated board,
fires the alert gesture and reads the times off the simulator's own clock (the trigger event from the
firmware's event log, each SMS when the modem simulator accepted it)."""
import json
import os
import statistics
import tempfile

from alertbutton import vm
from alertbutton.bench import crypto as crypto_bench
from alertbutton.bench import gestures as gesture_bench
from alertbutton.bench import heap as heap_bench
from alertbutton.sim.run import run_scenario


def alert_scenario(latency_s, cmd_latency_s, gnss_after_s=None):
    sc = json.load(open(os.path.join(vm.REPO, "scenarios", "demo.json")))
    sc["modem"] = {"cmgs_latency_s": latency_s, "cmd_latency_s": cmd_latency_s}
    sc["gnss"] = None if gnss_after_s is None else dict(sc["gnss"], after_s=gnss_after_s)
    sc["events"] = [{"t": 2.0, "gesture": "alert"}]
    sc["duration_s"] = 2.0 + 5 * latency_s + 30
    return sc


def measure(sc, seed):
    with tempfile.TemporaryDirectory(prefix="bench-") as out:
        r = run_scenario(sc, out, echo=None, seed=seed)
    trig = [e["t"] for e in r.events if e["event"] == "trigger"]
    if not trig or len(r.sms) < 5:
        return None
    return r.sms[0]["t"] - trig[0], r.sms[4]["t"] - trig[0], len(r.sms)


def add_arguments(p):
    p.add_argument("what", choices=["alert", "heap", "gestures", "crypto", "seal"], help="what to benchmark: alert "
                   "latency, the heap a full alert needs (32-bit VM: ALERTBUTTON_VM=32), the alert gesture's "
                   "recognition and false alerts (docs/haptics.md), the evidence crypto's cost "
                   "(docs/evidence-crypto.md), or the recorder's sealing and signing (docs/evidence-sealing.md)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--latency", type=float, default=1.0, help="simulated CMGS latency (s)")
    p.add_argument("--cmd-latency", type=float, default=0.005,
                   help="simulated latency of every other modem answer, incl. the '> ' prompt (s)")
    p.add_argument("--no-gnss", action="store_true", help="GNSS never gets a fix (indoors)")
    heap = p.add_argument_group("bench heap")
    heap_bench.add_arguments(heap)
    gesture_bench.add_arguments(p.add_argument_group("bench gestures"))
    crypto_bench.add_arguments(p.add_argument_group("bench crypto"))


def run(args):
    if args.what == "heap":
        return heap_bench.run(args)
    if args.what == "gestures":
        if args.arm:  # the pre-alert ring's arming gesture next to the alert's (issue 21 item 5)
            from alertbutton.bench import arm_gestures
            return arm_gestures.run(args)
        return gesture_bench.run(args)
    if args.what == "crypto":
        return crypto_bench.run(args)
    if args.what == "seal":
        from alertbutton.bench import seal
        return seal.run(args)
    sc = alert_scenario(args.latency, args.cmd_latency, None if args.no_gnss else 1.0)
    firsts, fifths = [], []
    print("alert latency, %d runs, CMGS latency %.3f s, other answers %.3f s" %
          (args.runs, args.latency, args.cmd_latency))
    print("run  trigger->1st SMS (s)  trigger->5th SMS (s)")
    for i in range(args.runs):
        m = measure(sc, seed=i + 1)
        if m is None:
            print("%3d  FAILED: fewer than 5 SMS" % (i + 1))
            continue
        firsts.append(m[0])
        fifths.append(m[1])
        print("%3d  %20.3f  %20.3f" % (i + 1, m[0], m[1]))
    if not firsts:
        return 1
    floor1, floor5 = args.latency, 5 * args.latency
    print("median %18.3f  %20.3f" % (statistics.median(firsts), statistics.median(fifths)))
    print("max    %18.3f  %20.3f" % (max(firsts), max(fifths)))
    print("floor  %18.3f  %20.3f   (1 x and 5 x the CMGS latency)" % (floor1, floor5))
    print("over floor (max): first %+.0f ms (target <= +200 ms), fifth %+.0f ms (target <= +100 ms)" %
          ((max(firsts) - floor1) * 1000, (max(fifths) - floor5) * 1000))
    ok = max(firsts) - floor1 <= 0.2 and max(fifths) - floor5 <= 0.1 and len(firsts) == args.runs
    print("targets met" if ok else "TARGETS NOT MET")
    return 0 if ok else 1
