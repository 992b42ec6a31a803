# Issue 17, the heap: what the firmware loads only when it is needed, the setting defaults of a board
# without PSRAM, the pre-alert ring in segments and the outbox written without one big string.
# (alertbutton bench heap measures the whole; tests/host/test_heap.py runs it at a fixed heap.)
import asyncio
import json
import sys

from firmware.core import ima_adpcm
from firmware.settings import ram_profile
from firmware.system import storage
from firmware.evidence.audio_ring import AudioRing, BLOCK_BYTES, BLOCK_SAMPLES, SEG_BLOCKS
from firmware.system.eventlog import EventLog


class _Board:
    name = "test"

    def __init__(self, reset="power"):
        self._reset = reset

    def power_hw(self):
        raise AssertionError("the power hardware is not needed without low power")

    def reset_cause(self):
        return self._reset


class _App:
    def __init__(self, cfg=None, reset="power"):
        from firmware.settings import config as settings
        settings._store = None
        self.cfg = settings.load()
        self.cfg.update(cfg or {})
        self.board = _Board(reset)
        self.events = []
        self.log = EventLog([self.events.append])
        self.fall = None


def test_the_power_modules_stay_unloaded_without_low_power():
    from firmware.app import App
    app = _App({"power": {"low_power": False}})  # on as shipped (issue 22): turned off here
    App.start_power(app)
    assert app.power is None
    for m in ("firmware.power.task", "firmware.power.policy", "firmware.power.modem", "firmware.wearer.boot_wake"):
        assert m not in sys.modules, m
    from firmware.power import gate as power_gate
    assert power_gate.wanted({"power": {"low_power": True}}, app.board)
    assert power_gate.wanted({}, app.board) and power_gate.wanted({"power": {}}, app.board)  # the default
    assert power_gate.wanted({"power": {"low_power": False, "accounting": True}}, app.board)
    assert power_gate.wanted({}, _Board("deepsleep"))  # the waking press must reach the gestures
    assert not power_gate.wanted({"power": {"low_power": False}}, app.board)
    assert not power_gate.wanted({"power": {"low_power": True}}, object())  # a board without power_hw


def test_the_platform_link_stays_unloaded_until_provisioned():
    from firmware import app as app_mod
    app = _App()
    app.tasks = []
    app_mod.App.start_platform(app)
    assert app.platform is None and "firmware.platform.link" not in sys.modules
    from firmware.platform import config as platform_config
    assert app_mod.PLATFORM_PATH == platform_config.PATH


class _Reader:
    """The console's stream reader: nothing at first, then the technician's request, then the end."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)

    async def read(self, n):
        if not self.chunks:
            raise asyncio.CancelledError
        return self.chunks.pop(0)


class _Tx:
    def __init__(self):
        self.lines = []

    def write(self, b):
        self.lines.append(bytes(b).decode().strip())


def test_the_console_loads_on_the_first_byte_and_answers_it():
    from firmware.console import gate as console_gate
    app = _App()
    app.tasks = []
    tx = _Tx()
    loaded_before = []

    def make(a, stream):
        loaded_before.append("firmware.console.commands" in sys.modules)
        return console_gate.make_console(a, stream)

    async def main():
        try:
            await console_gate.run(app, (None, tx), make, _Reader(b"", b"", b"\x15AB1 hello\n"))
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
    assert loaded_before == [False] and "firmware.console.commands" in sys.modules
    assert tx.lines[0].startswith("AB1 READY") and tx.lines[1] == "NOT CONFIGURED"
    assert tx.lines[-1].startswith("OK {") and '"proto": 1' in tx.lines[-1]
    assert [json.loads(e)["event"] for e in app.events] == ["console"]  # at boot, as before


def test_a_small_heap_gets_the_small_defaults_where_nothing_is_set():
    cfg = {"evidence_prealert_s": 12}
    assert sorted(ram_profile.apply(cfg, heap=110 * 1024)) == ["evidence_headroom_s", "log_keep"]
    assert cfg["evidence_prealert_s"] == 12 and cfg["evidence_headroom_s"] == ram_profile.SMALL["evidence_headroom_s"]
    big = {}
    assert ram_profile.apply(big, heap=4 * 1024 * 1024) == [] and big == {}  # the WROVER keeps its defaults
    small = {}
    ram_profile.apply(small, heap=110 * 1024)
    ring = AudioRing(small["evidence_prealert_s"], 8000, small["evidence_headroom_s"])
    assert ring.capacity * BLOCK_BYTES <= 30 * 1024  # the ring a board without PSRAM holds
    assert AudioRing().capacity * BLOCK_BYTES > 150 * 1024  # the defaults: 30 s + 8 s


def test_the_ring_in_segments_keeps_each_block_across_segments_and_wraps():
    ring = AudioRing(seconds=1, rate=8000, headroom_s=1)  # 32 blocks: several segments
    assert ring.capacity == 32 and ring.capacity > SEG_BLOCKS
    flat = bytearray(40 * BLOCK_BYTES)  # the same blocks encoded into one flat buffer
    st = ima_adpcm.new_state()
    for k in range(40):
        pcm = bytearray(BLOCK_SAMPLES * 2)
        for i in range(BLOCK_SAMPLES):
            v = ((i * 37 + k * 1000) % 20000) - 10000
            pcm[2 * i] = v & 0xFF
            pcm[2 * i + 1] = (v >> 8) & 0xFF
        ring.push(pcm)
        st[ima_adpcm.ST_OUT] = k * BLOCK_BYTES
        st[ima_adpcm.ST_PCM] = 0
        ima_adpcm.encode_block_py(pcm, flat, st)
    assert ring.oldest() == 8
    for n in range(8, 40):
        assert bytes(ring.block(n)) == bytes(flat[n * BLOCK_BYTES:(n + 1) * BLOCK_BYTES]), n


def test_write_json_writes_what_json_dumps_would():
    recs = [{"c": i, "to": "+3361234560%d" % i, "pdu": "00" * 150, "n": 150, "st": "accepted"} for i in range(10)]
    for obj in ({"magic": "ABOX", "v": 1, "src": None, "closed": False, "recs": recs}, [1, "é", {"a": [1]}], {}, [],
                "x", 3, {"a": {"b": [1, {"c": 2}]}, "l": []}):
        storage.write_json("t.json", obj)
        with open("t.json") as f:
            assert f.read() == json.dumps(obj)
        assert storage.read_json("t.json") == obj
