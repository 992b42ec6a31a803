# Integer width on the ESP32 (issue 17, docs/int-width.md). The ESP32 is a 32-bit machine: a
# MicroPython small int ends at 2**30 (a larger value is a heap-allocated long int: MemoryError under
# micropython.heap_lock(), GC churn elsewhere) and a viper int wraps at 32 bits. Every hot path runs
# here with extreme inputs, most under heap_lock. `pytest tests/device/test_int_width.py --vm 32` is
# the run that catches a regression; on the 64-bit VM (small ints to 2**62) they pass as well.
import array
import struct

import micropython

SMALL_MAX = 0x3FFFFFFF  # the largest small int on a 32-bit port


# ---- accelerometer: LIS3DH raw counts -> mg ---------------------------------------------------------

def test_lis3dh_full_scale_counts_convert_without_allocation():
    from drivers.lis3dh import LIS3DH
    from lis3dh_sim import SimLIS3DH
    shifts = {"normal": 6, "low-power": 8, "high-res": 4}
    mg_per_digit = {(2, "normal"): 4, (2, "low-power"): 16, (2, "high-res"): 1,
                    (4, "normal"): 8, (4, "low-power"): 32, (4, "high-res"): 2,
                    (8, "normal"): 16, (8, "low-power"): 64, (8, "high-res"): 4,
                    (16, "normal"): 48, (16, "low-power"): 192, (16, "high-res"): 12}
    raws = ((32767, -32768, -1), (-32768, 32767, 0), (-32768, -32768, -32768))
    out = array.array("h", bytes(6 * 32))
    lst = [0] * 96
    for (g, mode), mg in mg_per_digit.items():
        bus = SimLIS3DH()
        acc = LIS3DH(bus, range_g=g, rate_hz=50, mode=mode)
        sh = shifts[mode]
        for dst in (out, lst):  # the viper pass (array) and the plain one (list)
            for k in range(30):
                bus.push_raw(*raws[k % 3])
            micropython.heap_lock()
            try:
                n = acc.read_fifo(dst)
            finally:
                micropython.heap_unlock()
            assert n == 30, (g, mode, n)
            for k in range(3 * n):
                want = (raws[(k // 3) % 3][k % 3] >> sh) * mg
                assert -32768 < want < 32768 and dst[k] == want, (g, mode, k, dst[k], want)


# ---- fall detector and fall monitor -----------------------------------------------------------------

def _saturated_trace():
    # still, then full-scale samples of every sign pattern, then lying still long enough to decide
    s = [0, 0, 1000] * 150
    for k in range(40):
        s += [32767 if k & 1 else -32768, 32767 if k & 2 else -32768, 32767 if k & 4 else -32768]
        s += [-32768, -32768, 1000]
    s += [1000, 0, 0] * 300
    return array.array("h", s)


def test_fall_detector_full_scale_samples_allocate_nothing():
    from firmware.fall.detector import FallDetector, EV_NONE
    buf = _saturated_trace()
    n = len(buf) // 3
    per = FallDetector()
    batch = FallDetector()
    got = array.array("i", [0] * 8)  # (sample, event) of the first 4 events of each path
    micropython.heap_lock()
    try:
        j = 0
        for k in range(n):
            ev = per.update(buf[3 * k], buf[3 * k + 1], buf[3 * k + 2])
            if ev != EV_NONE and j < 4:
                got[2 * j] = k
                got[2 * j + 1] = ev
                j += 1
        k = 0
        b = 0
        while k < n:
            end = k + 25 if k + 25 < n else n
            while k < end:
                k = batch.feed(buf, end, k)
                if batch.event != EV_NONE and b < 4:
                    got[2 * b] -= k - 1
                    got[2 * b + 1] -= batch.event
                    b += 1
    finally:
        micropython.heap_unlock()
    assert j >= 2 and b == j and list(got) == [0] * 8, (j, b, list(got))
    assert per.decisions >= 1 and per.decisions == batch.decisions and per.last_peak_mg == 16000


def _stats_ref(buf, n):
    dev = jerk = sx = sy = sz = 0
    for k in range(n):
        x, y, z = buf[3 * k], buf[3 * k + 1], buf[3 * k + 2]
        dev += min(abs(x * x + y * y + z * z - 1000000), 1 << 24)
        if k:
            jerk += abs(x - buf[3 * k - 3]) + abs(y - buf[3 * k - 2]) + abs(z - buf[3 * k - 1])
        sx += x
        sy += y
        sz += z
    return [dev, jerk, sx, sy, sz]


def test_fall_monitor_stats_of_full_scale_samples():
    # |a|^2 of full-scale int16 axes reaches 3 x 2^30: past a 32-bit viper int. (-32768, -32768, 1000)
    # makes |a|^2 - 1 g^2 exactly 2^31, which wrapped to -2^31 and was added as such.
    from firmware.fall.monitor import _stats
    triples = ((-32768, -32768, 1000), (32767, 32767, 32767), (-32768, -32768, -32768), (32767, -32768, 0),
               (16000, 16000, 16000), (16001, 0, 0), (0, 0, 1000), (-16000, 16000, -16000), (0, 0, 0))
    buf = array.array("h", bytes(6 * 32))
    out = array.array("i", bytes(20))
    for first in range(len(triples)):
        n = 0
        for t in triples[first:] + triples[:first]:
            buf[3 * n], buf[3 * n + 1], buf[3 * n + 2] = t
            n += 1
        _stats(buf, n, out)
        assert list(out) == _stats_ref(buf, n), (first, list(out), _stats_ref(buf, n))
    for i in range(96):  # 32 samples of the worst one: the sum itself must stay a small int too
        buf[i] = -32768 if i % 3 < 2 else 1000
    _stats(buf, 32, out)
    assert list(out) == _stats_ref(buf, 32) and out[0] == 32 << 24, list(out)


class _SaturatedAccel:
    """25 full-scale samples per FIFO read, copied from a preallocated batch (no allocation)."""
    rate_hz = 50

    def __init__(self):
        self.src = array.array("h", [-32768, -32768, 1000] * 25)

    def read_fifo(self, dst):
        for i in range(75):
            dst[i] = self.src[i]
        return 25


class _Alert:
    state = "idle"
    alert_id = 0

    class followups:
        @staticmethod
        def on_motion(moving):
            pass


def test_fall_monitor_batch_of_full_scale_samples_allocates_nothing():
    from firmware.fall.monitor import FallMonitor
    fm = FallMonitor(_SaturatedAccel(), _Alert(), lambda *a, **k: None)
    for _ in range(10):
        fm.batch()  # up to the first 5 s verdict (logged on a change: allowed to allocate)
    assert fm.moving is True
    micropython.heap_lock()
    try:
        for _ in range(40):
            fm.batch()
    finally:
        micropython.heap_unlock()
    assert fm.moving is True and fm.det.n == 50 * 25 - 1


def test_fall_monitor_sample_count_wraps_like_the_detectors():
    # 25 samples a batch at 50 Hz reach 2^30 after 248 days of uptime (a charged device never reboots
    # in the default, no-sleep mode): the count wraps at 2^29 as FallDetector.n does
    from firmware.fall.monitor import FallMonitor
    fm = FallMonitor(_SaturatedAccel(), _Alert(), lambda *a, **k: None)
    fm.samples = 0x1FFFFFFF - 10
    fm.batch()
    assert fm.samples == 14, fm.samples
    fm.samples = 0x1FFFFFFF - 40
    micropython.heap_lock()
    try:
        for _ in range(4):
            fm.batch()
    finally:
        micropython.heap_unlock()
    assert fm.samples == 59, fm.samples


def test_impact_age_stays_a_small_int():
    # 1.5 million samples (8.3 h at 50 Hz) x 1000 ms was a long int before the division
    from firmware.fall.detector import FallDetector
    det = FallDetector()
    det.n = 1500000
    det.impact_n = 100
    res = array.array("i", [0, 0])
    micropython.heap_lock()
    try:
        res[0] = det.impact_age_ms()
        det.n = 51840049  # 12 days at 50 Hz: the ms still fit (an age past 12.4 days is a long int)
        det.impact_n = 0
        res[1] = det.impact_age_ms()
    finally:
        micropython.heap_unlock()
    assert res[0] == 1499900 * 1000 // 50 and res[1] == 1036800980, list(res)
    det.n = 5
    det.impact_n = 0x1FFFFFFF - 4
    assert det.impact_age_ms() == 200


def test_model_scores_are_bounded_to_small_ints():
    # score() sums w x clip(feature, lo, hi) per row: a model whose terms could pass 2^29 is refused
    # at construction instead of making a long int (MemoryError under heap_lock) at a decision
    from firmware.fall.detector import FallDetector
    from firmware.fall.model import MODEL
    for bad in ((-1, 30, 150, 0, 1 << 20, 1000, 8000),  # peak weight 2^20 x 8000
                (-(1 << 29), 30, 150, 0, 1, 0, 8000),  # the bias alone
                (0, 30, 150, ~2, 1, 1 << 29, 0),  # a stump's if_le
                ((0, 30, 150, 0, 1, 0, 8000), (0, 30, 150, 13, -(1 << 18), -4000, 4000))):  # second expert
        try:
            FallDetector(model=bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (bad,))
    FallDetector(model=(-(1 << 28), 30, 150, 0, 1 << 14, 0, 8000))  # 2^28 + 2^27 + ...: fits
    FallDetector(model=MODEL)  # the shipped experts


# ---- microphone and audio ---------------------------------------------------------------------------

_WORDS = (0x7FFFFF00, 0x80000000, 0x800000FF, 0xFFFFFF00, 0x00000100, 0x7FFFFFFF, 0xFFFFFFFF,
          0x00007F00, 0x40000000, 0xC0000000, 0x00000000, 0x7FFF0000, 0x80010000)


def _pcm_ref(word, shift):
    s = word - 0x100000000 if word >= 0x80000000 else word
    v = s >> shift
    return 32767 if v > 32767 else (-32768 if v < -32768 else v)


def test_inmp441_full_scale_i2s_words():
    from drivers.inmp441 import _to_pcm16
    n = 505
    raw = bytearray(4 * n)
    for i in range(n):
        struct.pack_into("<I", raw, 4 * i, _WORDS[i % len(_WORDS)])
    pcm = bytearray(2 * n)
    for shift in range(8, 17):
        micropython.heap_lock()
        try:
            _to_pcm16(raw, pcm, n, shift)
        finally:
            micropython.heap_unlock()
        for i in range(n):
            want = _pcm_ref(_WORDS[i % len(_WORDS)], shift)
            got = struct.unpack_from("<h", pcm, 2 * i)[0]
            assert got == want, (shift, i, hex(_WORDS[i % len(_WORDS)]), got, want)


class _WordsI2S:
    """Non-blocking I2S RX: readinto() only takes the buffer; deliver() fills it and runs the callback
    with the heap locked, as the port's scheduled callback must run without allocating."""

    def __init__(self):
        self.cb = None
        self.buf = None

    def irq(self, handler):
        self.cb = handler

    def readinto(self, buf):
        self.buf = buf
        return 0

    def deliver(self, raw):
        b = self.buf
        for i in range(len(raw)):
            b[i] = raw[i]
        micropython.heap_lock()
        try:
            self.cb(self)
        finally:
            micropython.heap_unlock()


def test_mic_callback_to_ring_with_full_scale_words_allocates_nothing():
    from drivers.inmp441 import Inmp441
    from firmware.core import ima_adpcm
    from firmware.evidence.audio_ring import AudioRing
    n = 505
    raw = bytearray(4 * n)
    for i in range(n):
        struct.pack_into("<I", raw, 4 * i, _WORDS[(i // 7) % len(_WORDS)])
    i2s = _WordsI2S()
    m = Inmp441(i2s, shift=8)  # the most gain: nearly every word saturates
    ring = AudioRing(seconds=1, rate=8000, headroom_s=1)
    m.start(ring.push)
    for _ in range(40):  # more blocks than the ring holds: slots are reused
        i2s.deliver(raw)
    assert m.blocks == 40 and ring.total == 40
    for i in range(n):
        assert struct.unpack_from("<h", m.pcm, 2 * i)[0] == _pcm_ref(_WORDS[(i // 7) % len(_WORDS)], 8), i
    dec = ima_adpcm.decode_block(ring.block(39))
    assert len(dec) == n and max(dec) <= 32767 and min(dec) >= -32768


def test_adpcm_full_scale_steps_without_allocation():
    from firmware.core import ima_adpcm as A
    n = A.BLOCK_SAMPLES
    sig = [0 if i % 17 == 1 else (32767 if (i // 3) % 2 else -32768) for i in range(n)]
    pcm = struct.pack("<%dh" % n, *sig)
    out = bytearray(256)
    ref = bytearray(256)
    st = A.new_state()
    st_ref = A.new_state()
    for index in (0, 88):  # the smallest and the largest step to start from
        st[A.ST_INDEX] = st_ref[A.ST_INDEX] = index
        st[A.ST_OUT] = st_ref[A.ST_OUT] = st[A.ST_PCM] = st_ref[A.ST_PCM] = 0
        micropython.heap_lock()
        try:
            A.encode_block(pcm, out, st)
        finally:
            micropython.heap_unlock()
        A.encode_block_py(pcm, ref, st_ref)
        assert out == ref and list(st) == list(st_ref), index


# ---- NMEA ---------------------------------------------------------------------------------------------

def _nmea(body):
    ck = 0
    for c in body:
        ck ^= ord(c)
    return ("$%s*%02X\r\n" % (body, ck)).encode()


def test_nmea_worst_case_sentences_allocate_nothing():
    # largest coordinates (minutes x 1e7 up to 599,999,999), a leap second with extra digits, and an
    # HDOP of 9 digits: scaled x 100 it was 10^10, a long int (the sentence was lost as malformed)
    from firmware.core.nmea import NmeaParser
    lines = (
        _nmea("GPGGA,235960.999999,8959.9999999,S,17959.9999999,W,1,12,100000000,99999.9,M,0.0,M,,"),
        _nmea("GPRMC,235960.999999,A,8959.9999999,S,17959.9999999,W,999.99,359.99,311299,,,A"),
        _nmea("GPGSA,A,3,01,02,03,04,05,06,07,08,09,10,11,12,99.9,100000000,99.9"),
    )
    for ln in lines:
        assert len(ln) <= 120
    p = NmeaParser()
    micropython.heap_lock()
    try:
        for ln in lines:
            p.feed(ln)
    finally:
        micropython.heap_unlock()
    assert (p.ok, p.malformed, p.badsum, p.errors) == (3, 0, 0, 0), (p.ok, p.malformed, p.badsum, p.errors)
    p.flush()
    f = p.fix
    assert f.mode == 3 and f.lat_e6 == -90000000 and f.lon_e6 == -180000000, (f.mode, f.lat_e6, f.lon_e6)
    assert f.tod_ms == 86400999 and f.hdop is None and f.sats == 12


def test_nmea_hdop_scaling_saturates_below_2_30():
    from firmware.core.nmea import NmeaParser
    p = NmeaParser()
    p.feed(_nmea("GPGSA,A,3,01,02,03,04,,,,,,,,,1.5,100000000,1.2"))
    assert p.ok == 1 and p._e_hdop == 999999999, p._e_hdop
    p.feed(_nmea("GPGSA,A,3,01,02,03,04,,,,,,,,,1.5,10000000,1.2"))
    assert p._e_hdop == 999999999  # 10^9
    p.feed(_nmea("GPGSA,A,3,01,02,03,04,,,,,,,,,1.5,9999999.9,1.2"))
    assert p._e_hdop == 999999990  # exact below the bound
    p.feed(_nmea("GPGSA,A,3,01,02,03,04,,,,,,,,,1.5,1.23,1.2"))
    assert p._e_hdop == 123


# ---- time stamps carried across a deep sleep as ages -------------------------------------------------

def test_stamps_older_than_the_ticks_span_survive_a_deep_sleep():
    # A device left still for 6 days keeps carrying its last motion / GNSS attempt stamp as an age;
    # age + sleep passed 2^29 ms, and ticks_add() raised OverflowError in resume() on the ESP32: the
    # power task failed to start and the button stayed awake until its battery was flat. Stamps past
    # firmware.core.uptime.STALE_MS (3.1 days) now come back as None: "long ago".
    from time import ticks_diff
    from firmware.location.gnss_power import GnssPower
    from firmware.power.modem import READY, ModemPolicy
    from firmware.power.policy import PowerPolicy
    age = 520000000  # 6 days: below 2^29 (536,870,912), so ticks_diff() could still give it
    gap = 21600000  # the longest deep sleep (max_deep_s 6 h)
    now = 12345
    p = PowerPolicy({"low_power": True})
    p.resume({"m": age, "w": age, "f": age - 1000}, now, gap)
    assert p._motion_t is None and p._walk_t is None and p._fix_t is None
    assert not p.moving(now) and p.refresh_useful()  # no attempt for days: a refresh is worth it
    g = GnssPower({"gnss_refresh": [[0, 1800]]}, now=None)
    g.resume({"r": age}, now, gap)
    assert g.next_check_ms(now) == 0 and g.want_on(now)  # overdue: refresh at once
    m = ModemPolicy({"modem_mode": READY, "check_s": 3600}, None, now, "sleep")
    m.resume({"c": age}, now, gap)
    assert m.check_due(now)
    p.resume({"m": 1000}, now, 2000)  # ordinary ages are kept to the ms
    assert ticks_diff(now, p._motion_t) == 3000


# ---- kept as long ints (not hot): still correct on the 32-bit VM ------------------------------------

def test_power_accounting_beyond_2_30_ms_round_trips():
    # state times pass 2^30 ms after 12.4 days: long ints in the accounting (power task, not an ISR)
    from firmware.power.policy import Accounting
    day = 86400000
    acc = Accounting(0)
    acc.add("mcu", "deep", 20 * day)
    acc.add("modem", "off", 20 * day + 7)
    data = acc.dump(0)
    back, _x = Accounting.load(data, 0, slept_ms=day)  # the MCU was active at the dump: that day is "active"
    assert back.ms["mcu"]["deep"] == 20 * day and back.ms["mcu"]["active"] == day
    assert back.ms["modem"]["off"] == 21 * day + 7
    assert back.report(0)["elapsed_s"] == 21 * 86400 and back.elapsed_ms(0) > SMALL_MAX


def test_evidence_header_with_extreme_coordinates_and_times():
    # lat/lon x 1e7 pass 2^30 (lon 179.9999999 -> 1,799,999,999): a long int once per chunk, packed
    # as int32; start_utc_ms is a 64-bit field
    from firmware.evidence import store as evidence
    h = evidence.header(b"DEV", 1, 2, 3, 8000, 0, 4102444800000, 600000, 0x3FFFFFFF,
                        (-89.9999999, -179.9999999, 5, 0xFFFFFFFE), evidence.ZERO_HASH)
    data = h + evidence.trailer(0, evidence.T_FINAL)
    p = evidence.parse(data)
    assert p["position"]["lat"] == -899999999 / 1e7 and p["position"]["lon"] == -1799999999 / 1e7
    assert p["start_utc_ms"] == 4102444800000 and p["start_ticks_ms"] == 0x3FFFFFFF
    assert p["position"]["age_s"] == 0xFFFFFFFE
