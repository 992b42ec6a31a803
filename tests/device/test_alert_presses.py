# Presses after an alert never cancel or tag it by accident (issue 20 item 3): the real ISR and
# recogniser (tests/device/button_bench.py) and the real WearerGestures (cancel/duress), the alert
# made with the default gesture, then the wearer hammering: bursts of 4-12 presses 150-400 ms apart
# at many offsets after the trigger (from the gesture's own last press on). The alert is never
# stopped nor tagged "sous contrainte", and nothing that feels like a cancel is played; the
# deliberate cancel (hold 5 s, then the cancel taps) and duress (hold, then 2 taps) still work.
from button_bench import ButtonBench, wrap_base
from rng import Rng
from firmware.wearer import haptics
from firmware.wearer.actions import WearerGestures
from firmware.wearer.gestures import DEFAULT_GESTURES


class FakeAlert:
    def __init__(self):
        self.state = "idle"
        self.listeners = []
        self.duress = False
        self.stopped = []
        self.alert_id = 1

    def trigger(self, source, kind="alert"):
        if self.state == "idle":
            self.state = "active"
            for fn in self.listeners:
                fn("triggered", self)

    def stop(self, why, notice=None, skip=-1):  # the AlertManager's signature
        self.stopped.append(why)

    def mark_duress(self):
        self.duress = True


class FakeVibrator:
    def __init__(self):
        self.played = []

    def play(self, pattern):
        self.played.append(pattern)


def rig(seed):
    b = ButtonBench(wrap_base(300 + Rng(seed).below(5000)), latency_ms=1)
    alert, vib = FakeAlert(), FakeVibrator()
    w = WearerGestures({}, lambda *a, **k: None, alert, vib)
    b.logic.on_gesture = lambda action, t: alert.trigger("button")
    b.logic.on_press = w.on_press
    b.logic.on_release = w.on_release

    def after(now):
        w.poll(now)
        return w.wait_ms(now)

    b.after = after
    return b, alert, vib


def taps(rng, start, n, lo, hi, dur_lo=60, dur_hi=200):
    """n presses from start, each start lo..hi ms after the previous, 5 ms of bounce each way."""
    out, t = [], start
    for _ in range(n):
        d = min(dur_lo + rng.below(dur_hi - dur_lo), lo - 40)
        out += [(t, 0), (t + 2, 1), (t + 5, 0), (t + d, 1), (t + d + 3, 0), (t + d + 5, 1)]
        t += lo + rng.below(hi - lo + 1)
    return out, t


def alert_gesture(rng):
    """The default alert gesture as taught: firm taps (it is recognised by the real recogniser)."""
    g = DEFAULT_GESTURES[0]
    return taps(rng, 100, g["presses"], 420, 500, 130, 170)


def test_hammering_after_the_trigger_never_cancels_nor_tags():
    for seed in range(1, 161):
        rng = Rng(seed)
        b, alert, vib = rig(seed)
        tr, t = alert_gesture(rng)
        offset = rng.below(8000) if seed % 4 else rng.below(400)  # a quarter right on the gesture
        bursts = 1 + rng.below(3)
        for _ in range(bursts):
            more, t = taps(rng, t + offset, 4 + rng.below(9), 150, 400)
            tr += more
            offset = rng.below(3000)
        b.run(tr, t + 8000)
        assert alert.state == "active", seed
        assert alert.stopped == [] and not alert.duress, (seed, alert.stopped, alert.duress)
        assert haptics.CANCEL not in vib.played and haptics.DURESS_CANCEL not in vib.played, (seed, vib.played)


def _held(tr, t, ms):
    return tr + [(t, 0), (t + 3, 1), (t + 6, 0), (t + ms, 1), (t + ms + 4, 0), (t + ms + 8, 1)], t + ms + 8


def test_deliberate_cancel_and_duress_still_work():
    for seed in range(1, 21):
        rng = Rng(seed)
        b, alert, vib = rig(seed)
        tr, t = alert_gesture(rng)
        tr, t = _held(tr, t + 1500 + rng.below(3000), 5300 + rng.below(1500))
        more, t = taps(rng, t + 300 + rng.below(2000), 4, 300, 500, 100, 200)  # the cancel count
        b.run(tr + more, t + 5000)
        assert alert.stopped == ["cancel"] and haptics.CANCEL_ASK in vib.played, (seed, alert.stopped, vib.played)
        b, alert, vib = rig(seed)
        tr, t = alert_gesture(rng)
        tr, t = _held(tr, t + 1500, 5300)
        more, t = taps(rng, t + 400, 2, 300, 500, 100, 200)  # the duress count
        b.run(tr + more, t + 5000)
        assert alert.duress and alert.stopped == [] and vib.played[-1] == haptics.DURESS_CANCEL, seed


def test_hammering_after_the_hold_decides_nothing():
    for seed in range(1, 41):
        rng = Rng(seed)
        b, alert, vib = rig(seed)
        tr, t = alert_gesture(rng)
        tr, t = _held(tr, t + 1000, 5500)
        n = 5 + rng.below(8)  # 5..12: never the cancel (4) nor the duress (2) count
        more, t = taps(rng, t + rng.below(1500), n, 150, 400)
        b.run(tr + more, t + 8000)
        assert alert.stopped == [] and not alert.duress, (seed, n)
