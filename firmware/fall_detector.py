# Streaming fall detector: impact -> (settle) -> posture change + stillness, one call per sample.
#
# Hot path in integer milli-g only: on MicroPython (unix and ESP32 ports) every float result is a heap
# object, so update() never touches a float and never allocates (proved under heap_lock in
# tests/device/test_fall_detector.py). Samples go into preallocated int16 rings; the features are
# computed once per candidate, at the decision instant, from those rings.
#
# Method (details, literature and figures: docs/fall-detection.md):
#   1. trigger: |a| > trigger_mg (sum vector magnitude, Kangas 2008 / Bourke 2007 upper threshold);
#      the strongest peak within impact_ms of the trigger is the impact.
#   2. decision decide_ms after that impact, from four orientation-independent features:
#      peak    |a| at the impact (mg)                              >= peak_mg
#      swing   largest change of the smoothed acceleration vector
#              within 0.2 s, impact +-1 s (a tumbling body)         >= swing_mg
#      posture angle between gravity before the trigger and over
#              the last still_ms (posture change)                   >= posture_deg
#      still   mean | |a| - 1 g | over the last still_ms (lying)   <= still_mg
#   3. confirmed -> EV_FALL once, then holdoff_ms without new alarms.
# A stronger impact seen while checking is not lost: if the first candidate is rejected, it
# becomes the next candidate.
import array

try:
    from micropython import const
except ImportError:  # CPython (host tools import this same module)
    def const(x):
        return x

# update() return codes
EV_NONE = const(0)
EV_IMPACT = const(1)  # trigger crossed: a candidate starts (reported on the trigger sample)
EV_FALL = const(2)  # fall confirmed (once per fall)
EV_REJECT = const(3)  # candidate checked and rejected

# phase attribute
PH_IDLE = const(0)
PH_IMPACT = const(1)  # tracking the impact peak
PH_CHECK = const(2)  # waiting for the decision instant
PH_FALL = const(3)  # confirmed, hold-off

# indices in FallDetector.features (values of the last decision)
F_PEAK = const(0)
F_SWING = const(1)
F_POSTURE = const(2)
F_STILL = const(3)
N_FEATURES = const(4)

_ONE_G = const(1000)
_M2_MAX = const(16000 * 16000)  # |a| beyond 16 g is clamped (int16 rings, small-int products)
_NMASK = const(0x1FFFFFFF)  # sample counter wraps well inside MicroPython small ints
_LP_WARM = const(16)  # samples of smoothing run-in before the swing window
_COS_ONE = const(1024)


def _build_cos_table():
    # cos(deg) * 1024 for 0..180 deg, built once at import (floats allowed here, not in update())
    import math
    return tuple(int(round(math.cos(math.radians(d)) * _COS_ONE)) for d in range(181))


_COS = _build_cos_table()


def isqrt(n):
    """Integer square root (floor) of 0 <= n < 2**30, small-int arithmetic only."""
    if n <= 0:
        return 0
    # start at a power of two >= sqrt(n) (Newton then decreases monotonically); |a| near 1 g
    # needs 2-3 steps
    if n < 1048576:
        x = 1024
    elif n < 4194304:
        x = 2048
    elif n < 16777216:
        x = 4096
    elif n < 67108864:
        x = 8192
    else:
        x = 32768
    while True:
        y = (x + n // x) >> 1
        if y >= x:
            return x
        x = y


def angle_deg(ux, uy, uz, vx, vy, vz):
    """Angle in whole degrees between two integer vectors (0 if either is null)."""
    nu = isqrt(ux * ux + uy * uy + uz * uz)
    nv = isqrt(vx * vx + vy * vy + vz * vz)
    if nu == 0 or nv == 0:
        return 0
    # normalise to length 1024 first so the dot product stays a small int
    c = ((ux * _COS_ONE // nu) * (vx * _COS_ONE // nv) + (uy * _COS_ONE // nu) * (vy * _COS_ONE // nv)
         + (uz * _COS_ONE // nu) * (vz * _COS_ONE // nv)) // _COS_ONE
    lo, hi = 0, 180  # first angle whose cosine is <= c (table decreases)
    while lo < hi:
        mid = (lo + hi) >> 1
        if _COS[mid] <= c:
            hi = mid
        else:
            lo = mid + 1
    return lo


class FallDetector:
    """Streaming fall detector. Feed update(x, y, z) once per sample at rate_hz with the
    acceleration in integer milli-g (1000 = 1 g, gravity included, any orientation, |axis| <= 16 g).

    Defaults are the values tuned on the MobiFall tuning subjects at 50 Hz (docs/fall-detection.md):
      trigger_mg=1600   |a| that starts a candidate
      peak_mg=2100      minimum impact peak |a|
      swing_mg=700      minimum change of the smoothed acceleration vector within 0.2 s
      posture_deg=30    minimum angle between gravity before and after
      still_mg=80       maximum mean | |a| - 1 g | over the last still_ms before the decision
      decide_ms=2500    decision delay after the impact peak (the alarm latency)
      impact_ms=1000    window after the trigger in which the peak may still grow
      still_ms=1000     stillness / resting-gravity window, ending at the decision
      pre_ms=1000       gravity before the trigger: mean over [-pre_ms, -pre_ms/2]
      holdoff_ms=10000  no new alarm this long after one
    State for display: phase (PH_*), impact_n (sample index of the last impact peak), n (index
    of the last sample), decided_n, features (last decision), impact_age_ms()."""

    PHASE_NAMES = ("idle", "impact", "check", "fall")

    def __init__(self, rate_hz=50, trigger_mg=1600, peak_mg=2100, swing_mg=700, posture_deg=30,
                 still_mg=80, decide_ms=2500, impact_ms=1000, still_ms=1000, pre_ms=1000,
                 holdoff_ms=10000):
        if not 10 <= rate_hz <= 400:
            raise ValueError("rate_hz must be 10..400")
        if not 1100 <= trigger_mg <= 16000:
            raise ValueError("trigger_mg must be 1100..16000")
        if not 0 <= peak_mg <= 16000 or not 0 <= swing_mg <= 32000 or not 0 <= still_mg <= 16000:
            raise ValueError("peak_mg, swing_mg, still_mg out of range")
        if not 0 <= posture_deg <= 180:
            raise ValueError("posture_deg must be 0..180")
        if not (100 <= still_ms < decide_ms <= 10000 and 0 < impact_ms <= 5000 and 0 < pre_ms <= 5000
                and holdoff_ms >= 0):
            raise ValueError("need 100 <= still_ms < decide_ms <= 10000, 0 < impact_ms, pre_ms <= 5000")
        if decide_ms < 1000 + 200 + 1000 // rate_hz:
            raise ValueError("decide_ms must leave 1.2 s after the impact for the swing window")
        self.rate_hz = rate_hz
        self.trigger_mg = trigger_mg
        self.peak_mg = peak_mg
        self.swing_mg = swing_mg
        self.posture_deg = posture_deg
        self.still_mg = still_mg
        self.decide_ms = decide_ms
        self.impact_ms = impact_ms
        self.still_ms = still_ms
        self.pre_ms = pre_ms
        self.holdoff_ms = holdoff_ms
        r = rate_hz
        self._trig2 = trigger_mg * trigger_mg
        self._dec = decide_ms * r // 1000  # samples from impact peak to decision
        self._win = max(1, impact_ms * r // 1000)  # samples after trigger where the peak may grow
        self._still_n = max(1, still_ms * r // 1000)
        self._pre_n = max(2, pre_ms * r // 1000)
        self._sw_n = max(1, r // 5)  # swing span: 0.2 s
        self._sw_side = r  # swing window: impact +- 1 s
        # swing smoothing alpha = 2**-shift: 1/8 at 50 Hz, same ~0.16 s time constant at any rate
        shift = 1
        while (r >> (shift + 1)) >= 6:
            shift += 1
        self._lp_shift = shift
        self._hold_n = holdoff_ms * r // 1000
        need = max(self._win + self._dec + self._pre_n, self._dec + self._sw_side + _LP_WARM) + 2
        size = 16
        while size < need:
            size <<= 1
        self._size = size
        self._mask = size - 1
        self._bx = array.array("h", [0] * size)
        self._by = array.array("h", [0] * size)
        self._bz = array.array("h", [0] * size)
        sw = self._sw_n + 1
        self._lx = array.array("i", [0] * sw)
        self._ly = array.array("i", [0] * sw)
        self._lz = array.array("i", [0] * sw)
        self.features = array.array("i", [0] * N_FEATURES)
        self.reset()

    def reset(self):
        """Forget the past (new wearer, new recording); keeps the buffers."""
        self.phase = PH_IDLE
        self.n = _NMASK  # index of the last sample (wraps); first update() makes it 0
        self.impact_n = -1  # sample index of the last impact peak (-1: none yet)
        self.last_peak_mg = 0
        self.decisions = 0
        self.decided_n = -1  # impact sample index the last decision was about
        self._i = self._mask
        self._fill = 0
        self._t0 = 0
        self._imp = 0
        self._pk2 = 0
        self._wleft = 0
        self._dleft = 0
        self._hold = 0
        self._sec = -1
        self._sec2 = 0
        self._sec_n = 0
        for k in range(N_FEATURES):
            self.features[k] = 0

    def update(self, x, y, z):
        """One sample, integer milli-g. Returns EV_NONE, EV_IMPACT, EV_FALL or EV_REJECT."""
        m2 = x * x + y * y + z * z
        if m2 > _M2_MAX:  # keep ring values and products in range (rare path)
            x = -16000 if x < -16000 else (16000 if x > 16000 else x)
            y = -16000 if y < -16000 else (16000 if y > 16000 else y)
            z = -16000 if z < -16000 else (16000 if z > 16000 else z)
            m2 = _M2_MAX
        i = (self._i + 1) & self._mask
        self._i = i
        self._bx[i] = x
        self._by[i] = y
        self._bz[i] = z
        self.n = (self.n + 1) & _NMASK
        if self._fill < self._size:
            self._fill += 1
        ph = self.phase
        if ph == PH_IDLE:
            if m2 > self._trig2:
                self._begin(i, m2, self.n, 0)
                return EV_IMPACT
            return EV_NONE
        if ph == PH_FALL:
            self._hold -= 1
            if self._hold <= 0:
                self.phase = PH_IDLE
            return EV_NONE
        if ph == PH_IMPACT:
            if m2 > self._pk2:  # the impact grows: decision counts from the strongest peak
                self._imp = i
                self._pk2 = m2
                self.impact_n = self.n
                self._dleft = self._dec + 1  # decremented below on this same sample
            self._wleft -= 1
            if self._wleft <= 0:
                self.phase = PH_CHECK
        elif m2 > self._sec2:  # a later, separate impact: next candidate if this one is rejected
            self._sec = i
            self._sec2 = m2
            self._sec_n = self.n
        self._dleft -= 1
        if self._dleft <= 0:
            return self._decide()
        return EV_NONE

    def update_g(self, x, y, z):
        """Convenience for float input in g (allocates floats: not for the device's hot path)."""
        return self.update(int(x * 1000), int(y * 1000), int(z * 1000))

    def impact_age_ms(self):
        """Milliseconds since the last impact peak, or -1 if none."""
        if self.impact_n < 0:
            return -1
        return ((self.n - self.impact_n) & _NMASK) * 1000 // self.rate_hz

    def accept(self, f=None):
        """The decision rule on a feature vector (default: the last decision's features)."""
        if f is None:
            f = self.features
        return (f[F_PEAK] >= self.peak_mg and f[F_SWING] >= self.swing_mg
                and f[F_POSTURE] >= self.posture_deg and f[F_STILL] <= self.still_mg)

    def _begin(self, idx, m2, n, elapsed):
        # new candidate whose peak is at ring index idx, `elapsed` samples ago
        self.phase = PH_IMPACT if elapsed < self._win else PH_CHECK
        self._t0 = idx
        self._imp = idx
        self._pk2 = m2
        self.impact_n = n
        self._wleft = self._win - elapsed
        self._dleft = self._dec - elapsed
        self._sec = -1
        self._sec2 = self._trig2

    def _decide(self):
        self._features()
        self.decisions += 1
        self.decided_n = self.impact_n  # impact_n moves on if a later impact is examined next
        if self.accept():
            self.phase = PH_FALL
            self._hold = self._hold_n
            if self._hold <= 0:
                self.phase = PH_IDLE
            return EV_FALL
        if self._sec >= 0:  # re-examine the strongest later impact instead of dropping it
            self._begin(self._sec, self._sec2, self._sec_n, (self._i - self._sec) & self._mask)
            if self._dleft <= 0:
                self._dleft = 1
        else:
            self.phase = PH_IDLE
        return EV_REJECT

    def _features(self):
        bx = self._bx
        by = self._by
        bz = self._bz
        mask = self._mask
        i = self._i
        f = self.features
        peak = isqrt(self._pk2)
        self.last_peak_mg = peak
        f[F_PEAK] = peak
        # stillness and resting gravity over the last still_n samples
        n = self._still_n
        s = sx = sy = sz = 0
        k = i
        for _ in range(n):
            x = bx[k]
            y = by[k]
            z = bz[k]
            d = isqrt(x * x + y * y + z * z) - _ONE_G
            s += d if d >= 0 else -d
            sx += x
            sy += y
            sz += z
            k = (k - 1) & mask
        f[F_STILL] = s // n
        # gravity before the trigger: ages [t0 + pre/2, t0 + pre], clipped to the samples we have
        age_t0 = (i - self._t0) & mask
        oldest = self._fill - 1
        a_old = age_t0 + self._pre_n
        if a_old > oldest:
            a_old = oldest
        a_new = age_t0 + (self._pre_n >> 1)
        if a_new > a_old:
            a_new = a_old
        cnt = a_old - a_new + 1
        px = py = pz = 0
        k = (i - a_old) & mask
        for _ in range(cnt):
            px += bx[k]
            py += by[k]
            pz += bz[k]
            k = (k + 1) & mask
        f[F_POSTURE] = angle_deg(px // cnt, py // cnt, pz // cnt, sx // n, sy // n, sz // n)
        f[F_SWING] = self._swing(oldest)

    def _swing(self, oldest):
        # max |lp[k] - lp[k - span]| over impact +- 1 s, lp = acceleration smoothed with alpha 1/8
        # (x8 fixed point). Large when the body tumbles; small for a bump while sitting down.
        bx = self._bx
        by = self._by
        bz = self._bz
        mask = self._mask
        lx = self._lx
        ly = self._ly
        lz = self._lz
        span = self._sw_n
        sh = self._lp_shift
        age_imp = (self._i - self._imp) & mask
        a_win = age_imp + self._sw_side  # oldest age of the window
        a0 = a_win + _LP_WARM  # smoothing starts a little earlier
        if a0 > oldest:
            a0 = oldest
        a1 = age_imp - self._sw_side  # newest age of the window
        if a1 < 0:
            a1 = 0
        k = (self._i - a0) & mask
        gx = bx[k] << sh
        gy = by[k] << sh
        gz = bz[k] << sh
        best = 0
        j = 0  # slot in the (span + 1) history of smoothed vectors
        age = a0
        while age >= a1:
            gx += bx[k] - (gx >> sh)
            gy += by[k] - (gy >> sh)
            gz += bz[k] - (gz >> sh)
            lx[j] = gx
            ly[j] = gy
            lz[j] = gz
            old = j + 1
            if old > span:
                old = 0
            if age <= a_win and a0 - age >= span:
                dx = _clamp16((gx - lx[old]) >> sh)
                dy = _clamp16((gy - ly[old]) >> sh)
                dz = _clamp16((gz - lz[old]) >> sh)
                d2 = dx * dx + dy * dy + dz * dz
                if d2 > best:
                    best = d2
            j = old
            k = (k + 1) & mask
            age -= 1
        return isqrt(best)


def _clamp16(v):
    return -16000 if v < -16000 else (16000 if v > 16000 else v)
