# LIS3DH driver against a fake I2C bus that emulates the chip's register file: WHO_AM_I, the
# written configuration, the 32-level FIFO with the 0x2D -> 0x28 address roll-over of burst reads,
# FIFO_SRC, and latched interrupt sources cleared on read.
import array
import micropython

from drivers.lis3dh import LIS3DH, ADDR_DEFAULT


from lis3dh_sim import SimLIS3DH as FakeLIS3DH  # the simulated board's chip (boards/simlib)


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc:
        return True
    raise AssertionError("expected %s" % exc.__name__)


def test_who_am_i_checked():
    raises(OSError, LIS3DH, FakeLIS3DH(who=0x32))  # a different ST part
    raises(OSError, LIS3DH, FakeLIS3DH(addr=0x19))  # nothing at 0x18
    bus = FakeLIS3DH(addr=0x19)
    acc = LIS3DH(bus, addr=0x19)
    assert acc.addr == 0x19


def test_who_am_i_readable_while_running_and_a_silent_chip_raises():
    bus = FakeLIS3DH()
    acc = LIS3DH(bus)
    bus.push_mg(0, 0, 1000)
    writes = len(bus.writes)
    assert acc.who_am_i() == 0x33 and acc.fifo_count() == 1  # the FIFO is left alone
    assert len(bus.writes) == writes  # and the configuration too
    bus.answers = False  # the chip died or came unwired after boot (the self-test's case)
    raises(OSError, acc.who_am_i)
    raises(OSError, LIS3DH, FakeLIS3DH(answers=False))


def test_bad_settings_raise_value_error():
    raises(ValueError, LIS3DH, FakeLIS3DH(), range_g=3)
    raises(ValueError, LIS3DH, FakeLIS3DH(), rate_hz=30)
    raises(ValueError, LIS3DH, FakeLIS3DH(), mode="turbo")
    bus = FakeLIS3DH()
    try:
        LIS3DH(bus, rate_hz=400)
    except ValueError:
        pass
    else:
        raise AssertionError("400 Hz accepted")
    assert bus.writes == []  # nothing written to a chip with bad settings


def test_register_writes_8g_50hz_normal():
    bus = FakeLIS3DH()
    LIS3DH(bus, range_g=8, rate_hz=50, mode="normal")
    assert bus.regs[0x20] == 0x47, hex(bus.regs[0x20])  # ODR 50 Hz, LPen 0, XYZ on
    assert bus.regs[0x23] == 0xA0, hex(bus.regs[0x23])  # BDU, FS +-8 g, HR 0
    assert bus.regs[0x24] & 0x40  # FIFO enabled
    assert bus.regs[0x2E] == 0x80  # stream mode
    assert bus.reg_writes(0x2E) == [0x00, 0x80]  # through bypass: FIFO cleared first


def test_register_writes_16g_25hz_low_power():
    bus = FakeLIS3DH()
    LIS3DH(bus, range_g=16, rate_hz=25, mode="low-power")
    assert bus.regs[0x20] == 0x3F, hex(bus.regs[0x20])  # ODR 25 Hz, LPen 1, XYZ on
    assert bus.regs[0x23] == 0xB0, hex(bus.regs[0x23])  # BDU, FS +-16 g


def _counts(mg, per_digit, shift):
    return (mg // per_digit) << shift


def test_fifo_burst_conversion_8g_normal():
    bus = FakeLIS3DH()
    acc = LIS3DH(bus, range_g=8, rate_hz=50, mode="normal")
    # 16 mg/digit, 10-bit left-justified: counts << 6
    want = [(1008, -16, 0), (-2000, 7984, -8176), (48, 1600, -992)]
    for x, y, z in want:
        bus.push_raw(_counts(x, 16, 6), _counts(y, 16, 6), _counts(z, 16, 6))
    assert acc.fifo_count() == 3
    out = array.array("h", [0] * 96)
    reads = bus.reads
    n = acc.read_fifo(out)
    assert n == 3
    assert bus.reads - reads == 2  # FIFO_SRC + one burst for all the data
    got = [tuple(out[3 * i:3 * i + 3]) for i in range(n)]
    assert got == want, got
    assert acc.fifo_count() == 0
    assert acc.read_fifo(out) == 0


def test_low_power_16g_conversion_and_low_bits_ignored():
    bus = FakeLIS3DH()
    acc = LIS3DH(bus, range_g=16, rate_hz=25, mode="low-power")
    # 192 mg/digit, 8-bit: counts << 8; the chip's unused low bits may hold noise
    bus.push_raw((5 << 8) | 0x3F, (-1 << 8) | 0x80, (127 << 8))
    out = [0, 0, 0]
    assert acc.read_fifo(out) == 1
    assert out == [960, -192, 24384], out


def test_full_fifo_reads_32_and_respects_room():
    bus = FakeLIS3DH()
    acc = LIS3DH(bus, range_g=8, rate_hz=50)
    for i in range(40):  # overrun: stream mode keeps the newest 32
        bus.push_raw(_counts(16 * i, 16, 6), 0, _counts(1008, 16, 6))
    assert acc.fifo_count() == 32
    small = array.array("h", [0] * 30)  # room for 10 samples only
    assert acc.read_fifo(small) == 10
    assert small[0] == 16 * 8 and small[27] == 16 * 17, (small[0], small[27])
    big = array.array("h", [0] * 96)
    assert acc.read_fifo(big) == 22
    assert big[3 * 21] == 16 * 39


def test_read_fifo_does_not_allocate():
    bus = FakeLIS3DH()
    acc = LIS3DH(bus, range_g=8, rate_hz=50)
    out = array.array("h", [0] * 96)
    for i in range(32):
        bus.push_raw(_counts(16 * i, 16, 6), _counts(-16 * i, 16, 6), _counts(1008, 16, 6))
    micropython.heap_lock()
    try:
        n = acc.read_fifo(out)
    finally:
        micropython.heap_unlock()
    assert n == 32 and out[3 * 31] == 496 and out[3 * 31 + 1] == -496


def test_single_sample_read():
    bus = FakeLIS3DH()
    acc = LIS3DH(bus, range_g=8, rate_hz=50, fifo=False)
    assert bus.regs[0x2E] == 0 and not bus.regs[0x24] & 0x40
    bus.regs[0x24] = 0  # fake: OUT registers hold the latest sample
    bus.push_raw(_counts(-1008, 16, 6), _counts(32, 16, 6), _counts(992, 16, 6))
    assert acc.read_mg() == (-1008, 32, 992)


def test_wake_and_freefall_interrupts_on_int1():
    bus = FakeLIS3DH()
    acc = LIS3DH(bus, range_g=8, rate_hz=50)
    acc.enable_wake(threshold_mg=250, duration_ms=40)
    assert bus.regs[0x30] == 0x2A  # OR of X/Y/Z high events
    assert bus.regs[0x32] == 4  # 250 mg / 62 mg per LSB at +-8 g
    assert bus.regs[0x33] == 2  # 40 ms at 50 Hz
    assert bus.regs[0x21] == 0x01  # high-pass on generator 1 only (gravity removed)
    assert bus.regs[0x22] & 0x40  # I1_IA1
    acc.enable_freefall(threshold_mg=350, duration_ms=30)
    assert bus.regs[0x34] == 0x95  # AND of X/Y/Z low events
    assert bus.regs[0x36] == 6  # 350 / 62 rounded
    assert bus.regs[0x37] == 2  # 30 ms at 50 Hz, rounded
    assert bus.regs[0x22] & 0x60 == 0x60  # both generators on the INT1 pin
    assert bus.regs[0x24] & 0x0A == 0x0A  # latched
    bus.regs[0x31] = 0x42  # wake fired on X high
    bus.regs[0x35] = 0x55  # free fall fired
    assert acc.int_source() == (0x42, 0x55)
    assert acc.int_source() == (0, 0)  # latch cleared by the read
    raises(ValueError, acc.enable_wake, 10000)  # 161 LSB > 127
    raises(ValueError, acc.enable_freefall, 350, 5000)  # 250 samples > 127
    acc.disable_interrupts()
    assert bus.regs[0x22] & 0x60 == 0 and bus.regs[0x30] == 0 and bus.regs[0x34] == 0


def test_threshold_scale_follows_range():
    bus = FakeLIS3DH()
    acc = LIS3DH(bus, range_g=16, rate_hz=25)
    acc.enable_wake(threshold_mg=372, duration_ms=80)
    assert bus.regs[0x32] == 2  # 186 mg per LSB at +-16 g
    assert bus.regs[0x33] == 2  # 80 ms at 25 Hz


def test_int1_watermark_while_moving_activity_while_still():
    import machine
    pin = machine.Pin(39, machine.Pin.IN)
    bus = FakeLIS3DH(int1_pin=39)
    acc = LIS3DH(bus)
    acc.int1_fifo(25)
    assert bus.regs[0x22] & 0x04 and not bus.regs[0x22] & 0x40 and bus.regs[0x2E] == 0x80 | 24
    for i in range(25):
        assert pin.value() == 0
        bus.push_mg(0, 0, 1000)
    assert pin.value() == 1  # more than FTH = 24 samples: the watermark
    buf = array.array("h", bytes(6 * 32))
    assert acc.read_fifo(buf) == 25 and pin.value() == 0  # read: low again, not latched
    acc.int1_activity(250, 40)
    assert bus.regs[0x22] & 0x40 and not bus.regs[0x22] & 0x04
    assert bus.regs[0x21] == 0x01 and bus.regs[0x32] == 4 and bus.regs[0x33] == 2 and bus.regs[0x30] == 0x2A
    for i in range(100):  # still, gravity on z: the high-pass filter removes it
        bus.push_mg(0, 0, 1000)
    assert pin.value() == 0
    bus.push_mg(0, 400, 1000)  # one sample over the threshold: shorter than the 40 ms duration
    bus.push_mg(0, 0, 1000)
    assert pin.value() == 0
    for i in range(3):
        bus.push_mg(0, 600, 900)  # movement
    assert pin.value() == 1
    for i in range(50):
        bus.push_mg(0, 0, 1000)
    assert pin.value() == 1  # latched until INT1_SRC is read
    assert acc.int_source()[0] & 0x40 and pin.value() == 0


def test_keep_fifo_after_a_deep_sleep_wake_only_if_the_chip_still_streams():
    bus = FakeLIS3DH(int1_pin=None)
    LIS3DH(bus)
    for i in range(32):
        bus.push_mg(0, 0, 1000)
    acc = LIS3DH(bus, keep_fifo=True)  # the reboot: the chip kept its configuration and samples
    assert acc.kept_fifo and acc.fifo_count() == 32
    assert not LIS3DH(bus, keep_fifo=False).kept_fifo and bus.fifo_n == 0  # a cold boot clears it
    fresh = FakeLIS3DH(int1_pin=None)  # after a power loss the chip is unconfigured: configure it
    acc = LIS3DH(fresh, keep_fifo=True)
    assert not acc.kept_fifo and fresh.regs[0x20] == 0x47


def test_simulated_light_sleep_ends_at_the_watermark():
    import machine
    import time
    bus = FakeLIS3DH(int1_pin=None)
    acc = LIS3DH(bus)
    assert bus.ms_to_watermark() is None  # not routed: no wake from it
    acc.int1_fifo(25)
    for i in range(5):
        bus.push_mg(0, 0, 1000)
    assert bus.ms_to_watermark() == 20 * 20  # 20 more samples at 50 Hz
    machine._WAKE_HOOKS.append(bus.ms_to_watermark)
    try:
        t0 = time.ticks_ms()
        machine.lightsleep(5000)
        assert 350 <= time.ticks_diff(time.ticks_ms(), t0) < 1500
    finally:
        machine._WAKE_HOOKS.remove(bus.ms_to_watermark)


def test_sleep_rate_25hz_keeps_the_fifo_and_the_simulated_chip_samples_at_its_odr():
    bus = FakeLIS3DH(int1_pin=None)
    acc = LIS3DH(bus)
    assert acc.odr_hz == 50
    for i in range(10):
        bus.push_mg(0, 0, 1000)
    assert acc.fifo_count() == 10  # world at 50 Hz, chip at 50 Hz: every sample
    buf = array.array("h", bytes(6 * 32))
    acc.read_fifo(buf)
    acc.set_odr(25)
    assert acc.odr_hz == 25 and bus.regs[0x20] == 0x37  # ODR 25 Hz, normal mode, XYZ on
    assert bus.regs[0x2E] == 0x80 and bus.regs[0x24] & 0x40  # FIFO still streaming
    for i in range(40):  # 0.8 s of the world
        bus.push_mg(0, 0, 1000)
    assert acc.fifo_count() == 20  # 0.8 s at 25 Hz
    for i in range(100):
        bus.push_mg(0, 8 * i, 1000)  # a ramp: which world samples did the chip keep?
    assert acc.fifo_count() == 32  # full: 32 samples span 1.28 s now
    n = acc.read_fifo(buf)
    ys = [buf[3 * k + 1] for k in range(n)]
    steps = [ys[k + 1] - ys[k] for k in range(n - 1)]
    assert all(s in (12, 16, 20) for s in steps), steps  # 2 world samples (16 mg) apart, quantised to 4 mg
    assert sum(steps) == 16 * (n - 1)
    acc.int1_activity(250, 40)
    assert bus.regs[0x33] == 1  # 40 ms = 1 sample at 25 Hz
    # the reboot: the chip still streams at 25 Hz, which divides 50: the FIFO is kept
    acc2 = LIS3DH(bus, keep_fifo=True)
    assert acc2.kept_fifo and acc2.odr_hz == 25 and acc2.rate_hz == 50 and bus.regs[0x20] == 0x37
    acc2.set_odr(100)
    assert not LIS3DH(bus, keep_fifo=True).kept_fifo  # faster than the detector: reconfigured at 50
    assert bus.regs[0x20] == 0x47
    raises(ValueError, acc2.set_odr, 30)


def test_powered_down_chip_takes_no_samples():
    bus = FakeLIS3DH(int1_pin=None)
    acc = LIS3DH(bus)
    acc.power_down()
    for i in range(10):
        bus.push_mg(0, 0, 1000)
    assert bus.fifo_n == 0 and bus.ms_to_watermark() is None


def test_generator2_motion_watch_on_the_int1_pin_beside_generator1():
    # issue 22: INT2_CFG 0x34 / INT2_SRC 0x35 / INT2_THS 0x36 / INT2_DURATION 0x37, HP_IA2 (CTRL_REG2
    # bit 1), I1_IA2 (CTRL_REG3 0x20), latched by LIR_INT2 (CTRL_REG5 bit 1)
    import machine
    pin = machine.Pin(39, machine.Pin.IN)
    bus = FakeLIS3DH(int1_pin=39)
    acc = LIS3DH(bus, range_g=8, rate_hz=50)
    acc.int1_activity(250, 40)
    acc.int2_motion(threshold_mg=400, duration_ms=80)
    assert bus.regs[0x21] == 0x03  # HP_IA1 kept, HP_IA2 added
    assert bus.regs[0x34] == 0x2A and bus.regs[0x36] == 6 and bus.regs[0x37] == 4  # 400/62 mg, 4 x 20 ms
    assert bus.regs[0x22] & 0x60 == 0x60 and bus.regs[0x24] & 0x02
    acc.int1_fifo(25)  # the fall monitor takes both generators off the pin while moving...
    acc.int2_motion(400, 80)  # ...the power task arms it again before the sleep
    assert bus.regs[0x22] & 0x24 == 0x24 and bus.regs[0x30] == 0  # watermark + generator 2 only
    buf = array.array("h", bytes(6 * 32))
    for i in range(20):
        bus.push_mg(0, 0, 1000)
    acc.read_fifo(buf)
    assert pin.value() == 0 and not acc.int2_fired()  # gravity is filtered out
    for v in (0, 900, 900, 900, 0, 0):  # 3 samples beyond: shorter than 4 x 20 ms
        bus.push_mg(v, 0, 1000)
    acc.read_fifo(buf)
    assert pin.value() == 0 and bus.regs[0x35] == 0
    for i in range(5):
        bus.push_mg(0, 0, 1900)  # 5 samples on z: the filtered step stays beyond 372 mg for 4 of them
    assert bus.regs[0x35] == 0x40 | 0x20 and pin.value() == 1  # IA + ZH
    for i in range(50):
        bus.push_mg(0, 0, 1000)
    acc.read_fifo(buf)
    assert pin.value() == 1  # latched: the watermark is read, generator 2 still holds the pin
    assert acc.int2_fired() and pin.value() == 0 and not acc.int2_fired()  # the read cleared it
    acc.int2_off()
    assert bus.regs[0x22] & 0x20 == 0 and bus.regs[0x34] == 0 and bus.regs[0x21] == 0x01  # generator 1's HP kept
    for i in range(5):
        bus.push_mg(0, 0, 1900)
    assert pin.value() == 0 and bus.regs[0x35] == 0


def test_arming_generator2_again_says_whether_it_had_fired_and_int1_source_keeps_its_latch():
    # the power task reads the motion watch's latch only when it arms it again (the read the arming
    # does anyway); the fall monitor's clears read INT1_SRC alone
    bus = FakeLIS3DH(int1_pin=None)
    acc = LIS3DH(bus, range_g=8, rate_hz=50)
    acc.int1_activity(250, 40)
    assert acc.int2_motion(400, 80) is False
    for i in range(20):
        bus.push_mg(0, 0, 1000)
    assert acc.int2_motion(400, 80) is False  # nothing since: armed again, nothing to report
    for i in range(20):
        bus.push_mg(0, 0, 1000)
    for i in range(5):
        bus.push_mg(0, 0, 1900)
    assert bus.regs[0x35] & 0x40 and bus.regs[0x31] & 0x40  # both generators latched
    n = bus.reads
    acc.int1_source()
    assert bus.reads == n + 1 and bus.regs[0x31] == 0 and bus.regs[0x35] & 0x40  # generator 2's kept
    assert acc.int2_motion(400, 80) is True  # the arming's read reports it...
    assert bus.regs[0x35] == 0 and acc.int2_motion(400, 80) is False  # ...and cleared it


def test_generator2_unlatched_follows_the_condition_and_counts_samples_at_the_odr():
    bus = FakeLIS3DH(int1_pin=None)
    acc = LIS3DH(bus, range_g=8, rate_hz=50)
    acc.set_odr(25)
    acc.int2_motion(400, 80)
    assert bus.regs[0x37] == 2  # 80 ms = 2 samples at 25 Hz
    bus.writeto_mem(0x18, 0x24, bytes([bus.regs[0x24] & ~0x02]))  # LIR_INT2 off
    for i in range(20):
        bus.push_mg(0, 0, 1000)
    bus.push_mg(0, 0, 1900)  # the world at 50 Hz: the chip keeps every second sample
    bus.push_mg(0, 0, 1900)
    assert bus.int1 == 0  # one chip sample beyond: shorter than 2
    for i in range(2):
        bus.push_mg(0, 0, 1900)
    assert bus.int1 == 1 and bus.regs[0x35] & 0x60 == 0x60
    for i in range(40):
        bus.push_mg(0, 0, 1000)
    assert bus.int1 == 0 and bus.regs[0x35] == 0  # not latched: gone with the condition


def test_generator2_free_fall_is_an_and_of_low_events_on_raw_data():
    bus = FakeLIS3DH(int1_pin=None)
    acc = LIS3DH(bus, range_g=8, rate_hz=50)
    acc.int2_motion()
    acc.enable_freefall(350, 40)  # the same generator: raw data now (HP_IA2 off), AND of XL YL ZL
    assert bus.regs[0x21] & 0x02 == 0 and bus.regs[0x34] == 0x95
    for i in range(10):
        bus.push_mg(0, 0, 1000)
    assert bus.int1 == 0  # z carries gravity: not low
    bus.push_mg(100, -100, 200)
    bus.push_mg(100, -100, 200)
    assert bus.int1 == 1 and bus.regs[0x35] == 0x40 | 0x15  # IA + ZL YL XL, after 2 samples (40 ms)

def test_impact_wake_keeps_the_samples_before_the_impact_across_a_boot():
    import machine
    pin = machine.Pin(39, machine.Pin.IN)
    bus = FakeLIS3DH(int1_pin=39)
    acc = LIS3DH(bus)
    acc.int1_fifo(25)
    acc.set_odr(25)
    acc.int1_impact(1500, 0)
    assert bus.regs[0x30] == 0x2A and bus.regs[0x32] == 24 and bus.regs[0x33] == 0  # 1500 / 62 mg
    assert bus.regs[0x21] & 0x01 and bus.regs[0x24] & 0x08  # high-passed, latched
    assert bus.regs[0x22] & 0x44 == 0x40  # INT1: generator 1, no watermark
    assert bus.regs[0x25] & 0x40 and bus.regs[0x2E] & 0xE0 == 0xE0  # INT2 = trigger of stream-to-FIFO
    for i in range(200):  # walking-like swings of +-600 mg at 1.6 Hz (4 s of the world at 50 Hz)
        bus.push_mg(0, 600 if (i // 15) % 2 else -600, 1000)
    assert pin.value() == 0
    for i in range(80):  # a ramp: each sample tells which one it is
        bus.push_mg(0, 8 * i, 1000)
    bus.push_mg(3000, 0, 1000)  # the impact, two world samples: one chip sample at 25 Hz
    bus.push_mg(3000, 0, 1000)
    assert pin.value() == 1
    for i in range(25):  # the boot, 1 s: the chip samples on, the FIFO takes none of it
        bus.push_mg(0, 4000, 0)
    acc2 = LIS3DH(bus, keep_fifo=True)  # the reboot: stream-to-FIFO is kept as running
    assert acc2.kept_fifo and acc2.odr_hz == 25 and acc2.fifo_count() == 32
    buf = array.array("h", bytes(6 * 32))
    assert acc2.read_fifo(buf) == 32
    # ends at the impact (3000 mg read in 16 mg digits), the ramp's last chip sample before it (624 or
    # 632 mg read in 16 mg digits) and 31 chip samples of the ramp, 16 mg apart, before that
    assert buf[3 * 31] == 2992 and buf[3 * 30 + 1] == 624, (buf[3 * 31], buf[3 * 30 + 1])
    assert buf[1] == 624 - 30 * 16, buf[1]
    assert acc2.int_source()[0] & 0x42 == 0x42 and pin.value() == 0  # X high; latch cleared
    acc2.fifo_stream()
    assert bus.regs[0x2E] & 0xC0 == 0x80 and not bus.regs[0x25] & 0x40 and not bus.regs[0x22] & 0x40
    bus.push_mg(0, 0, 1000)
    bus.push_mg(0, 0, 1000)
    assert acc2.fifo_count() == 1  # streaming again (25 Hz until set_odr)


def test_impact_wake_values_checked():
    acc = LIS3DH(FakeLIS3DH(int1_pin=None))
    raises(ValueError, acc.int1_impact, 9000)  # 145 LSB at +-8 g
    raises(ValueError, acc.int1_impact, 1500, 5000)
