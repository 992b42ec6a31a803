"""The button dropped on the floor (issue 24 item 4): the device alone falling from a height onto a hard
floor, then lying still, synthesised from first principles as the LIS3DH at +-8 g would read it, and
what the firmware's detector makes of it.

Physics, at 1 kHz then read out at the device's rate (each output sample the mean of its period, then
clipped to the range, as a sampled low-passed accelerometer):
  held      1 g along the world's up axis in a random orientation, hand tremor (~10 mg)
  free fall sqrt(2h/g) s reading ~0 g: only the centripetal term of its tumble (w^2 r, r = 2 cm from
            the centre of mass, w up to 15 rad/s)
  impacts   speed v = sqrt(2gh) stopped in ~1 ms with restitution e (0.3-0.5): a half-sine pulse of
            area v(1 + e) along the floor's normal (hundreds of g at 1 kHz: saturates the +-8 g range
            at the device's rate), the orientation turned at each, then free flight of 2ev/g s,
            until v < 0.2 m/s
  at rest   1 g in a new, random orientation, the sensor's noise (~3 mg); the LIS3DH's zero-g offset
            (+-40 mg) and gain (+-3 %) per axis throughout.
The bag thrown on a sofa (surface="sofa"), the same with a cushion and a throw:
  throw     0.25 s of the hand pushing the bag: 1 g plus v_h / 0.25 s along a random horizontal
            direction (v_h 0.5-2.5 m/s)
  flight    sqrt(2h/g) s from the hand to the seat, tumbling
  impacts   a cushion: 60-150 ms of contact, restitution 0.05-0.25 (2-10 g at 50 Hz), the
            normal speed's impulse v(1 + e) and, over the same contact, the horizontal speed stopped
            by friction
  at rest   any orientation, as on the floor.
A person lying on the floor after a fall is no quieter than this, and a human fall seldom reads 0 g for
0.45 s: but the frozen detector (docs/fall-detection.md) was not designed on drops, so what it does
with them is measured here, not assumed. `alertbutton fall-eval --drop` prints the figures.
"""
import math
import random

G = 9.80665
RANGE_MG = 8000  # the device's LIS3DH at +-8 g
SIM_HZ = 1000


def _rot(rng):
    """A uniformly random rotation matrix (rows), from a random unit quaternion."""
    u1, u2, u3 = rng.random(), rng.random(), rng.random()
    a = math.sqrt(1 - u1)
    b = math.sqrt(u1)
    q = (a * math.sin(2 * math.pi * u2), a * math.cos(2 * math.pi * u2), b * math.sin(2 * math.pi * u3),
         b * math.cos(2 * math.pi * u3))
    x, y, z, w = q
    return ((1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)),
            (2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)),
            (2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)))


def _body(R, v):
    """World vector v seen in the body frame of orientation R (R maps body to world: R^T v)."""
    return tuple(R[0][k] * v[0] + R[1][k] * v[1] + R[2][k] * v[2] for k in range(3))


SURFACES = ("floor", "sofa")


def synthesise(height_m=1.0, seed=0, rate_hz=50, held_s=3.0, rest_s=8.0, restitution=None, surface="floor"):
    """[(x, y, z)] integer mg at rate_hz: held, dropped from height_m onto a hard floor (or thrown in
    a bag onto a sofa: surface "sofa"), bouncing, then lying still."""
    if not 0.1 <= height_m <= 3.0:
        raise ValueError("height_m must be 0.1..3.0")
    if surface not in SURFACES:
        raise ValueError("surface must be one of %s" % ", ".join(SURFACES))
    sofa = surface == "sofa"
    rng = random.Random(seed)
    e = restitution if restitution is not None else rng.uniform(0.3, 0.5)
    gain = [rng.uniform(0.97, 1.03) for _ in range(3)]
    offset = [rng.uniform(-40, 40) for _ in range(3)]
    up = (0.0, 0.0, 1000.0)  # what an accelerometer at rest reads: 1 g upwards (mg)
    fine = []  # 1 kHz body-frame readings, mg

    def rest(R, secs, noise):
        g = _body(R, up)
        for _ in range(int(secs * SIM_HZ)):
            fine.append(tuple(g[k] + rng.gauss(0, noise) for k in range(3)))

    def flight(secs, w):
        c = w * w * 0.02 / G * 1000.0  # centripetal reading of a sensor 2 cm off the centre (mg)
        d = _body(_rot(rng), (0.0, 0.0, 1.0))
        for _ in range(int(round(secs * SIM_HZ))):
            fine.append(tuple(c * d[k] + rng.gauss(0, 3) for k in range(3)))

    R = _rot(rng)
    rest(R, held_s, 10)
    vh = 0.0
    if sofa:  # the throw: the hand pushes the bag sideways for 0.25 s, then lets go
        # (e is drawn again here, after the floor's draws, so that floor drops keep their traces)
        e = restitution if restitution is not None else rng.uniform(0.05, 0.25)
        vh = rng.uniform(0.5, 2.5)
        phi = rng.uniform(0, 2 * math.pi)
        push = (math.cos(phi), math.sin(phi), 0.0)
        a_mg = vh / 0.25 / G * 1000.0
        for _ in range(int(0.25 * SIM_HZ)):
            g = _body(R, (a_mg * push[0], a_mg * push[1], 1000.0))
            fine.append(tuple(g[k] + rng.gauss(0, 10) for k in range(3)))
    v = math.sqrt(2 * G * height_m)
    flight(math.sqrt(2 * height_m / G), rng.uniform(0, 15))
    while v >= 0.2:
        R = _rot(rng)  # each impact turns it
        dv = v * (1 + e)
        if sofa:
            tau = rng.uniform(0.06, 0.15)  # a cushion: tens of milliseconds of contact
            phi = rng.uniform(0, 2 * math.pi)
        else:
            tau = 0.001 * rng.uniform(0.7, 1.5)  # hard floor: about a millisecond of contact
        n = max(1, int(round(tau * SIM_HZ)))
        # half-sine pulse of area dv over n steps of 1 ms, along the surface's normal (up); on a
        # cushion, friction stops the horizontal speed vh over the same contact
        area = sum(math.sin(math.pi * (k + 0.5) / n) for k in range(n)) / SIM_HZ
        for k in range(n):
            pulse = math.sin(math.pi * (k + 0.5) / n) / area / G * 1000.0
            a = dv * pulse + 1000.0  # + gravity (surface contact)
            h = vh * pulse if sofa else 0.0
            g = _body(R, (h * math.cos(phi), h * math.sin(phi), a) if sofa else (0.0, 0.0, a))
            fine.append(tuple(g[j] + rng.gauss(0, 3) for j in range(3)))
        vh = 0.0
        v *= e
        if v >= 0.2:
            flight(2 * v / G, rng.uniform(0, 10))
    R = _rot(rng)  # where it came to rest: any orientation
    rest(R, rest_s, 3)
    step = SIM_HZ // rate_hz
    out = []
    for i in range(0, len(fine) - step + 1, step):
        block = fine[i:i + step]
        s = []
        for k in range(3):
            m = sum(b[k] for b in block) / step * gain[k] + offset[k]
            s.append(int(round(max(-RANGE_MG, min(RANGE_MG, m)))))
        out.append(tuple(s))
    return out


def write_trace(path, samples):
    """The simulator's accelerometer trace format: one "x y z" line in mg per 50 Hz sample."""
    with open(path, "w") as f:
        for x, y, z in samples:
            f.write("%d %d %d\n" % (x, y, z))


def _code(height, surface):
    return ("DROP%.1fm" if surface == "floor" else "SOFA%.1fm") % height


class _Trial:
    is_fall = False

    def __init__(self, height, seed, surface="floor"):
        self.code = _code(height, surface)
        self.subject = "drop"
        self.trial = seed
        self.path = "%s_%.1fm_%d" % ("drop" if surface == "floor" else "sofa", height, seed)


SOFA_HEIGHTS = (0.3, 0.6, 0.9)  # from the hand to the seat


def measure(heights=(0.5, 1.0, 1.5), per_height=40, rate=50, surface="floor"):
    """The firmware's detector (shipped model) over synthesised drops (or bags thrown on a sofa), in
    the VM: how many it confirms as falls, per height, and when (seconds after the first impact)."""
    from alertbutton.falls import evaluate, mobifall
    loaded = []
    for h in heights:
        for s in range(per_height):
            samples = synthesise(h, seed=1000 * int(h * 10) + s, rate_hz=rate, surface=surface)
            loaded.append(evaluate.Loaded(_Trial(h, s, surface), samples, len(samples), mobifall.impact_index(samples)))
    alarms, _decisions, _cpu = evaluate.run_vm(loaded, rate, {})
    out = {"rate_hz": rate, "model": "shipped (firmware/fall/model.py)", "surface": surface, "per_height": {}}
    for h in heights:
        got = [(ld, a) for ld, a in zip(loaded, alarms) if ld.trial.code == _code(h, surface)]
        fired = [(ld, a) for ld, a in got if a]
        out["per_height"]["%.1f m" % h] = {
            "drops": len(got), "confirmed_as_fall": len(fired),
            "fraction": round(len(fired) / float(len(got)), 3),
            "decision_after_impact_s": sorted(set(round((a[0][0] - ld.impact) / float(rate), 2) for ld, a in fired))}
    out["drops"] = len(loaded)
    out["confirmed_as_fall"] = sum(1 for a in alarms if a)
    return out
