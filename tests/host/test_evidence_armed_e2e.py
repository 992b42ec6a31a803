"""The pre-alert ring armed by a gesture, end to end on the simulated board with low power on (issue 21
item 5): the board deep-sleeps, the wearer's arming gesture (hold, let go, 2 taps) wakes it and arms the
ring, time passes with the MCU awake and the microphone on, then the alert gesture fires: the sealed
chunk 0, opened with the association's key, holds the sound before the alert (speech, not silence, no
start-up mark). Without the gesture the same board has no pre-alert sound at all
(tests/host/test_power_sim.py::test_an_alert_from_deep_sleep_marks_the_microphone_s_start_up)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from alertbutton.evidence import seal  # noqa: E402
from alertbutton.sim.run import run_scenario  # noqa: E402
from firmware.core import evidence_chunk as C  # noqa: E402
from firmware.core import ima_adpcm  # noqa: E402
from test_evidence_e2e import WAV  # noqa: E402
from test_power_sim import CONTACTS, ev, scenario  # noqa: E402

PREALERT_S = 4
ARM_T, ALERT_T = 3.0, 11.0


def rms(data):
    pcm = ima_adpcm.decode(C.audio(data), ima_adpcm.BLOCK_BYTES)
    return (sum(x * x for x in pcm) / max(1, len(pcm))) ** 0.5, len(pcm)


def test_armed_by_the_gesture_the_alert_carries_the_sound_before_it(tmp_path):
    sc = scenario("ready", ALERT_T)
    sc["events"] = [{"t": ARM_T, "gesture": "arm"}, {"t": ALERT_T, "gesture": "alert"}]
    sc.update(audio=WAV, audio_speed=2, duration_s=ALERT_T + 14)
    sc["config"].update(evidence_prealert_s=PREALERT_S, evidence_record_s=4, evidence_chunk_s=2)
    run = run_scenario(sc, str(tmp_path))
    names = [e["event"] for e in run.events]
    # the board slept before the gesture, and the gesture's hold woke it
    assert run.exit_codes[:1] == [76] and [w[1] for w in run.wakes] == ["button"], names
    wake = ev(run, "sim_wake")[0]["t"]
    (arm,) = ev(run, "evidence_arm")
    assert arm["min"] == 30 and arm["extended"] is False and not ev(run, "evidence_arm_refused")
    # at boot the recorder starts the ring and the power task rests it at once; the gesture arms it
    armed = [(e["t"], e["by"]) for e in ev(run, "evidence_armed") if e["t"] > wake]
    assert armed[-1][1] == "gesture" and not [e for e in ev(run, "evidence_disarmed") if e["t"] > armed[-1][0]]
    # armed: no deep sleep until the end of the run (the ring is in RAM), the alert goes out
    assert not [e for e in ev(run, "deepsleep") if e["t"] > arm["t"]]
    (trig,) = ev(run, "trigger")
    assert trig["t"] - arm["t"] > PREALERT_S / 2 + 1  # the audio runs at 2x: more than the pre-alert + start-up
    assert len([s for s in run.sms if s["text"].startswith("ALERTE")]) == len(CONTACTS)
    (recording,) = ev(run, "evidence_recording")
    assert recording["prealert_s"] >= PREALERT_S - 0.2, recording
    key = seal.load_association_key(run.association_key)
    data = open(os.path.join(run.flash, "ev", "r00001", "c0000.evs"), "rb").read()
    plain = seal.unseal(data, *key)[0]
    c0 = C.parse(plain)
    assert c0["prealert"] and not c0["mic_warmup"] and c0["mic_warmup_blocks"] == 0
    level, samples = rms(plain)
    assert samples >= (PREALERT_S - 0.2) * 8000 and level > 300, (level, samples)  # speech, not silence
    assert not ev(run, "power_error") and not ev(run, "evidence_error") and not ev(run, "evidence_arm_error")
