"""End to end: the firmware runs on the simulated board with a speech-like WAV at its microphone, the
alert gesture fires, and `alertbutton evidence export --flash` gives WAVs whose audio matches the
source (aligned, SNR >= 20 dB), a manifest and a report; `verify` passes. Then every kind of tampering
with the export is made on a copy and `verify` must name it."""
import base64
import json
import os
import shutil
import struct
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from alertbutton import cli, vm  # noqa: E402
from alertbutton.evidence import export as tool
from alertbutton.evidence import seal  # noqa: E402
from alertbutton.sim import speechlike  # noqa: E402
from alertbutton.sim.run import SimRun  # noqa: E402
from firmware.evidence import store as ev  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evidence_forge  # noqa: E402



WAV = os.path.join(vm.REPO, "tests", "data", "audio", "speechlike_8k.wav")
PREALERT_S, RECORD_S, CHUNK_S = 6, 12, 4
FOLDER = "53494d0000010000-r00001"


def key(run):
    """The simulator's association key file: the button seals its recordings to it (issue 21)."""
    return ["--association-key", run.association_key]  # <device id>-r<recording>: the simulated board's machine.unique_id()


def test_a_second_export_never_touches_the_first(sim, exported, tmp_path, capsys):
    """Issue 21 item 4: an export folder is named by device and recording and never written into: a
    second export to the same place is refused with what to do, and the first is untouched and still
    verifies. --out a file: a message."""
    run, _out = sim
    exp = exported.parent
    before = {p: p.read_bytes() for p in exported.rglob("*") if p.is_file()}
    assert cli.main(["evidence", "export", "--flash", run.flash, "--out", str(exp), "--quiet", "--no-mark"] + key(run)) == 2
    err = capsys.readouterr().err
    assert "already exists: an export is never written into" in err and "evidence verify" in err
    assert {p: p.read_bytes() for p in exported.rglob("*") if p.is_file()} == before
    assert sorted(os.listdir(exp)) == [FOLDER]  # nothing left behind either
    assert tool.verify(str(exported)) == []
    f = tmp_path / "a_file"
    f.write_text("x")
    assert cli.main(["evidence", "export", "--flash", run.flash, "--out", str(f), "--quiet"] + key(run)) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err and f.read_text() == "x"


def plain_chunks(exported):
    """The recording's plaintext chunks, as the association opened them in the export."""
    c = exported / "data" / "chunks"
    return [(c / n).read_bytes() for n in sorted(os.listdir(c))]


def test_exports_of_two_buttons_never_mix(sim, exported, tmp_path):
    """Button B's recording 1 exported where button A's recording 1 is: two folders (the defect of issue
    21: B overwrote A's first chunks and A was still marked exported)."""
    run, _ = sim
    flash_b = tmp_path / "flash_b"
    shutil.copytree(run.flash, flash_b)
    chunks = evidence_forge.relink([set_device(c, b"BUTTON-B") for c in plain_chunks(exported)])
    assoc_pub = seal.load_association_key(run.association_key)[1]
    evidence_forge.write_sealed(str(flash_b / "ev" / "r00001"), chunks, assoc_pub, b"\x0b" * 32)
    out = tmp_path / "out"
    assert cli.main(["evidence", "export", "--flash", run.flash, "--out", str(out), "--quiet", "--no-mark"] + key(run)) == 0
    assert cli.main(["evidence", "export", "--flash", str(flash_b), "--out", str(out), "--quiet", "--no-mark"]
                    + key(run)) == 0
    assert sorted(os.listdir(out)) == sorted([FOLDER, b"BUTTON-B".hex() + "-r00001"])
    for n in os.listdir(out):
        assert tool.verify(str(out / n)) == []


def test_marked_exported_only_when_the_export_verified(sim, tmp_path, capsys):
    """A recording damaged on the flash exports with its problems named and is NOT marked exported (the
    device would otherwise reclaim it); a sealed recording without the association key is not exported."""
    run, _ = sim
    flash = tmp_path / "flash"
    shutil.copytree(run.flash, flash)
    d = flash / "ev" / "r00001"
    if (d / "exported").exists():
        os.remove(d / "exported")
    flip(d / "c0001.evs", 64 + 116 + 272 * 3 + 10)  # a bit of chunk 1's fourth audio block, sealed
    assert cli.main(["evidence", "export", "--flash", str(flash), "--out", str(tmp_path / "x"), "--quiet"]
                    + key(run)) in (1, 2)
    out = capsys.readouterr()
    assert "c0001" in out.out + out.err and "Traceback" not in out.err, out
    assert not (d / "exported").exists()
    assert cli.main(["evidence", "export", "--flash", run.flash, "--out", str(tmp_path / "y"),
                     "--quiet"]) == 2
    assert "is sealed to the association: give --association-key FILE" in capsys.readouterr().err
    assert not os.listdir(tmp_path / "y") if (tmp_path / "y").exists() else True


def set_device(chunk, dev):
    b = bytearray(chunk)
    b[8:16] = dev
    return bytes(b)


def test_the_wav_plays_in_sox(exported):
    """The audio is a standard WAV: sox reads it (and says 8 kHz, 16-bit, mono, its length)."""
    import subprocess
    if not shutil.which("sox"):
        pytest.skip("sox not installed (apt-get install -y sox)")
    p = subprocess.run(["sox", "--i", str(exported / "data" / "recording.wav")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "8000" in p.stdout and "16-bit" in p.stdout and "Channels       : 1" in p.stdout
    p = subprocess.run(["sox", str(exported / "data" / "recording.wav"), "-n", "stat"], capture_output=True, text=True)
    assert p.returncode == 0 and "RMS     amplitude" in p.stderr


def test_the_bag_validates_with_the_bagit_tool(exported):
    import bagit
    bag = bagit.Bag(str(exported))
    bag.validate()
    assert "manifest.json" in bag.tagfile_entries() and "report.html" in bag.tagfile_entries()
    assert "data/chunks/c0000.evc" in bag.payload_entries()


def scenario():
    return {"wearer": "Camille", "contacts": [{"name": "A", "number": "+33612345601"}],
            "gnss": {"lat": 45.76404, "lon": 4.83566, "acc_m": 9.0, "after_s": 0.3}, "last_fix": None,
            "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005},
            "audio": WAV, "audio_speed": 6,
            "config": {"evidence_prealert_s": PREALERT_S, "evidence_record_s": RECORD_S,
                       "evidence_chunk_s": CHUNK_S,
                       # the pre-alert sound's alignment and SNR are checked here: low power rests that
                       # ring until a gesture arms it (docs/evidence.md; its own behaviour, chunk 0 empty
                       # and MIC_WARMUP, is in test_power_sim.py), so it is turned off for this test
                       "power": {"low_power": False}},
            # the alert once the first fix can have been polled (GNSS is polled every 2 s)
            "events": [{"t": 3.35, "gesture": "alert"}], "duration_s": 40}  # 5 taps: the trigger at ~5.3 s


def run_sim(out):
    """The scenario on the simulated board until its recording is done; the SimRun."""
    run = SimRun(scenario(), out, echo=None)
    try:
        run.start()
        run.run_script(stop_when_done=True)
        run.wait_for(lambda r: any(e["event"] == "evidence_done" for e in r.events), 40, fail_on_exit=True)
    finally:
        run.stop()
    assert any(e["event"] == "evidence_done" for e in run.events), [e for e in run.events if "evidence" in e["event"]]
    return run


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("evsim")
    return run_sim(str(out / "run")), out


@pytest.fixture(scope="module")
def exported(sim):
    run, out = sim
    exp = out / "export"
    assert cli.main(["evidence", "export", "--flash", run.flash, "--out", str(exp), "--quiet"] + key(run)) == 0
    return exp / FOLDER


def test_the_wearer_still_gets_her_sms_with_a_microphone_running(sim):
    run, _ = sim
    assert len(run.sms) == 1
    assert not [e for e in run.events if e["event"] in ("evidence_error", "listener_error", "evidence_overrun")]


def test_exported_audio_matches_the_source(exported):
    src, rate = speechlike.read_wav(WAV)
    got, rate2 = speechlike.read_wav(str(exported / "data" / "recording.wav"))
    assert rate == rate2 == 8000
    # pre-alert + recording, in whole 505-sample blocks
    assert abs(len(got) / 8000.0 - (PREALERT_S + RECORD_S)) < 0.2
    # a 1 s probe: with 0.5 s, a recording that starts in a pause of the source can be matched at the
    # wrong place (seen: lag 27610 instead of 3435, SNR -2.8 dB instead of 22.3 dB on the same WAV)
    lag = speechlike.find_lag(src, got, probe_s=1.0)
    snr = speechlike.snr_db(src, got, lag)
    print("exported %.2f s, lag %d, SNR %.1f dB" % (len(got) / 8000.0, lag, snr))
    assert snr >= 20
    # the recording starts on a block boundary of the looping source: nothing was lost or duplicated
    assert any(b * 505 % len(src) == lag for b in range(20000))
    # the per-chunk WAVs are the same audio, cut at the chunk boundaries
    m = json.load(open(exported / "manifest.json"))
    parts = []
    for c in m["chunks"]:
        parts += speechlike.read_wav(str(exported / c["wav"]))[0]
    assert parts == got


def test_manifest_and_report(exported, sim):
    m = json.load(open(exported / "manifest.json"))
    ch = m["chunks"]
    n_chunks = 1 + -(-RECORD_S // CHUNK_S)
    assert len(ch) == n_chunks and m["complete"]
    assert [c["prealert"] for c in ch] == [True] + [False] * (n_chunks - 1)
    assert ch[-1]["final"] and not any(c["final"] for c in ch[:-1])
    assert abs(ch[0]["duration_s"] - PREALERT_S) < 0.1 and ch[0]["offset_ms"] < 0 and ch[1]["offset_ms"] == 0
    assert m["device_id"] == "53494d0000010000"  # the simulated board's machine.unique_id()
    pos = ch[-1]["position"]
    assert pos["lat"] == 45.76404 and pos["lon"] == 4.83566 and pos["acc_m"] == 9
    assert "45.76404" in ch[-1]["map"]["osm"]
    html = (exported / "report.html").read_text()
    assert "No problem found at export" in html and "NOT anchored" in html and m["chain_head"] in html and "openstreetmap.org" in html
    for c in ch:
        assert c["sha256"] in html
    # the device was told, and now lists the recording as exported (its space may be reclaimed)
    run, _ = sim
    assert tool.FlashSource(run.flash).list()[0]["exported"]


def test_verify_cli_passes(exported, capsys):
    """Intact but with nothing kept outside: exit 6 and says so; with the head kept: 0."""
    assert cli.main(["evidence", "verify", str(exported)]) == 6
    assert cli.main(["evidence", "verify", str(exported.parent)]) == 6  # a directory of recordings too
    assert "NOT anchored" in capsys.readouterr().out
    head = json.load(open(exported / "manifest.json"))["chain_head"]
    assert cli.main(["evidence", "verify", str(exported), "--head", head]) == 0
    assert "OK" in capsys.readouterr().out


def test_verify_accepts_the_head_of_any_chunk(exported, capsys):
    """Issue 21: the head of chunk 0 (or of any chunk the platform kept) covers chunks 0..k; the rest is
    reported unanchored, and an untouched export has no problem."""
    m = json.load(open(exported / "manifest.json"))
    n = len(m["chunks"])
    for k in range(n):
        st = cli.main(["evidence", "verify", str(exported), "--head", m["chunks"][k]["sha256"]])
        out = capsys.readouterr().out
        assert st == (0 if k == n - 1 else 6), out
        assert "chunks 0..%d are covered by the head" % k in out
        if k < n - 1:
            assert "chunks %d..%d are NOT anchored" % (k + 1, n - 1) in out
    ref = tool.anchor_mod.sms_reference(1, bytes.fromhex(m["chunks"][1]["sha256"]))
    assert cli.main(["evidence", "verify", str(exported), "--anchor", ref]) == 6
    assert "chunks 0..1 are covered by the SMS reference 1:" in capsys.readouterr().out
    bad = "1:" + ("A" * 13 if not ref.endswith("A" * 13) else "B" * 13)
    assert cli.main(["evidence", "verify", str(exported), "--anchor", bad]) == 1
    assert "chunk 1 (chunks/c0001.evc) is not the chunk the SMS reference" in capsys.readouterr().out
    assert cli.main(["evidence", "verify", str(exported), "--anchor", "1:ABC"]) == 2
    assert "13 base32 characters" in capsys.readouterr().err


# --- tampering -------------------------------------------------------------------------------------------

@pytest.fixture
def copy(exported, tmp_path):
    d = tmp_path / "r"
    shutil.copytree(exported, d)
    return d


def chunk(d, k):
    return d / "data" / "chunks" / ("c%04d.evc" % k)


def flip(path, offset):
    b = bytearray(path.read_bytes())
    b[offset] ^= 0x10
    path.write_bytes(bytes(b))


def edit_manifest(d, fn):
    m = json.load(open(d / "manifest.json"))
    fn(m)
    json.dump(m, open(d / "manifest.json", "w"))


def problems(d, head=None):
    p = tool.verify(str(d), head)
    assert p, "tampering not detected"
    return " | ".join(p)


def test_modified_audio_in_a_chunk(copy, capsys):
    flip(chunk(copy, 2), ev.HEADER_SIZE + 1000)
    p = problems(copy)
    assert "chunk 2 (chunks/c0002.evc) was modified" in p
    assert cli.main(["evidence", "verify", str(copy)]) == 1
    assert "REFUSED" in capsys.readouterr().out


def test_modified_header_time(copy):
    flip(chunk(copy, 1), 40)  # a byte of start_utc_ms
    assert "chunk 1 (chunks/c0001.evc) was modified" in problems(copy)


def test_modified_last_chunk(copy):
    last = len(os.listdir(copy / "data" / "chunks")) - 1
    flip(chunk(copy, last), ev.HEADER_SIZE + 5)
    p = problems(copy)
    assert "last chunk" in p and "c%04d.evc" % last in p


def test_modified_chunk_and_manifest_hash_still_caught_by_the_chain(copy):
    flip(chunk(copy, 1), ev.HEADER_SIZE + 300)
    new = ev.parse(chunk(copy, 1).read_bytes())["sha256"]
    edit_manifest(copy, lambda m: m["chunks"][1].update(sha256=new))
    assert "chunk 1 (chunks/c0001.evc) was modified" in problems(copy)


def test_removed_chunk(copy):
    os.remove(chunk(copy, 2))
    assert "chunk 2 (chunks/c0002.evc) was removed" in problems(copy)


def test_removed_chunk_with_the_manifest_edited_to_match(copy):
    os.remove(chunk(copy, 2))
    edit_manifest(copy, lambda m: m["chunks"].pop(2))
    assert "chunk 2 was removed" in problems(copy)


def test_removed_first_chunk_with_the_manifest_edited(copy):
    os.remove(chunk(copy, 0))
    edit_manifest(copy, lambda m: m["chunks"].pop(0))
    assert "does not start at chunk 0" in problems(copy)


def test_removed_tail_with_the_manifest_edited_to_match(copy):
    last = len(os.listdir(copy / "data" / "chunks")) - 1
    os.remove(chunk(copy, last))

    def cut(m):
        m["chunks"].pop()
        m["chain_head"] = m["chunks"][-1]["sha256"]
    edit_manifest(copy, cut)
    assert "ends without its final chunk" in problems(copy)


def test_reordered_chunk_files(copy):
    a, b = chunk(copy, 1), chunk(copy, 2)
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    p = problems(copy)
    assert "reordered" in p and "chunks/c0001.evc holds chunk 2" in p


def test_reordered_manifest_entries(copy):
    edit_manifest(copy, lambda m: m["chunks"].insert(1, m["chunks"].pop(2)))
    assert "not listed in order" in problems(copy)


def test_inserted_foreign_file(copy):
    shutil.copy(chunk(copy, 1), copy / "data" / "chunks" / "c0099.evc")
    assert "chunks/c0099.evc (chunk 1) was inserted" in problems(copy)


def test_inserted_forged_chunk_linked_to_its_predecessor(copy):
    """A forger who knows the format makes a chunk that links correctly to chunk 1, renames the later
    files and rewrites the manifest: the original chunk 2 still links to chunk 1, not to the forgery."""
    n = len(os.listdir(copy / "data" / "chunks"))
    c1 = chunk(copy, 1).read_bytes()
    forged = bytearray(c1)
    struct.pack_into("<I", forged, 24, 2)  # index 2
    import hashlib
    forged[68:100] = hashlib.sha256(c1).digest()  # links to chunk 1
    for k in range(n - 1, 1, -1):
        os.rename(chunk(copy, k), chunk(copy, k + 1))
    chunk(copy, 2).write_bytes(bytes(forged))

    def fix(m):
        m["chunks"] = [dict(c, file="chunks/c%04d.evc" % i, index=i)
                       for i, c in enumerate(m["chunks"][:2] + [dict(m["chunks"][1])] + m["chunks"][2:])]
        m["chunks"][2]["sha256"] = hashlib.sha256(bytes(forged)).hexdigest()
    edit_manifest(copy, fix)
    p = problems(copy)
    assert "chunks/c0002.evc (chunk 2) was inserted" in p


@pytest.mark.parametrize("field,value", [("start_utc", "2020-01-01T00:00:00.000Z"), ("alert", 99),
                                         ("duration_s", 1.0), ("position", {"lat": 1, "lon": 2, "acc_m": 3, "age_s": 0}),
                                         ("prealert", True), ("sha256", "ab" * 32), ("wav_sha256", "0" * 64),
                                         ("map", {"osm": "https://example.org"}), ("gap", True)])
def test_modified_manifest_field(copy, field, value):
    edit_manifest(copy, lambda m: m["chunks"][1].update({field: value}))
    p = problems(copy)
    if field == "sha256":
        assert "chunk 1 (chunks/c0001.evc) was modified" in p  # the file no longer matches what is claimed
    else:
        assert "manifest modified: chunk 1 field %r" % field in p


@pytest.mark.parametrize("field,value", [("alerts", [1, 2]), ("complete", False), ("duration_s", 99.0),
                                         ("recording", 2)])
def test_modified_manifest_summary(copy, field, value):
    edit_manifest(copy, lambda m: m.update({field: value}))
    assert "manifest modified: %s" % field in problems(copy)


def test_manifest_hash_written_down_at_export(copy):
    sha = tool.sha256_file(str(copy / "manifest.json"))
    assert tool.verify(str(copy), manifest_sha=sha) == []
    edit_manifest(copy, lambda m: m.update(exported_from="somewhere else"))  # not derived from the chunks
    p = " ".join(tool.verify(str(copy)))  # the bag's tag manifest and the report still catch it
    assert "manifest.json was modified" in p and "report.html does not match manifest.json" in p
    assert "manifest modified" in " ".join(tool.verify(str(copy), manifest_sha=sha))


def test_modified_manifest_device_and_head(copy, exported):
    edit_manifest(copy, lambda m: m.update(device_id="0000000000000000"))
    assert "manifest modified: device_id" in problems(copy)
    m = json.load(open(exported / "manifest.json"))
    # a head kept at export time catches a manifest rewritten around a changed last chunk
    assert "differs from the head kept" in problems(exported, head="ab" * 32)
    assert tool.verify(str(exported), head=m["chain_head"]) == []


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.mark.parametrize("what,damage,expect", [
    ("manifest not an object", lambda d: _write(d / "manifest.json", b"[1, 2]"), "manifest.json missing or unreadable"),
    ("a chunk entry not an object", lambda d: edit_manifest(d, lambda m: m["chunks"].insert(0, "x")),
     "manifest.json missing or unreadable"),
    ("bagit.txt removed", lambda d: os.remove(d / "bagit.txt"), "the BagIt packaging is damaged"),
    ("tag manifest replaced", lambda d: _write(d / "tagmanifest-sha256.txt", b"zz\n"),
     "is not covered by the bag's tag manifest"),
    ("heads file slipped in", lambda d: _write(d / "data" / "heads.abh", os.urandom(240)), "heads.abh differs"),
    ("sealed file slipped in", lambda d: _write(d / "data" / "sealed" / "c0099.evs", os.urandom(300)),
     "sealed/c0099.evs was added"),
    ("report removed", lambda d: os.remove(d / "report.html"), "report.html was removed"),
    ("verdict edited", lambda d: edit_manifest(d, lambda m: m.update(export_verdict="x")),
     "report.html does not match manifest.json"),
])
def test_a_damaged_export_gives_sentences_never_a_traceback(copy, capsys, what, damage, expect):
    damage(copy)
    assert cli.main(["evidence", "verify", str(copy)]) == 1
    out = capsys.readouterr()
    assert expect in out.out and "Traceback" not in out.out + out.err, (what, out.out[-800:])


def test_modified_wav(copy):
    p = copy / "data" / "audio" / "c0001.wav"
    samples, rate = speechlike.read_wav(str(p))
    samples[100] += 1000
    speechlike.write_wav(str(p), samples, rate)
    assert "audio/c0001.wav does not match chunk 1" in problems(copy)
    flip(copy / "data" / "recording.wav", 5000)
    assert "recording.wav was modified" in problems(copy)


# --- export through the console protocol (a stand-in device answering `AB1 evidence ...`) ------------------

def fake_console(flash, pin):
    """A pty answering the console protocol with firmware.evidence.console_command on the flash copy."""
    import tty
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    store = ev.Store(root=os.path.join(flash, ev.ROOT))
    state = {"unlocked": False, "reads": 0}

    def serve():
        buf = b""
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.rsplit(b"\x15", 1)[-1]  # Ctrl-U drops an unfinished line, as the console does
                words = line.decode().strip().split(None, 2)
                if len(words) < 2 or words[0] != "AB1":
                    continue
                if words[1] == "unlock":
                    state["unlocked"] = len(words) > 2 and words[2] == pin
                    ans = "OK {}" if state["unlocked"] else "ERR PIN wrong PIN"
                elif words[1] == "evidence" and not state["unlocked"]:
                    ans = "ERR LOCKED unlock first"
                elif words[1] == "evidence":
                    try:
                        if words[2].startswith("read"):
                            state["reads"] += 1
                        ans = "OK " + json.dumps(ev.console_command(store, words[2]))
                    except ValueError as e:
                        ans = "ERR ARGS %s" % e
                else:
                    ans = "ERR UNKNOWN"
                os.write(master, (ans + "\n").encode())

    threading.Thread(target=serve, daemon=True).start()
    return os.ttyname(slave), state, (master, slave)


def test_export_through_the_console_protocol(sim, tmp_path):
    pytest.importorskip("alertbutton.device.technician")
    run, _ = sim
    flash = tmp_path / "flash"
    shutil.copytree(run.flash, flash)
    os.remove(flash / "ev" / "r00001" / "exported")
    port, state, fds = fake_console(str(flash), "2468")
    try:
        assert cli.main(["evidence", "list", "--port", port, "--pin", "1111"]) != 0  # wrong PIN: nothing
        assert cli.main(["evidence", "export", "--port", port, "--pin", "2468", "--out", str(tmp_path / "x"),
                         "--quiet"] + key(run)) == 0
    finally:
        for fd in fds:
            os.close(fd)
    d = tmp_path / "x" / FOLDER
    assert tool.verify(str(d)) == []
    size = sum(os.path.getsize(d / "data" / "sealed" / n) for n in os.listdir(d / "data" / "sealed"))
    assert state["reads"] >= size // tool.PIECE
    assert (flash / "ev" / "r00001" / "exported").exists()
    # the sealed files byte-identical to those on the device, and its signed heads came too
    sealed = sorted(os.listdir(d / "data" / "sealed"))
    assert sealed and sealed == sorted(n for n in os.listdir(flash / "ev" / "r00001") if n.endswith(".evs"))
    for n in sealed:
        assert (d / "data" / "sealed" / n).read_bytes() == (flash / "ev" / "r00001" / n).read_bytes()
    assert (d / "data" / "heads.abh").read_bytes() == (flash / "ev" / "r00001" / "heads.abh").read_bytes()
    assert base64  # (the console carries the bytes as base64)
