"""`alertbutton bench gestures`: for the default alert gesture and its alternatives, the share of
intended gestures recognised and the false alerts per day, by a seeded Monte-Carlo through the
firmware's own recogniser (firmware/wearer/gestures.py ButtonLogic, imported here unchanged).

Every trial is a list of physical contact changes; each change bounces as the switch model says;
the edges go to ButtonLogic.edge() and the recogniser is polled at the deadlines it asks for, as the
button task does. The candidates, the human timing, the switch and the accidental-press models below
were written down (docs/haptics.md) before the first run; the default is chosen from the table by
the rule in RULE, never tuned to it."""
import json
import math
import random

from alertbutton import fwimport  # noqa: F401  (micropython.const and time.ticks_* for firmware code)
from firmware.wearer.gestures import ButtonLogic

# --- candidates, in order of ease for the wearer (the rule picks the first that passes) ------------
A = "alert"
CANDIDATES = [
    ("3 presses in 2.5 s, or hold 2 s (before issue 20)",
     [{"action": A, "presses": 3, "within_ms": 2500}, {"action": A, "hold_ms": 2000}]),
    ("3 presses, gaps <= 700 ms", [{"action": A, "presses": 3, "gap_ms": 700}]),
    ("3 presses, gaps <= 700 ms, each >= 100 ms",
     [{"action": A, "presses": 3, "gap_ms": 700, "min_press_ms": 100}]),
    ("hold 3 s", [{"action": A, "hold_ms": 3000}]),
    # a silent pre-send window that a release cancels is, to the recogniser, a longer hold:
    # hold 2 s + 1 s window is the same input and the same output as hold 3 s
    ("hold 2 s + 1 s silent pre-send, a release cancels (= hold 3 s)", [{"action": A, "hold_ms": 3000}]),
    ("4 presses in 3 s", [{"action": A, "presses": 4, "within_ms": 3000}]),
    ("4 presses, gaps <= 700 ms", [{"action": A, "presses": 4, "gap_ms": 700}]),
    ("4 presses, gaps <= 700 ms, each >= 100 ms",
     [{"action": A, "presses": 4, "gap_ms": 700, "min_press_ms": 100}]),
    ("hold 4 s", [{"action": A, "hold_ms": 4000}]),
    ("4 presses, gaps <= 700 ms, each >= 100 ms, or hold 4 s",
     [{"action": A, "presses": 4, "gap_ms": 700, "min_press_ms": 100}, {"action": A, "hold_ms": 4000}]),
    ("5 presses, gaps <= 700 ms, each >= 100 ms",
     [{"action": A, "presses": 5, "gap_ms": 700, "min_press_ms": 100}]),
]
# Round 2, written after round 1 showed that none of the above met the target (bag squeezes: a
# deliberate rhythm of presses is what a squeeze can make), and fixed before its own first run; the
# models were not changed. A press longer than 400 ms is not a deliberate tap and starts the count
# again (taught presses are 120-180 ms).
CANDIDATES_ROUND2 = [
    ("4 presses, gaps <= 700 ms, each 100-400 ms",
     [{"action": A, "presses": 4, "gap_ms": 700, "min_press_ms": 100, "max_press_ms": 400}]),
    ("5 presses, gaps <= 700 ms, each 100-400 ms",
     [{"action": A, "presses": 5, "gap_ms": 700, "min_press_ms": 100, "max_press_ms": 400}]),
    ("6 presses, gaps <= 700 ms, each >= 100 ms",
     [{"action": A, "presses": 6, "gap_ms": 700, "min_press_ms": 100}]),
]
RULE = ("the first candidate (in the order of ease above, round 1 then round 2) that recognises 100 % of intended gestures "
        "with the tact and typical switches and whose false alerts, summed over every model, are at "
        "most 1 per 30 days at the 95 % upper bound")
TARGET_PER_DAY = 1 / 30.0

# --- switch bounce: every contact change chatters this long (ms), edges < 25 ms apart --------------
SWITCHES = {"tact": (0.2, 5), "typical": (1, 20), "worst": (10, 150)}

# --- the wearer's intended gestures: taught timings, each duration x U(0.8, 1.2) ------------------
PRESS_MS = 150  # a firm press
GAP_MS = 300  # release to next press
REACTION_MS = (150, 400)  # a hold: she lets go this long after feeling the buzz (GESTURE_SEEN)
GIVE_UP_MS = 10000  # ... or after this, if no buzz came
JITTER = 0.2


# --- accidental presses: (name, events per day, generator of [(start_ms, duration_ms)]) ------------
def _logu(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def bag_squeeze(rng):
    """Something in a bag squeezes it: 1 + geometric(1/2) presses (capped at 8), each 80-1500 ms,
    80-1000 ms apart (log-uniform)."""
    k = 1
    while k < 8 and rng.random() < 0.5:
        k += 1
    out, t = [], 0
    for _ in range(k):
        d = _logu(rng, 80, 1500)
        out.append((t, d))
        t += d + _logu(rng, 80, 1000)
    return out


def _shifting(rng, total, every, release):
    """A long press that shifting weight opens for `release` ms every `every` ms (log-uniform)."""
    out, t = [], 0
    while t < total:
        d = min(_logu(rng, *every), total - t)
        out.append((t, d))
        t += d + rng.uniform(*release)
    return out


def sitting(rng):
    """Sitting on it: 10 s to 20 min, weight shifts open it 100-1000 ms every 1-120 s."""
    return _shifting(rng, _logu(rng, 10000, 1200000), (1000, 120000), (100, 1000))


def leaning(rng):
    """Leaning on a wall against it: 3-60 s, shifts open it 100-600 ms every 1-30 s."""
    return _shifting(rng, _logu(rng, 3000, 60000), (1000, 30000), (100, 600))


def strap_hits(rng):
    """A bout of strap hits while walking: 4-40 hits one step apart (0.5-0.6 s per bout, each step
    +-10 %), each contact 15-90 ms."""
    period = rng.uniform(500, 600)
    out, t = [], 0
    for _ in range(rng.randint(4, 40)):
        out.append((t, rng.uniform(15, 90)))
        t += period * rng.uniform(0.9, 1.1)
    return out


def long_press(rng):
    """One long accidental press (an arm, a table edge): 0.3-8 s, log-uniform."""
    return [(0, _logu(rng, 300, 8000))]


MODELS = [
    ("bag squeezes (2/h over 16 h)", 32, bag_squeeze),
    ("sitting on it", 1, sitting),
    ("leaning on a wall", 2, leaning),
    ("strap hits while walking (6 bouts/h over 1.5 h)", 9, strap_hits),
    ("a long accidental press", 4, long_press),
]


# --- the physical line and the recogniser ------------------------------------------------------------
def transitions(rng, presses, bounce):
    """Levels (1 pressed) with bounce: [(ms, level)], integer ms, in order, only changes."""
    lo, hi = bounce
    out = []
    for start, dur in presses:
        for t, level in ((start, 1), (start + dur, 0)):
            length = rng.uniform(lo, hi)
            tt, lvl = t, level
            while tt < t + length:
                out.append((int(tt), lvl))
                tt += rng.uniform(0.2, min(24, max(0.3, length / 3)))
                lvl = 1 - lvl
            out.append((int(t + length), level))
    out.sort(key=lambda e: e[0])  # stable: the order within one ms is kept
    edges, cur = [], 0
    for t, lvl in out:
        if lvl != cur:
            edges.append((t, lvl))
            cur = lvl
    return edges


class Recogniser:
    """ButtonLogic driven as the button task drives it: each edge in order, polls at its deadlines."""

    def __init__(self, gestures):
        self.fired = []
        self.logic = ButtonLogic(gestures, on_gesture=lambda a, t: self.fired.append(t))
        self.now = 0
        self.wait = -1

    def until(self, t):
        """Poll at every deadline before t."""
        while self.wait >= 0 and self.now + max(1, self.wait) <= t:
            self.now += max(1, self.wait)
            self.wait = self.logic.poll(self.now)

    def edge(self, t, pressed):
        self.until(t)
        self.logic.edge(t, bool(pressed))
        self.now = t
        self.wait = self.logic.poll(t)

    def settle(self, horizon_ms=30000):
        self.until(self.now + horizon_ms)


def fires(gestures, edges):
    r = Recogniser(gestures)
    for t, lvl in edges:
        r.edge(t, lvl)
    r.settle()
    return len(r.fired)


def _j(rng, v):
    return v * rng.uniform(1 - JITTER, 1 + JITTER)


def intended_ok(rng, gesture, bounce, gestures):
    """One intended performance of `gesture` (one entry of the candidate), judged by the whole
    candidate's recogniser: recognised (once at least) or not."""
    if "presses" in gesture:
        presses, t = [], 0
        for _ in range(gesture["presses"]):
            d = _j(rng, PRESS_MS)
            presses.append((t, d))
            t += d + _j(rng, GAP_MS)
        return fires(gestures, transitions(rng, presses, bounce)) > 0
    # a hold: she counts the taught time, and keeps holding until the buzz (or gives up)
    counted = _j(rng, gesture["hold_ms"])
    press = transitions(rng, [(0, GIVE_UP_MS * 2)], bounce)
    down = [e for e in press if e[0] < GIVE_UP_MS]  # the pressing bounce and nothing else
    r = Recogniser(gestures)
    for t, lvl in down:
        r.edge(t, lvl)
    r.until(GIVE_UP_MS)
    if not r.fired:
        return False
    release_at = max(counted, r.fired[0] + rng.uniform(*REACTION_MS))
    return release_at <= GIVE_UP_MS


def evaluate(gestures, rng, trials, events):
    """{"intended": {switch: share}, "false": [(model, per day, 95 % upper bound per day)]}"""
    res = {"intended": {}, "false": []}
    for sw, bounce in SWITCHES.items():
        ok = n = 0
        for g in gestures:
            for _ in range(trials):
                ok += intended_ok(rng, g, bounce, gestures)
                n += 1
        res["intended"][sw] = ok / n
    for name, rate, gen in MODELS:
        hits = 0
        for _ in range(events):
            hits += fires(gestures, transitions(rng, gen(rng), SWITCHES["typical"])) > 0
        res["false"].append((name, rate * hits / events, rate * upper95(hits, events)))
    return res


def upper95(k, n):
    """One-sided 95 % upper bound of a proportion (Wilson score; 3/n when k = 0)."""
    if k == 0:
        return 3.0 / n
    z = 1.645
    p = k / n
    c = (p + z * z / (2 * n) + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    return min(1.0, c)


def passes(res):
    return (res["intended"]["tact"] == 1.0 and res["intended"]["typical"] == 1.0
            and sum(u for _, _, u in res["false"]) <= TARGET_PER_DAY)


def table(results, trials, events, seed):
    lines = ["alertbutton bench gestures: seed %d, %d intended trials per gesture and switch, %d accidental "
             "events per model (typical switch)" % (seed, trials, events), ""]
    head = "| candidate | tact | typical | worst | " + " | ".join(
        "%s /day" % m[0].split(" (")[0] for m in MODELS) + " | all /day (95 % up) | days per false alert | passes |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for name, res in results:
        fa = sum(p for _, p, _ in res["false"])
        fu = sum(u for _, _, u in res["false"])
        lines.append("| %s | %s | %s | %s | %s | %.4f (%.4f) | %s | %s |" % (
            name, *("%.1f %%" % (100 * res["intended"][s]) for s in SWITCHES),
            " | ".join("%.4f" % p for _, p, _ in res["false"]), fa, fu,
            ("%.0f" % (1 / fa)) if fa else "> %.0f" % (1 / fu), "yes" if passes(res) else "no"))
    chosen = next((n for n, r in results if passes(r)), None)
    lines += ["", "rule: " + RULE, "chosen: %s" % (chosen or "none passes")]
    return "\n".join(lines)


def add_arguments(p):
    p.add_argument("--seed", type=int, default=20, help="Monte-Carlo seed (default 20)")
    p.add_argument("--trials", type=int, default=2000, help="intended gestures per gesture and switch")
    p.add_argument("--events", type=int, default=5000, help="accidental events per model")
    p.add_argument("--round1", action="store_true", help="only the first round of candidates")
    p.add_argument("--arm", action="store_true",
                   help="the gesture that arms the pre-alert ring, next to the alert gesture (arm_gestures.py, run by alert.py)")


def run(args):
    results = []
    for name, gestures in CANDIDATES + ([] if args.round1 else CANDIDATES_ROUND2):
        # one stream per gesture map: identical maps give identical rows
        rng = random.Random("%d/%s" % (args.seed, json.dumps(gestures, sort_keys=True)))
        results.append((name, evaluate(gestures, rng, args.trials, args.events)))
    print(table(results, args.trials, args.events, args.seed))
    return 0
