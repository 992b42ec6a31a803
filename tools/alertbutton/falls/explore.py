"""`alertbutton fall-eval DIR --explore`: the second-stage variants that were tried (features the
firmware does not compute, a boosted-stump ensemble), each scored by leave-one-subject-out with the
model retrained in every fold, plus a nested estimate of picking the best variant that way.
Host only (CPython, floats): this is where ideas are judged before any is ported to the firmware.

Candidates are the firmware's own (train.candidates: every impact the detector examines, with
its features); the prototype features below are computed from the same resampled trial around
each candidate. A trial's verdict is "any gated candidate scores >= 0", which is what the firmware
does when nothing was confirmed before: for the shipped variant it gives the same counts as
`fall-eval --cv loso` (asserted in tests/host/test_fall_eval.py on the committed excerpt).
"""
import math

from alertbutton.falls import evaluate as fall_eval
from alertbutton.falls import train as fall_train

FIRMWARE = list(fall_train.STUMP_USE)  # every firmware feature: (name, firmware index, lo, hi)
PROTO = ("ff_ms", "jerk", "nimp2", "rebound", "wide_ms", "psd_min", "psd_max", "dip2pk_ms")


def _mag(v):
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def prototype(s, imp, dn, rate):
    """Features the firmware lacks, for the candidate with impact peak at sample imp decided at dn:
    ff_ms     time |a| < 0.7 g in the second before the peak (free-fall duration)
    jerk      largest change of the acceleration vector between two samples, impact +- 0.5 s
    nimp2     local maxima of |a| above 2 g within impact +- 1 s (the firmware counts > 1.5 g)
    rebound   mean | |a| - 1 g | over the 0.5 s after the peak
    wide_ms   time |a| > 1.5 g within impact +- 0.5 s
    psd_min/max  smallest / largest standard deviation of |a| over 0.5 s windows from impact
              + 0.5 s to the decision (post-impact variance over several windows)
    dip2pk_ms time from the lowest |a| to the peak
    (The rotation during the fall, first prototyped here, is now computed by the firmware:
    F_ROTPRE, F_ROTPATH, F_OVER, F_VVEL.)"""
    r = rate
    m = [_mag(v) for v in s]
    pre = max(0, imp - r)
    seg = m[pre:imp + 1]
    out = {"ff_ms": sum(1 for v in seg if v < 700) * 1000 // r}
    out["dip2pk_ms"] = (len(seg) - 1 - min(range(len(seg)), key=lambda k: seg[k])) * 1000 // r
    a, b = max(1, imp - r // 2), min(len(s), imp + r // 2)
    out["jerk"] = max(_mag([s[k][c] - s[k - 1][c] for c in range(3)]) for k in range(a, b))
    out["wide_ms"] = sum(1 for k in range(max(0, imp - r // 2), b) if m[k] > 1500) * 1000 // r
    a, b = max(1, imp - r), min(len(m) - 1, imp + r)
    out["nimp2"] = sum(1 for k in range(a, b) if m[k] > 2000 and m[k] >= m[k - 1] and m[k] > m[k + 1])
    w = m[imp + 1:imp + r // 2]
    out["rebound"] = sum(abs(v - 1000) for v in w) / max(1, len(w))
    sds = []
    k = imp + r // 2
    while k + r // 2 <= dn + 1:
        w = m[k:k + r // 2]
        mu = sum(w) / len(w)
        sds.append(math.sqrt(sum((v - mu) ** 2 for v in w) / len(w)))
        k += r // 2
    out["psd_min"] = min(sds) if sds else 0
    out["psd_max"] = max(sds) if sds else 0
    return out


class Data:
    """Every candidate of `loaded` with firmware + prototype features as one integer tuple."""

    def __init__(self, loaded, rate, params=None):
        self.loaded = loaded
        self.rate = rate
        decided = []
        base = fall_train.candidates(loaded, rate, params, decided)
        self.decided = decided
        nf = len(base[0][3]) if base else 0
        self.use = dict((u[0], u) for u in FIRMWARE)
        rows = []
        for (ti, imp, lab, f), dn in zip(base, decided):
            p = prototype(loaded[ti].samples, imp, dn, rate)
            rows.append((ti, imp, lab, tuple(f) + tuple(int(round(p[k])) for k in PROTO)))
        for j, name in enumerate(PROTO):  # clip ranges: the data's own
            vals = [r[3][nf + j] for r in rows] or [0]
            self.use[name] = (name, nf + j, min(vals), max(vals) + 1)
        self.cands = rows
        self.subject = [ld.trial.subject for ld in loaded]

    def held_out(self, fitter, subjects=None, inner=None):
        """Leave-one-subject-out over `subjects` (default all): fitter(train trial set) returns
        decide(features) -> bool; only subjects in `inner` (default all) are ever trained on.
        Returns fall_eval.metrics over the held-out trials."""
        subs = sorted(set(self.subject)) if subjects is None else sorted(subjects)
        pool = set(subs) if inner is None else set(inner)
        trials, alarms = [], []
        for s in subs:
            decide = fitter(set(i for i, t in enumerate(self.subject) if t in pool and t != s))
            fired = {}
            for (ti, imp, _lab, f), dn in zip(self.cands, self.decided):
                if self.subject[ti] == s and decide(f):
                    fired.setdefault(ti, []).append((dn, imp))
            for ti, t in enumerate(self.subject):
                if t == s:
                    trials.append(self.loaded[ti])
                    alarms.append(fired.get(ti, []))
        return fall_eval.metrics(trials, alarms, self.rate)


def logistic(data, names, l2=1.0):
    use = [data.use[n] for n in names]

    def fitter(train):
        model = fall_train.train(data.cands, train, l2=l2, use=use, kind="logistic")[0]
        return lambda f: fall_train._gated(f, fall_train.GATES) and fall_train.int_score(model, f) >= 0
    return fitter


def experts(data, names=None, expert_names=None, l2=1.0):
    """The shipped kind: the logistic model OR a backward-fall expert (fall_train.train_experts)."""
    use = [data.use[n] for n in names or SHIPPED]
    e_use = [data.use[n] for n in expert_names or EXPERT]
    types = [ld.trial.code for ld in data.loaded]

    def fitter(train):
        model = fall_train.train_experts(data.cands, train, types, l2, fall_train.GATES, use, e_use)[0]
        return lambda f: fall_train._gated(f, fall_train.GATES) and fall_train.int_score(model, f) >= 0
    return fitter


def stumps(data, names, rounds=20, lr=0.3):
    """Boosted stumps (fall_train.train_stumps: threshold chosen out of fold) over these features."""
    use = [data.use[n] for n in names]

    def fitter(train):
        model = fall_train.train_stumps(data.cands, train, data.subject, fall_train.GATES, use, rounds, lr)[0]
        return lambda f: fall_train._gated(f, fall_train.GATES) and fall_train.int_score(model, f) >= 0
    return fitter


SHIPPED = [u[0] for u in fall_train.USE]  # the general model's features
EXPERT = [u[0] for u in fall_train.EXPERT_USE]
PREVIOUS = [n for n in SHIPPED if n != "nimp"]
ROTATION = [u[0] for u in fall_train.STUMP_USE if u not in fall_train.USE]


def variants(data):
    """(name, fitter) of every variant tried, the shipped one first."""
    out = [("shipped: logistic OR backward-fall expert (+ rotation features)", experts(data)),
           ("logistic alone: general features (previous + nimp)", logistic(data, SHIPPED)),
           ("logistic: previous model's 8 features", logistic(data, PREVIOUS))]
    for p in PROTO + tuple(ROTATION):
        out.append(("logistic: general + " + p, logistic(data, SHIPPED + [p])))
    out.append(("logistic: general + nimp2 + over", logistic(data, SHIPPED + ["nimp2", "over"])))
    for l2 in (0.3, 3.0):
        out.append(("logistic: general, L2 %g" % l2, logistic(data, SHIPPED, l2)))
    out.append(("stumps 20 x 0.3: general features", stumps(data, SHIPPED)))
    out.append(("stumps 40 x 0.3: general features", stumps(data, SHIPPED, 40)))
    out.append(("stumps 50 x 0.1: general features", stumps(data, SHIPPED, 50, 0.1)))
    out.append(("logistic: general + firmware rotation features", logistic(data, SHIPPED + ROTATION)))
    for rounds, lr in ((20, 0.3), (40, 0.3), (50, 0.1)):
        out.append(("stumps %d x %g: general + firmware rotation features" % (rounds, lr),
                    stumps(data, SHIPPED + ROTATION, rounds, lr)))
    out.append(("stumps 20 x 0.3: general + all prototypes", stumps(data, SHIPPED + list(PROTO))))
    out.append(("logistic OR expert with the general features only", experts(data, SHIPPED, SHIPPED)))
    out.append(("logistic OR expert + over only", experts(data, SHIPPED, SHIPPED + ["over"])))
    out.append(("logistic OR expert + all prototypes", experts(data, SHIPPED, EXPERT + list(PROTO))))
    out.append(("logistic OR expert, L2 10", experts(data, l2=10.0)))
    return out


def _objective(m):
    return m["detected"] - fall_train.FA_WEIGHT * m["adl_trials_with_alarm"]


def nested(data, menu):
    """Honest estimate of 'pick the variant with the best LOSO objective': for each outer subject,
    the menu is ranked by LOSO over the other subjects only, the winner is retrained on them and
    applied to the outer subject."""
    subs = sorted(set(data.subject))
    trials, alarms, picks = [], [], {}
    for s in subs:
        inner = [t for t in subs if t != s]
        name, fitter = max(menu, key=lambda v: _objective(data.held_out(v[1], inner)))
        picks[s] = name
        trials += [ld for ld in data.loaded if ld.trial.subject == s]
        alarms += _alarms_of(data, fitter, s)
    return fall_eval.metrics(trials, alarms, data.rate), picks


def _alarms_of(data, fitter, s):
    decide = fitter(set(i for i, t in enumerate(data.subject) if t != s))
    out = []
    for ti, t in enumerate(data.subject):
        if t != s:
            continue
        out.append([(dn, imp) for (c_ti, imp, _l, f), dn in zip(data.cands, data.decided)
                    if c_ti == ti and decide(f)])
    return out


def run(loaded, rate, params, nested_menu=True):
    data = Data(loaded, rate, params)
    rows = []
    keep = ("detected", "falls", "adl_trials_with_alarm", "adl_trials", "adl_alarms",
            "sensitivity", "specificity", "false_alarms_per_hour")
    all_v = variants(data)
    for name, fitter in all_v:
        m = data.held_out(fitter)
        rows.append(dict([("variant", name)] + [(k, m[k]) for k in keep]))
    out = {"protocol": "leave one subject out, model retrained in every fold", "variants": rows}
    if nested_menu:  # the menu: every logistic / expert variant and the first stump ensemble (cost)
        menu = [v for v in all_v if not v[0].startswith("stumps") or v[0].startswith("stumps 20 x 0.3")]
        res, picks = nested(data, menu)
        out["nested_menu"] = [v[0] for v in menu]
        out["nested_selection"] = dict([(k, res[k]) for k in keep] + [("picked", picks)])
    return out
