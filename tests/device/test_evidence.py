# Evidence recording in the VM: the recorder turns the pre-alert ring and the following audio into
# hash-chained chunk files, sealed to the association's key (issue 21) and their heads signed by the
# device key; power cuts are closed at boot; a full flash never costs unexported evidence; the console
# functions hand out exactly the stored bytes. The association's side (unsealing) is done here with the
# primitives and the spec's key derivation, written out in the test.
import asyncio
import binascii
import hashlib
import math
import os
import struct

from firmware.evidence import store as ev
from firmware.core import ima_adpcm
from firmware.core import evidence_seal as S
from firmware.core.crypto import x25519, hkdf, ed25519, chacha20poly1305 as aead
from firmware.evidence import sealing, device_key
from firmware.evidence.audio_ring import BLOCK_SAMPLES, BLOCK_BYTES, blocks_for
from firmware.evidence.recorder import Recorder

N = BLOCK_SAMPLES
ASSOC_SK = bytes(range(40, 72))  # the association's secret key (the test plays the association)
ASSOC_PK = x25519.public_key(ASSOC_SK)
DEVICE_SEED = bytes(range(100, 132))
DEVICE_PK = ed25519.public_key(DEVICE_SEED)
_KEYS = {}


def assoc_key(epk):
    """K as the association derives it: X25519(its secret, epk), HKDF per the spec."""
    if epk not in _KEYS:
        shared = x25519.x25519(ASSOC_SK, epk)
        _KEYS[epk] = hkdf.hkdf_sha256(shared, epk + ASSOC_PK, b"alertbutton evidence seal v1", 32)
    return _KEYS[epk]


def unseal(data):
    """(plaintext chunk, end, close marker or None) of a sealed file; every record must authenticate."""
    env = S.parse_envelope(data)
    k, idx, ad = assoc_key(env["epk"]), env["index"], data[:64]
    blocks, end = S.layout(len(data))
    out = aead.open(k, S.nonce(0, idx), data[64:180], ad)
    for i in range(blocks):
        out += aead.open(k, S.nonce(i + 1, idx), data[180 + 272 * i:180 + 272 * (i + 1)], ad)
    marker = None
    if end == S.END_TRAILER:
        out += aead.open(k, S.nonce(0xFFFFFFFF, idx), data[-32:], ad)
    elif end == S.END_CLOSE:
        marker = S.parse_close_marker(data[-16:])
    return out, end, marker


def new_key(log=None):
    return sealing.KeyAhead(ASSOC_PK, log or Log()).take()


class Mic:
    def __init__(self):
        self.sink = None

    def start(self, sink):
        self.sink = sink

    def stop(self):
        self.sink = None


class Mgr:
    def __init__(self, alert_id):
        self.alert_id = alert_id


class Fix:
    def as_tuple(self):
        return (48.85661, 2.35222, 12.0, 3)


class Log:
    def __init__(self):
        self.events = []

    def __call__(self, event, **kw):
        self.events.append((event, kw))

    def names(self):
        return [e for e, _ in self.events]


def block_pcm(k):
    """Block k of a deterministic signal: sample value depends only on its absolute position."""
    return bytearray(struct.pack("<%dh" % N, *[int(8000 * math.sin((k * N + i) * 0.045)) for i in range(N)]))


def sealed_files(root, rec):
    d = "%s/r%05d" % (root, rec)
    out = []
    for n in sorted(os.listdir(d)):
        if n.endswith(".evs"):
            with open(d + "/" + n, "rb") as f:
                out.append((n, f.read()))
    return out


def chunk_files(root, rec):
    """The plaintext chunks, unsealed with the association's key (each must end with its sealed trailer)."""
    out = []
    for n, data in sealed_files(root, rec):
        plain, end, _ = unseal(data)
        assert end == S.END_TRAILER, (n, end)
        out.append((n, plain))
    return out


def check_chain(files):
    prev = "0" * 64
    parsed = []
    for k, (name, data) in enumerate(files):
        p = ev.parse(data)
        assert p["index"] == k and name == "c%04d.evs" % k
        assert p["prev_sha256"] == prev, "chunk %d does not link to chunk %d" % (k, k - 1)
        prev = binascii.hexlify(hashlib.sha256(data).digest()).decode()
        assert p["sha256"] == prev
        parsed.append(p)
    return parsed


def recorder(root, log, assoc=ASSOC_PK, **cfg):
    c = {"evidence_prealert_s": 2, "evidence_record_s": 3, "evidence_chunk_s": 1}
    c.update(cfg)
    store = ev.Store(root=root, capacity=cfg.get("evidence_flash_bytes"), log=log)
    return Recorder(Mic(), c, log, lambda: Fix(), b"DEVICE01", sealing.KeyAhead(assoc, log),
                    device_key.signer(DEVICE_SEED), store=store)


async def feed(r, k0, k1, pause=True):
    for k in range(k0, k1):
        r.mic.sink(block_pcm(k))
        if pause:
            await asyncio.sleep_ms(1)


async def until(pred, ms=3000):
    for _ in range(ms // 10):
        if pred():
            return
        await asyncio.sleep_ms(10)
    raise AssertionError("timed out")


async def test_alert_records_prealert_then_chunks_chained():
    log = Log()
    r = recorder("ev1", log)
    r.start()
    await feed(r, 0, 40, pause=False)  # 2.5 s before the alert; the ring keeps the last 2 s (32 blocks)
    r.on_alert("triggered", Mgr(7))
    await feed(r, 40, 120)
    await until(lambda: "evidence_done" in log.names())
    files = chunk_files("ev1", 1)
    parsed = check_chain(files)
    # chunk 0: the 32 blocks before the trigger; then 48 blocks (3 s) in 16-block (1 s) chunks
    assert [p["blocks"] for p in parsed] == [32, 16, 16, 16]
    assert [p["prealert"] for p in parsed] == [True, False, False, False]
    assert [p["final"] for p in parsed] == [False, False, False, True]
    assert [p["offset_ms"] for p in parsed] == [-32 * N * 1000 // 8000, 0, 16 * N * 1000 // 8000, 32 * N * 1000 // 8000]
    for p in parsed:
        assert p["alert"] == 7 and p["recording"] == 1 and p["sample_rate"] == 8000
        assert p["device"] == binascii.hexlify(b"DEVICE01").decode()
        assert p["position"] == {"lat": 48.85661, "lon": 2.35222, "acc_m": 12, "age_s": 3}
        assert not (p["gap"] or p["interrupted"] or p["flash_full"])
    # the audio is continuous: blocks 8..87 of the signal, decoded across chunk boundaries
    k = 8
    sig = err = 0
    for _, data in files:
        audio = ev.audio(data)
        for o in range(0, len(audio), BLOCK_BYTES):
            dec = ima_adpcm.decode_block(audio[o:o + BLOCK_BYTES])
            ref = struct.unpack("<%dh" % N, block_pcm(k))
            for a, b in zip(ref, dec):
                sig += a * a
                err += (a - b) * (a - b)
            k += 1
    assert k == 88
    assert 10 * math.log10(sig / err) > 20
    head = r.store.head(1)
    assert head["final"] and head["sha256"] == parsed[-1]["sha256"]
    r.task.cancel()


async def test_second_alert_extends_the_same_recording():
    log = Log()
    r = recorder("ev2", log, evidence_record_s=2)
    r.start()
    await feed(r, 0, 10, pause=False)
    r.on_alert("triggered", Mgr(1))
    await feed(r, 10, 30)
    r.on_alert("triggered", Mgr(2))  # 20 blocks into a 32-block recording: it now ends 32 blocks later
    await feed(r, 30, 80)
    await until(lambda: "evidence_done" in log.names())
    parsed = check_chain(chunk_files("ev2", 1))
    assert parsed[0]["prealert"] and parsed[0]["blocks"] == 10  # all there was since arming
    assert sum(p["blocks"] for p in parsed if not p["prealert"]) == 20 + 32
    assert parsed[1]["alert"] == 1 and parsed[-1]["alert"] == 2
    assert "evidence_extended" in log.names() and r.store.recordings() == [1]
    r.task.cancel()


async def test_alert_with_the_ring_disarmed_records_from_the_trigger():
    log = Log()
    r = recorder("ev9", log, evidence_record_s=1)
    r.start()
    r.disarm()
    assert not r.armed and r.mic.sink is None
    r.on_alert("triggered", Mgr(4))
    await asyncio.sleep_ms(300)
    assert r.armed and r.mic.sink is not None  # armed by the alert
    await feed(r, 0, 30)
    await until(lambda: "evidence_done" in log.names())
    parsed = check_chain(chunk_files("ev9", 1))
    assert [(p["prealert"], p["blocks"]) for p in parsed] == [(True, 0), (False, 16)]
    assert parsed[1]["offset_ms"] == 0 and parsed[1]["final"]
    r.task.cancel()


def cold_mic(path, nblocks):
    """The real INMP441 driver on the simulated I2S, which models CHIPEN (nothing while low, silence for
    2^18 SCK cycles after it rises), fed a signal that is never silent; the mic starts powered down."""
    import machine
    from drivers.inmp441 import Inmp441
    size = nblocks * N * 2
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16))
        f.write(b"data" + struct.pack("<I", size))
        for k in range(nblocks):
            f.write(block_pcm(k))
    pin = machine.Pin(32, machine.Pin.OUT, value=0)
    i2s = machine.I2S(0, sck=machine.Pin(18), ws=machine.Pin(23), sd=machine.Pin(34), mode=machine.I2S.RX,
                      bits=32, format=machine.I2S.MONO, rate=8000, ibuf=16384, source=path, speed=0,
                      loop=False, chipen=pin)
    return i2s, pin, Inmp441(i2s, shift=16, chipen=pin)


def cold_recorder(root, log, mic):
    c = {"evidence_prealert_s": 2, "evidence_record_s": 2, "evidence_chunk_s": 1}
    return Recorder(mic, c, log, lambda: Fix(), b"DEVICE01", sealing.KeyAhead(ASSOC_PK, log),
                    device_key.signer(DEVICE_SEED), store=ev.Store(root=root, log=log))


async def pump(i2s, n):
    for _ in range(n):
        i2s.sim_service(max_buffers=1)
        await asyncio.sleep_ms(1)


def silent_blocks(data):
    """How many blocks at the head of a chunk decode to exact silence."""
    pcm = ima_adpcm.decode(ev.audio(data), BLOCK_BYTES)
    k = 0
    while (k + 1) * N <= len(pcm) and not any(pcm[k * N:(k + 1) * N]):
        k += 1
    return k


async def test_an_alert_with_the_microphone_off_marks_its_start_up_silence():
    # low power: the ring is off and the mic powered down (CHIPEN low); an alert from deep sleep starts
    # it cold. Its first 9 blocks (4096 samples rounded up to blocks, 0.57 s) are silence by hardware:
    # the chunk that holds them says so (MIC_WARMUP, 9 in the trailer), no other chunk does
    from drivers.inmp441 import STARTUP_SAMPLES
    warm = (STARTUP_SAMPLES + N - 1) // N
    log = Log()
    i2s, pin, mic = cold_mic("cold1.wav", 40)
    r = cold_recorder("ev20", log, mic)
    r.start()
    r.disarm()  # what the power task does in low power
    assert pin.value() == 0
    r.on_alert("triggered", Mgr(1))
    await asyncio.sleep_ms(300)
    assert r.armed and pin.value() == 1
    await pump(i2s, 40)
    await until(lambda: "evidence_done" in log.names())
    files = chunk_files("ev20", 1)
    parsed = check_chain(files)
    assert [(p["prealert"], p["blocks"], p["mic_warmup"]) for p in parsed[:2]] == [(True, 0, False),
                                                                                   (False, 16, True)]
    assert warm == 9 and parsed[1]["mic_warmup_blocks"] == warm
    assert silent_blocks(files[1][1]) == warm  # exactly those blocks are silent: the source never is
    assert not any(ev.audio(files[1][1])[:warm * BLOCK_BYTES])  # stored as zero bytes (docs/evidence.md)
    assert all(not p["mic_warmup"] and p["mic_warmup_blocks"] == 0 for p in parsed[2:])
    r.task.cancel()


async def test_a_ring_armed_cold_marks_the_start_up_in_the_pre_alert():
    # the ring is armed with the mic powered down (at boot, or later by the power policy): an alert
    # soon after finds the start-up silence at the head of the pre-alert chunk
    log = Log()
    i2s, pin, mic = cold_mic("cold2.wav", 60)
    r = cold_recorder("ev21", log, mic)
    r.start()
    assert r.armed and pin.value() == 1
    await pump(i2s, 12)
    r.on_alert("triggered", Mgr(1))
    await pump(i2s, 48)
    await until(lambda: "evidence_done" in log.names())
    files = chunk_files("ev21", 1)
    parsed = check_chain(files)
    assert parsed[0]["prealert"] and parsed[0]["blocks"] == 12
    assert parsed[0]["mic_warmup"] and parsed[0]["mic_warmup_blocks"] == 9 == silent_blocks(files[0][1])
    assert all(not p["mic_warmup"] and p["mic_warmup_blocks"] == 0 for p in parsed[1:])
    r.task.cancel()


async def test_a_stalled_writer_marks_the_gap_and_keeps_the_chain():
    log = Log()
    r = recorder("ev10", log, evidence_prealert_s=1, evidence_record_s=20, evidence_chunk_s=10)
    r.start()
    await feed(r, 0, 20, pause=False)
    r.on_alert("triggered", Mgr(1))
    await asyncio.sleep_ms(300)  # the recorder opens the recording and copies the pre-alert
    await feed(r, 20, 200, pause=False)  # 180 blocks with no chance to write: more than the ring holds
    await feed(r, 200, 400)
    await until(lambda: "evidence_done" in log.names())
    parsed = check_chain(chunk_files("ev10", 1))
    lost = sum(p["lost_blocks"] for p in parsed)
    assert lost > 0 and any(p["gap"] for p in parsed) and "evidence_overrun" in log.names()
    total = blocks_for(20, 8000)
    assert sum(p["blocks"] for p in parsed if not p["prealert"]) + lost == total  # nothing else missing
    for a, b in zip(parsed[1:], parsed[2:]):  # chunks are continuous; a gap shows in the next one's start
        step = (a["blocks"] + b["lost_blocks"]) * N * 1000 / 8000
        assert abs(b["offset_ms"] - a["offset_ms"] - step) <= 1, (a, b)
        assert b["gap"] == (b["lost_blocks"] > 0)
    r.task.cancel()


def test_power_cut_mid_chunk_is_closed_at_boot():
    store = ev.Store(root="ev3")
    rec = store.begin(b"D", 8000, new_key())
    rec.open_chunk(1, ev.H_PREALERT, None, -1000, 0, None)
    for k in range(3):
        rec.add(ima_block(k))
    rec.close_chunk()
    rec.open_chunk(1, 0, 1700000000000, 0, 100, (1.0, 2.0, 5, None))
    for k in range(5):
        rec.add(ima_block(k))
    rec.chunk.flush()
    # power cut: the .part file stays, with a half-written block record at its end; the key is gone
    with open(rec.chunk.path, "ab") as f:
        f.write(b"\x01" * 100)
    log = Log()
    fixed = ev.Store(root="ev3", log=log).recover()
    assert fixed == [rec.rec] and "evidence_recovered" in log.names()
    files = sealed_files("ev3", rec.rec)
    assert [n for n, _ in files] == ["c0000.evs", "c0001.evs"]
    assert [n for n in os.listdir("ev3/r%05d" % rec.rec) if n.endswith(".part") or n.endswith(".tmp")] == []
    first, end0, _ = unseal(files[0][1])
    assert end0 == S.END_TRAILER and ev.parse(first)["blocks"] == 3 and not ev.parse(first)["final"]
    # the cut chunk: its 5 whole block records still authenticate; the partial one is gone; the close
    # marker (unauthenticated, there was no key at boot) says 5 blocks, interrupted
    plain, end1, marker = unseal(files[1][1])
    assert end1 == S.END_CLOSE and marker == {"blocks": 5, "flags": ev.T_INTERRUPTED}
    assert len(files[1][1]) == 64 + 116 + 5 * 272 + 16
    assert plain[:ev.HEADER_SIZE][68:100] == hashlib.sha256(first).digest()  # still chained to chunk 0
    assert plain[ev.HEADER_SIZE:] == b"".join(bytes(ima_block(k)) for k in range(5))
    head = store.head(rec.rec)
    assert head["closed_at_boot"] and not head["final"] and head["index"] == 0
    assert ev.Store(root="ev3").recover() == []  # idempotent
    assert sealed_files("ev3", rec.rec) == files


def test_power_cut_before_a_whole_header_record_drops_the_part():
    store = ev.Store(root="ev12")
    rec = store.begin(b"D", 8000, new_key())
    rec.open_chunk(3, 0, 1700000000000, 0, 0, None)
    for k in range(4):
        rec.add(ima_block(k))
    rec.close_chunk()
    # the next chunk was being opened: only 100 bytes (the envelope and part of the header) reached flash
    with open("ev12/r%05d/c0001.part" % rec.rec, "wb") as f:
        f.write(S.envelope(b"D", rec.rec, 1, bytes(32)) + b"\x02" * 36)
    log = Log()
    assert ev.Store(root="ev12", log=log).recover() == [rec.rec]
    assert "evidence_part_dropped" in log.names()
    assert [n for n, _ in sealed_files("ev12", rec.rec)] == ["c0000.evs"]


def test_power_cut_between_chunks_ends_the_chain_at_the_last_closed_chunk():
    store = ev.Store(root="ev4")
    rec = store.begin(b"D", 8000, new_key())
    rec.open_chunk(3, 0, 1700000000000, 0, 0, None)
    for k in range(4):
        rec.add(ima_block(k))
    rec.close_chunk()  # not final, and the next chunk never opened
    log = Log()
    assert ev.Store(root="ev4", log=log).recover() == [rec.rec]
    parsed = check_chain(chunk_files("ev4", rec.rec))
    # no key at boot: no closing chunk can be sealed; the chain visibly ends without FINAL and the
    # device's own record says it was closed at boot
    assert [p["blocks"] for p in parsed] == [4] and not parsed[0]["final"]
    head = store.head(rec.rec)
    assert head["closed_at_boot"] and head["sha256"] == parsed[0]["sha256"]
    assert ev.Store(root="ev4").recover() == []  # idempotent
    assert store.mark_exported(rec.rec, parsed[0]["sha256"])  # the last head the device knew


def test_a_complete_part_only_missing_its_rename_is_kept_as_is():
    store = ev.Store(root="ev13")
    rec = store.begin(b"D", 8000, new_key())
    rec.open_chunk(3, 0, None, 0, 0, None)
    rec.add(ima_block(0))
    c = rec.chunk
    c.close(ev.T_FINAL)  # trailer written, then the cut: no rename
    with open(c.path, "rb") as f:
        data = f.read()
    assert ev.Store(root="ev13").recover() == [rec.rec]
    files = sealed_files("ev13", rec.rec)
    assert files == [("c0000.evs", data)] and unseal(data)[1] == S.END_TRAILER


def ima_block(k):
    out = bytearray(BLOCK_BYTES)
    st = ima_adpcm.new_state()
    ima_adpcm.encode_block(block_pcm(k), out, st)
    return out


def make_recording(store, blocks=4, final=True):
    rec = store.begin(b"D", 8000, new_key())
    rec.open_chunk(1, 0, None, 0, 0, None)
    for k in range(blocks):
        rec.add(ima_block(k))
    rec.close_chunk(final=final)
    store.end(rec)
    return rec.rec


def test_flash_full_deletes_expendables_then_exported_never_unexported():
    for n in ("events.log.1",):
        with open(n, "wb") as f:
            f.write(b"x" * 3000)
    base = ev.du(".")
    log = Log()
    store = ev.Store(root="ev5", capacity=base + 12000, reserve=1000, log=log)
    a = make_recording(store)  # ~1.1 KB each
    b = make_recording(store)
    c = make_recording(store)
    assert store.mark_exported(b, store.head(b)["sha256"])
    assert not store.mark_exported(c, "00" * 32)  # a wrong head is refused
    need = store.free() - store.reserve + 3800  # more than the expendable file frees (3000 B)
    assert store.make_room(need)
    assert "events.log.1" not in os.listdir(".")
    assert store.recordings() == [a, c]  # b was exported: it went; a and c were not: they stay
    assert not store.make_room(store.free() + 50000)
    assert store.recordings() == [a, c]
    assert [w for e, w in log.events if e == "evidence_freed"] == [{"what": "events.log.1"}, {"what": "recording", "rec": b}]
    s = store.status(10 ** 6)
    assert s["low"] and s["unexported"] == 2


async def test_recording_stops_cleanly_when_the_flash_is_full():
    log = Log()
    base = ev.du(".")
    # above the 64 KB reserve: room for the pre-alert chunk (2 s) and one 1 s chunk, not for all 3 s
    prealert, chunk = 64 + 116 + 32 * 272 + 32 + 120, 64 + 116 + 16 * 272 + 32 + 120  # + its signed head
    r = recorder("ev6", log, evidence_flash_bytes=base + 65536 + prealert + chunk + 2000)
    r.start()
    await feed(r, 0, 40, pause=False)
    r.on_alert("triggered", Mgr(1))
    await feed(r, 40, 120)
    await until(lambda: "evidence_done" in log.names())
    parsed = check_chain(chunk_files("ev6", 1))
    assert [p["blocks"] for p in parsed] == [32, 16]
    assert parsed[-1]["final"] and parsed[-1]["flash_full"] and not parsed[0]["final"]
    assert r.store.free() >= r.store.reserve  # the reserve for the rest of the firmware is intact
    assert "evidence_flash_full" in log.names() and "evidence_space_low" in log.names()
    r.task.cancel()


def test_console_functions():
    store = ev.Store(root="ev7")
    rec = make_recording(store, blocks=10)
    out = ev.console_command(store, "list")["recordings"]
    assert out[0]["rec"] == rec and out[0]["chunks"] == 1 and out[0]["final"] and not out[0]["exported"]
    ch = ev.console_command(store, "chunks %d" % rec)["chunks"]
    assert ch == [{"index": 0, "file": "c0000.evs", "size": 64 + 116 + 10 * 272 + 32}]
    got = b""
    while len(got) < ch[0]["size"]:
        r = ev.console_command(store, "read %d 0 %d 1024" % (rec, len(got)))
        got += binascii.a2b_base64(r["data"])
    with open("ev7/r%05d/c0000.evs" % rec, "rb") as f:
        assert got == f.read()
    assert ev.parse(unseal(got)[0])["blocks"] == 10  # what the console hands out unseals with the association's key
    for bad in ("read %d 0 0 5000" % rec, "read 99 0 0 10", "read %d 5 0 10" % rec, "chunks x", "", "frobnicate 1",
                "delete %d" % rec):
        try:
            ev.console_command(store, bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)
    head = ev.console_command(store, "list")["recordings"][0]["head"]
    assert not ev.console_command(store, "exported %d %s" % (rec, "11" * 32))["ok"]
    assert ev.console_command(store, "exported %d %s" % (rec, head))["ok"]
    assert ev.console_command(store, "delete %d" % rec) == {"deleted": rec}
    rec2 = make_recording(store)
    assert ev.console_command(store, "delete %d force" % rec2) == {"deleted": rec2}
    assert store.recordings() == []
    rec3 = make_recording(store)
    assert rec3 == rec2 + 1  # numbers are never reused, even after deletion


def test_active_recording_cannot_be_deleted():
    store = ev.Store(root="ev8")
    rec = store.begin(b"D", 8000, new_key())
    try:
        store.delete(rec.rec, force=True)
    except ValueError:
        return
    raise AssertionError("deleted the recording in progress")


async def test_chunk_listeners_get_every_chain_head_as_written():
    log = Log()
    r = recorder("ev11", log)
    got = []
    r.chunk_listeners.append(lambda *a: got.append(a))
    r.chunk_listeners.append(lambda *a: 1 // 0)  # a failing listener never stops the recording
    r.start()
    await feed(r, 0, 40, pause=False)
    r.on_alert("triggered", Mgr(5))
    await feed(r, 40, 120)
    await until(lambda: "evidence_done" in log.names() and not r._unsigned, 10000)  # heads signed after the audio
    parsed = check_chain(chunk_files("ev11", 1))
    # one call per chunk, in order; each head is the SHA-256 of that chunk's file; the last is final
    want = [(1, 5, i, i == len(parsed) - 1) for i in range(len(parsed))]
    assert [(g[0], g[1], g[2], g[4]) for g in got] == want, (got, want)
    assert [g[3] for g in got] == [p["sha256"] for p in parsed]
    assert got[-1][3] == r.store.head(1)["sha256"]
    assert "evidence_listener_error" in log.names()
    # each call carries the device's Ed25519 signature of the spec's 56-byte head message, and the same
    # 120-byte records are in heads.abh, in order
    heads = r.store.head_records(1)
    assert len(heads) == 120 * len(parsed)
    for i, g in enumerate(got):
        msg = S.head_message(b"DEVICE01", 1, i, binascii.unhexlify(g[3]), g[4])
        signed = binascii.unhexlify(g[5])
        sig = signed[56:]
        assert signed[:56] == msg and ed25519.verify(DEVICE_PK, msg, sig)
        assert heads[120 * i:120 * (i + 1)] == signed
        assert not ed25519.verify(DEVICE_PK, S.head_message(b"DEVICE01", 1, i, binascii.unhexlify(g[3]), not g[4]), sig)
    assert r.last_head == (len(parsed) - 1, binascii.unhexlify(got[-1][3]))
    r.task.cancel()


async def test_the_key_is_ready_before_the_alert_and_wiped_at_close():
    log = Log()
    r = recorder("ev14", log)
    r.start()
    await until(lambda: "evidence_key_ready" in log.names())  # computed while idle, before any alert
    rkey = r.keys._next
    await feed(r, 0, 40, pause=False)
    r.on_alert("triggered", Mgr(2))
    await asyncio.sleep_ms(50)
    sealing_ = r.rec.sealing
    sealer = sealing_.sealer
    await feed(r, 40, 120)
    await until(lambda: "evidence_done" in log.names())
    assert "evidence_key_late" not in log.names()
    assert rkey.key == bytearray(32)  # K zeroed when the recording closed
    assert sealing_.sealer is None
    try:  # the Sealer's own copy of K is wiped too: it refuses to seal
        sealer.seal_into(bytearray(12), bytearray(16), 16, b"", bytearray(32))
    except ValueError:
        pass
    else:
        raise AssertionError("a wiped Sealer still seals")
    env = S.parse_envelope(sealed_files("ev14", 1)[0][1])
    assert env["epk"] == rkey.epk and env["device"] == b"DEVICE01" and env["recording"] == 1
    # the next recording gets a new ephemeral key, prepared once idle again
    await until(lambda: r.keys.ready(), 10000)
    assert r.keys._next.epk != rkey.epk and any(r.keys._next.key)
    r.task.cancel()


async def test_no_association_key_records_nothing_and_says_so():
    log = Log()
    r = recorder("ev15", log, assoc=None)
    r.start()
    assert not r.armed and r.mic.sink is None  # no ring either: nothing of her voice is kept anywhere
    r.on_alert("triggered", Mgr(3))
    await asyncio.sleep_ms(600)
    assert r.rec is None and r.store.recordings() == [] and not r.armed
    assert ("evidence_not_recorded", {"alert": 3, "why": "no association key"}) in log.events
    assert "evidence_off" in log.names() and "evidence_key_ready" not in log.names()
    r.task.cancel()


async def test_no_plaintext_audio_position_or_header_on_flash():
    log = Log()
    r = recorder("ev16", log)
    r.start()
    await feed(r, 0, 40, pause=False)
    r.on_alert("triggered", Mgr(6))
    await feed(r, 40, 120)
    await until(lambda: "evidence_done" in log.names())
    plain = chunk_files("ev16", 1)
    blob = b""
    for name in os.listdir("ev16/r00001"):
        with open("ev16/r00001/" + name, "rb") as f:
            blob += f.read()
    lat, lon = struct.pack("<i", 488566100), struct.pack("<i", 23522200)
    for _, p in plain:
        for o in range(ev.HEADER_SIZE, len(p) - ev.TRAILER_SIZE, BLOCK_BYTES):
            assert p[o + 4:o + 36] not in blob  # no 32 bytes of any ADPCM block
    assert lat not in blob and lon not in blob and ev.MAGIC not in blob and ev.END_MAGIC not in blob
    r.task.cancel()



async def test_heads_wait_while_the_alert_sends_sms():
    """A signature holds the CPU (~2 s on an ESP32): never while the alert is dispatching its SMS."""
    log = Log()
    r = recorder("ev17", log)
    sending = [True]
    r.busy = lambda: sending[0]
    r.start()
    await feed(r, 0, 40, pause=False)
    r.on_alert("triggered", Mgr(8))
    await feed(r, 40, 120)
    await until(lambda: "evidence_done" in log.names())
    await asyncio.sleep_ms(600)
    assert "evidence_signed" not in log.names() and len(r._unsigned) == 4
    assert r.store.head_records(1) == b"" and not r.keys.ready()  # nor the next key's X25519
    sending[0] = False
    await until(lambda: not r._unsigned and r.keys.ready(), 10000)
    assert len(r.store.head_records(1)) == 4 * 120
    assert [kw["index"] for e, kw in log.events if e == "evidence_signed"] == [0, 1, 2, 3]
    r.task.cancel()


def test_device_key_made_once_a_damaged_one_replaced():
    log = Log()
    with open("dk_test.key", "wb") as f:
        f.write(b"short")  # damaged: cannot sign
    a = device_key.load_or_create("dk_test.key", log=log)
    assert len(a) == 32 and log.events == [("device_key_created", {"replaced_damaged": True})]
    assert device_key.load_or_create("dk_test.key", log=log) == a and len(log.events) == 1  # kept
    os.remove("dk_test.key")
    b = device_key.load_or_create("dk_test.key", log=log)
    assert b != a and log.events[-1] == ("device_key_created", {"replaced_damaged": False})
    os.remove("dk_test.key")


def _opens(data):
    try:
        unseal(data)
        return True
    except ValueError:
        return False


async def test_sealed_records_cannot_be_moved_swapped_or_relabelled():
    """As an attacker holding the flash (without K): a record moved, two swapped, the envelope's chunk
    index, recording or device changed, a chunk from another recording slipped in, a trailer turned into
    a close marker: the association's unsealing refuses each (the nonce binds a record to its place, the
    envelope is every record's associated data)."""
    log = Log()
    r = recorder("ev18", log)
    r.start()
    await feed(r, 0, 40, pause=False)
    r.on_alert("triggered", Mgr(9))
    await feed(r, 40, 120)
    await until(lambda: "evidence_done" in log.names())
    files = sealed_files("ev18", 1)
    data = files[1][1]  # a 16-block chunk
    assert _opens(data)
    b = lambda i: data[180 + 272 * i:180 + 272 * (i + 1)]  # noqa: E731
    swapped = data[:180] + b(1) + b(0) + data[180 + 544:]
    assert not _opens(swapped)
    flipped = bytearray(data)
    flipped[180 + 272 * 3 + 10] ^= 1
    assert not _opens(bytes(flipped))
    for off, val in ((24, 7), (20, 2), (8, 0x45)):  # chunk index, recording, device id byte
        e = bytearray(data)
        # always a changed byte: writing the value a byte already holds would test nothing (a run under
        # load once failed here with "AssertionError: 24", not reproduced; this rules that cause out)
        e[off] = val if e[off] != val else (val + 1) & 0xFF
        assert e != data and not _opens(bytes(e)), off
    # chunk 1 relabelled as chunk 2 of the same recording (envelope edited): refused
    e = bytearray(data)
    struct.pack_into("<I", e, 24, 2)
    assert not _opens(bytes(e))
    # the sealed trailer dropped and a forged close marker claiming all blocks: the blocks still open, but
    # the end is the unauthenticated kind, which the verifier reports as such
    forged = data[:-32] + S.close_marker(16, 0)
    plain, end, marker = unseal(forged)
    assert end == S.END_CLOSE and marker["blocks"] == 16
    r.task.cancel()


def test_the_key_and_the_signature_come_in_pieces():
    """Neither the X25519 nor the Ed25519 holds the event loop whole: both are generators the recorder
    awaits between (each piece a fraction of the ~1.3 s / ~0.3 s they take on an ESP32)."""
    ka = sealing.KeyAhead(ASSOC_PK, Log())
    pieces = sum(1 for x in ka.prepare_steps() if x is None)
    assert pieces >= 14 and ka.ready(), pieces  # two ladders of 255 steps, a piece every 32
    k = ka.take()
    assert bytes(k.key) == assoc_key(k.epk)  # the association derives the same K from epk
    sg = device_key.signer(DEVICE_SEED)
    msg = S.head_message(b"DEVICE01", 1, 0, bytes(32), False)
    out = list(sg.steps(msg))
    assert out[:-1] == [None] * (len(out) - 1) and len(out) >= 5 and ed25519.verify(DEVICE_PK, msg, out[-1])
    assert out[-1] == sg(msg)


async def test_the_key_pauses_while_the_alert_sends_sms():
    log = Log()
    r = recorder("ev19", log)
    calls = [0]
    hold = [True]

    def busy():  # free when the idle task looks, then the alert starts sending SMS
        calls[0] += 1
        return calls[0] > 1 and hold[0]
    r.busy = busy
    r.start()
    await asyncio.sleep_ms(700)
    assert calls[0] > 2 and not r.keys.ready()  # started, then paused between pieces
    hold[0] = False
    await until(lambda: r.keys.ready(), 10000)
    r.task.cancel()
