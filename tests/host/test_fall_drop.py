"""The button dropped on the floor (issue 24 item 4): a drop synthesised from first principles
(tools/alertbutton/falls/drop.py) is physically what it claims to be, and on the simulated board
(its LIS3DH FIFO, the firmware's monitor) what the product does with it is the documented one: the
detector takes it for a fall, the prompt starts the cancel window, one press cancels and sends
nothing; left alone, "Chute détectée" goes to the contacts when the window ends."""
import math

from gsmmodem.pdu import decodeSmsPdu

from alertbutton.falls import drop
from alertbutton.sim.run import run_scenario

from test_fall_e2e import names, scenario


def _mag(s):
    return [math.sqrt(x * x + y * y + z * z) for x, y, z in s]


def test_a_synthesised_drop_is_free_fall_impact_rest():
    for seed in range(5):
        s = drop.synthesise(1.0, seed=seed, held_s=3.0, rest_s=8.0)
        m = _mag(s)
        # held: 1 g (within the sensor's gain and offset)
        assert all(900 < v < 1100 for v in m[:140]), seed
        # free fall from 1 m: sqrt(2 h / g) = 0.45 s under 0.3 g before the first impact
        first = next(i for i, v in enumerate(m) if v > 2000)
        ff = sum(1 for v in m[140:first] if v < 300)
        assert abs(ff - 0.4515 * 50) <= 2, (seed, ff)
        # the first impact saturates the +-8 g range on some axis, bounces follow within a second
        assert max(max(abs(c) for c in xyz) for xyz in s[first:first + 2]) == drop.RANGE_MG
        assert sum(1 for v in m[first:first + 50] if v > 2000) >= 2
        # at rest: 1 g again, still (the noise of a sensor on a floor), in another orientation
        tail = s[-300:]
        assert all(900 < v < 1100 for v in _mag(tail))
        assert max(_mag(tail)) - min(_mag(tail)) < 60
    # the orientation at rest is anything: the 5 drops end with gravity on different axes
    ends = [max(range(3), key=lambda k: abs(drop.synthesise(1.0, seed=s)[-1][k])) for s in range(12)]
    assert len(set(ends)) == 3
    # a 1.5 m drop falls longer
    m = _mag(drop.synthesise(1.5, seed=0))
    first = next(i for i, v in enumerate(m) if v > 2000)
    assert abs(sum(1 for v in m[140:first] if v < 300) - math.sqrt(3.0 / drop.G) * 50) <= 2


def test_a_bag_thrown_on_a_sofa_is_a_push_a_flight_and_a_soft_landing():
    for seed in range(5):
        s = drop.synthesise(0.6, seed=seed, held_s=3.0, rest_s=8.0, surface="sofa")
        m = _mag(s)
        assert all(900 < v < 1100 for v in m[:140]), seed  # held
        # the throw: the hand pushes it sideways (0.2-1 g on top of gravity) for 0.25 s
        mean = [sum(xyz[k] for xyz in s[100:140]) / 40.0 for k in range(3)]
        dev = [math.sqrt(sum((xyz[k] - mean[k]) ** 2 for k in range(3))) for xyz in s[100:162]]
        assert max(dev[:40]) < 60 and min(dev[50:62]) > 150, (seed, max(dev[:40]), min(dev[50:62]))
        first = next(i for i, v in enumerate(m) if v > 1600)
        ff = sum(1 for v in m[150:first] if v < 300)  # flight from 0.6 m: sqrt(2 h / g) = 0.35 s
        assert abs(ff - math.sqrt(1.2 / drop.G) * 50) <= 2, (seed, ff)
        # a cushion, not a floor: the landing lasts several samples above 1.5 g
        assert sum(1 for v in m[first:first + 10] if v > 1500) >= 2, seed
        tail = s[-300:]  # then still at 1 g, in any orientation
        assert all(900 < v < 1100 for v in _mag(tail)) and max(_mag(tail)) - min(_mag(tail)) < 60
    # a lower throw lands softer than a floor drop from the same height, which saturates the range
    soft = max(max(abs(c) for c in xyz) for xyz in drop.synthesise(0.3, seed=0, surface="sofa"))
    hard = max(max(abs(c) for c in xyz) for xyz in drop.synthesise(0.3, seed=0))
    assert soft < hard == drop.RANGE_MG
    try:
        drop.synthesise(0.6, surface="bed")
        assert False, "an unknown surface must be refused"
    except ValueError as e:
        assert "floor" in str(e) and "sofa" in str(e)


def _drop_trace(tmp_path, seed=1):
    path = str(tmp_path / "drop_1m.txt")
    drop.write_trace(path, drop.synthesise(1.0, seed=seed))
    return path


def test_dropped_button_left_alone_alerts_after_the_cancel_window(tmp_path):
    run = run_scenario(scenario(_drop_trace(tmp_path), duration=16), tmp_path / "run", stop_when_done=False)
    ev = names(run)
    assert "fall_detected" in ev and "fall_cancelled" not in ev
    t_fall = [e["t"] for e in run.events if e["event"] == "fall_detected"][0]
    trig = [e for e in run.events if e["event"] == "trigger"]
    assert len(trig) == 1 and trig[0]["source"] == "fall" and 2.8 <= trig[0]["t"] - t_fall <= 4.0
    assert len(run.sms) == 5
    assert all("Chute détectée" in decodeSmsPdu(s["pdu"])["text"] for s in run.sms)


def test_dropped_button_picked_up_and_pressed_sends_nothing(tmp_path):
    trace = _drop_trace(tmp_path)
    probe = run_scenario(scenario(trace, duration=9), tmp_path / "probe", stop_when_done=False)
    t_fall = [e["t"] for e in probe.events if e["event"] == "fall_detected"][0]
    run = run_scenario(scenario(trace, events=[{"t": t_fall + 1.0, "gesture": "press"}]), tmp_path / "run",
                       stop_when_done=False)
    ev = names(run)
    assert "fall_detected" in ev and "fall_cancelled" in ev and "trigger" not in ev
    assert run.sms == []
