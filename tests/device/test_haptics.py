# Haptic codes: every code the wearer must tell apart has its own felt shape.
import asyncio

from drivers.vibrator import Vibrator
from firmware.wearer import haptics

REQUIRED = ("GESTURE_SEEN", "SENT_ALL", "ACKNOWLEDGED", "FAILED", "NO_NETWORK", "CANCEL", "DURESS_CANCEL",
            "NOT_CONFIGURED", "CHECKIN_DUE", "CHECKIN_OK", "FALL_PROMPT")


def codes():
    out = {}
    for name in dir(haptics):
        v = getattr(haptics, name)
        if name.isupper() and isinstance(v, tuple):
            out[name] = v
    return out


def ons(p):
    return [p[i] for i in range(0, len(p), 2)]


def offs(p):
    return [p[i] for i in range(1, len(p), 2)]


def feel(p):
    """What a wrist can tell apart: the number of pulses and each one short, medium or long."""
    return tuple("S" if on < 150 else ("M" if on <= 450 else "L") for on in ons(p))


def test_required_codes_exist():
    c = codes()
    for name in REQUIRED:
        assert name in c, name


def test_codes_are_playable():
    for name, p in codes().items():
        assert p and len(p) % 2 == 1, name  # ends on a pulse
        assert min(ons(p)) >= 50, name  # shorter pulses are not felt (motor spin-up)
        assert not offs(p) or min(offs(p)) >= 60, name  # gaps long enough to separate pulses
        assert sum(p) <= 4000, name


def test_every_meaning_feels_different():
    c = codes()
    for a, target in haptics.ALIASES.items():
        assert c[a] == c[target], a
    names = sorted(n for n in c if n not in haptics.ALIASES)
    seen = {}
    for n in names:
        f = feel(c[n])
        assert f not in seen, "%s feels like %s: %r" % (n, seen.get(f), f)
        seen[f] = n
    assert len(seen) == len(names) >= 10


def test_duress_cancel_starts_like_cancel_then_differs_after_a_pause():
    c, d = haptics.CANCEL, haptics.DURESS_CANCEL
    assert d[:len(c)] == c and len(d) > len(c)
    assert d[len(c)] >= 500  # felt as a separate, later tick, not as part of the cancel


async def test_vibrator_plays_the_pattern_on_the_pin():
    class Pin:
        def __init__(self):
            self.levels = []

        def value(self, v):
            self.levels.append(v)
    pin = Pin()
    v = Vibrator(pin)
    short = tuple(max(1, x // 50) for x in haptics.DURESS_CANCEL)  # same shape, 50x faster
    v.play(short)
    await asyncio.sleep_ms(sum(short) + 50)
    assert pin.levels == [0, 1, 0, 1, 0, 1, 0], pin.levels
