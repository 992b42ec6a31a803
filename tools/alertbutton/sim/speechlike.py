"""A deterministic speech-like test signal (stdlib only), for the evidence tests and demos.

Not speech, but it has what matters to an ADPCM coder: a glottal pulse train with a moving pitch
(90-260 Hz, jitter, rising and falling contours) through three formant resonators that glide
between vowels, noisy fricatives and plosive bursts, syllabic loudness changes, louder shouted
phrases and pauses. Seeded, so the same file comes out on every run."""
import math
import random
import struct
import wave

RATE = 8000
# (F1, F2, F3) Hz of a few vowels (classic averages for adult speakers)
VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410),
          (660, 1720, 2410), (440, 1020, 2240))


class _Resonator:
    def __init__(self):
        self.y1 = self.y2 = 0.0

    def step(self, x, f, bw, rate=RATE):
        r = math.exp(-math.pi * bw / rate)
        b1 = 2 * r * math.cos(2 * math.pi * f / rate)
        b2 = -r * r
        y = (1 - b1 - b2) * x + b1 * self.y1 + b2 * self.y2  # unity gain at 0 Hz (Klatt-style)
        self.y2, self.y1 = self.y1, y
        return y


def _segments(seconds, rng):
    """(kind, duration_s, params) until `seconds` are covered."""
    out = []
    t = 0.0
    shout = False
    while t < seconds:
        if rng.random() < 0.12:
            seg = [("pause", rng.uniform(0.08, 0.5), None)]
            shout = rng.random() < 0.25  # the next phrase is shouted
        else:
            seg = []
            r = rng.random()
            if r < 0.35:
                seg.append(("fricative", rng.uniform(0.06, 0.14), rng.uniform(2200, 3600)))
            elif r < 0.5:
                seg.append(("burst", rng.uniform(0.015, 0.03), None))
            seg.append(("vowel", rng.uniform(0.09, 0.28), (rng.choice(VOWELS), shout)))
        out += seg
        t += sum(s[1] for s in seg)
    return out


def _glottal(p):
    """Rosenberg glottal pulse over one period (phase 0..1): opening, closing, closed."""
    if p < 0.4:
        return 0.5 * (1 - math.cos(math.pi * p / 0.4))
    if p < 0.56:
        return math.cos(math.pi * (p - 0.4) / 0.32)
    return 0.0


def generate(seconds, seed=1, rate=RATE, peak=0.6):
    """int16 samples (a list) of `seconds` of speech-like sound."""
    rng = random.Random(seed)
    res = [_Resonator(), _Resonator(), _Resonator()]
    noise_res = _Resonator()
    n_total = int(seconds * rate)
    out = []
    formants = list(VOWELS[0])
    phase = 0.0
    prev_g = 0.0
    f0_base = rng.uniform(110, 200)
    for kind, dur, par in _segments(seconds, rng):
        n = int(dur * rate)
        seg = []
        if kind == "vowel":
            target, shout = par
            contour = rng.uniform(-0.3, 0.3)
        for i in range(n):
            env = math.sin(math.pi * (i + 0.5) / n) ** 0.6  # rises and falls within the segment
            x = 0.0
            if kind == "vowel":
                for k in range(3):  # glide towards the vowel (coarticulation)
                    formants[k] += (target[k] - formants[k]) * 0.004
                f0 = f0_base * (1 + contour * (i / n - 0.5)) * (1.25 if shout else 1.0)
                f0 *= 1 + 0.01 * (rng.random() - 0.5)  # jitter
                phase += f0 / rate
                if phase >= 1.0:
                    phase -= 1.0
                g = _glottal(phase)
                x = g - prev_g  # radiation at the lips: a first difference
                prev_g = g
                for k, r in enumerate(res):
                    x = r.step(x, formants[k], 60 + 40 * k)
            elif kind == "fricative":
                x = noise_res.step(rng.uniform(-1, 1), par, 900)
            elif kind == "burst":
                x = rng.uniform(-1, 1)
            seg.append(x * env)
        # loudness by kind: vowels loudest (shouts x2.5), fricatives ~12 dB below, bursts in between
        level = {"vowel": 2.5 if kind == "vowel" and par[1] else 1.0, "fricative": 0.25, "burst": 0.5,
                 "pause": 0.0}[kind] * rng.uniform(0.6, 1.2)
        rms = math.sqrt(sum(v * v for v in seg) / len(seg)) if seg else 0.0
        g = level / rms if rms > 0 else 0.0
        out += [v * g for v in seg]
        if len(out) >= n_total:
            break
        if rng.random() < 0.1:
            f0_base = rng.uniform(90, 220)
    out = out[:n_total] + [0.0] * (n_total - len(out))
    top = max(abs(v) for v in out) or 1.0
    k = peak * 32767 / top
    return [max(-32768, min(32767, int(round(v * k)))) for v in out]


def write_wav(path, samples, rate=RATE):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<%dh" % len(samples), *samples))


def read_wav(path):
    """(samples, rate) of a PCM 16-bit mono WAV."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("%s: needs PCM 16-bit mono" % path)
        n = w.getnframes()
        return list(struct.unpack("<%dh" % n, w.readframes(n))), w.getframerate()


if __name__ == "__main__":
    import sys
    write_wav(sys.argv[1], generate(float(sys.argv[2]) if len(sys.argv) > 2 else 8.0))


def find_lag(ref, test, frame=64, probe_s=0.5, rate=RATE):
    """Offset L such that test[j] ~ ref[(L + j) % len(ref)] (ref plays in a loop): a coarse search on
    frame energies, then sample by sample around the best few candidates by correlation."""
    n = len(ref)
    nf = n // frame
    e_ref = [sum(v * v for v in ref[i * frame:(i + 1) * frame]) ** 0.5 for i in range(nf)]
    m = min(len(test) // frame, int(probe_s * 6 * rate) // frame)
    e_test = [sum(v * v for v in test[i * frame:(i + 1) * frame]) ** 0.5 for i in range(m)]
    scores = []
    for lag in range(nf):
        s = 0.0
        for i in range(m):
            s += e_ref[(lag + i) % nf] * e_test[i]
        scores.append((s, lag))
    scores.sort(reverse=True)
    probe = test[:int(probe_s * rate)]
    best = None
    for _, lagf in scores[:3]:
        for lag in range(lagf * frame - frame, lagf * frame + frame):
            c = 0
            for j, v in enumerate(probe):
                c += v * ref[(lag + j) % n]
            if best is None or c > best[0]:
                best = (c, lag % n)
    return best[1]


def snr_db(ref, test, lag):
    """SNR of test against ref (looped) at offset lag, over the whole of test."""
    n = len(ref)
    sig = err = 0
    for j, v in enumerate(test):
        r = ref[(lag + j) % n]
        sig += r * r
        err += (r - v) * (r - v)
    import math
    return float("inf") if err == 0 else 10 * math.log10(sig / err)
