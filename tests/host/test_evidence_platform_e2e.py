"""Evidence chain heads reach the platform (issues 7 and 9): the firmware records sound on an alert in
the simulator and publishes the SHA-256 chain head of its evidence to a real mosquitto over TLS as the
chunks are written. The heads the platform holds are then checked against the evidence exported from
the device's flash afterwards by `alertbutton evidence export` (which verifies the chain itself): a
recording altered after the fact would no longer end in the head the platform received."""
import os

import pytest

from alertbutton import cli, vm
from alertbutton.sim.run import SimRun

import mqtt_broker
from mqtt_broker import Subscriber

WAV = os.path.join(vm.REPO, "tests", "data", "audio", "speechlike_8k.wav")


@pytest.fixture
def broker(tmp_path):
    yield from mqtt_broker.running_broker(tmp_path)


@pytest.mark.needs_ssl  # MQTT over TLS: the VM needs its ssl module
def test_platform_holds_the_chain_head_of_the_exported_evidence(tmp_path, broker, report):
    sc = {"wearer": "Camille", "contacts": [{"name": "A", "number": "+33612345601"}],
          "gnss": {"lat": 45.76404, "lon": 4.83566, "acc_m": 9.0, "after_s": 0.3}, "last_fix": None,
          "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005},
          "audio": WAV, "audio_speed": 6,
          "config": {"evidence_prealert_s": 6, "evidence_record_s": 12, "evidence_chunk_s": 4},
          "platform": broker.device_config(), "platform_ca": broker.ca_der,
          "events": [{"t": 5.0, "gesture": "alert"}], "duration_s": 60}
    sub = Subscriber(broker)
    run = SimRun(sc, str(tmp_path / "sim"), echo=None)
    try:
        assert sub.ready(), broker.log_text()
        run.start()
        run.run_script(stop_when_done=True)

        def final_head():
            return [b for t, b in sub.snapshot() if t == "alerts/ab-test-1" and isinstance(b, dict)
                    and b.get("type") == "evidence" and b.get("final")]
        run.wait_for(lambda _r: final_head(), 60, fail_on_exit=True)  # checked below, with what was published
    finally:
        run.stop()
        sub.close()
    commits = sorted({b["seq"]: b for t, b in sub.snapshot() if t == "alerts/ab-test-1"
                      and isinstance(b, dict) and b.get("type") == "evidence"}.values(), key=lambda b: b["seq"])
    assert commits and commits[-1]["final"], [e for e in run.events if "evidence" in e["event"]
                                              or "platform" in e["event"]][-20:]
    assert len(run.sms) == 1
    # issue 21: every commitment carries the device key's signature of the spec's head message
    from alertbutton import fwimport  # noqa: F401
    from firmware.core import evidence_seal as S
    from firmware.core.crypto import ed25519
    import os
    with open(os.path.join(run.flash, "device.key"), "rb") as f:
        dev_pub = ed25519.public_key(f.read())
    for c in commits:
        msg = S.head_message(bytes.fromhex(c["did"]), c["rec"], c["chunks"] - 1, bytes.fromhex(c["head"]), c["final"])
        assert ed25519.verify(dev_pub, msg, bytes.fromhex(c["sig"])), c
        assert not ed25519.verify(dev_pub, S.head_message(bytes.fromhex(c["did"]), c["rec"], c["chunks"],
                                                          bytes.fromhex(c["head"]), c["final"]), bytes.fromhex(c["sig"]))
    exp = tmp_path / "export"
    assert cli.main(["evidence", "export", "--flash", run.flash, "--out", str(exp), "--quiet", "--association-key", run.association_key]) == 0
    import json
    m = json.load(open(exp / "53494d0000010000-r00001" / "manifest.json"))
    shas = [c["sha256"] for c in m["chunks"]]
    # the last commitment is the exported recording's chain head; every earlier one is the hash of
    # the chunk it names, so the platform can date each part of the recording
    assert commits[-1]["head"] == m["chain_head"] == shas[-1], (commits[-1], m["chain_head"])
    for c in commits:
        assert c["rec"] == 1 and c["alert"] == 1 and c["dev"] == "ab-test-1"
        assert c["head"] == shas[c["chunks"] - 1], (c, shas)
    assert commits[0]["chunks"] == 1  # chunk 0 (the pre-alert) is committed at once
    report("evidence chain heads on the platform (mosquitto, TLS)",
           "%d commitment(s) for %d chunks; the final head equals the exported chain head" % (len(commits), len(shas)))
