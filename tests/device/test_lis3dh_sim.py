# The simulated LIS3DH (boards/simlib/lis3dh_sim.py) at register level, without the driver: what a host
# writes and reads over I2C, checked against the datasheet (DocID17530 Rev 2) and ST's AN3308. The
# expected values come from those texts (cited per test), not from the model.
from lis3dh_sim import SimLIS3DH

CTRL_REG1 = 0x20
CTRL_REG2 = 0x21
CTRL_REG3 = 0x22
CTRL_REG4 = 0x23
CTRL_REG5 = 0x24
CTRL_REG6 = 0x25
REFERENCE = 0x26
OUT_X_L = 0x28
FIFO_CTRL = 0x2E
FIFO_SRC = 0x2F
INT1_CFG, INT1_SRC, INT1_THS, INT1_DUR = 0x30, 0x31, 0x32, 0x33
INT2_CFG, INT2_SRC, INT2_THS, INT2_DUR = 0x34, 0x35, 0x36, 0x37


def w(bus, reg, val):
    bus.writeto_mem(0x18, reg, bytes((val,)))


def r(bus, reg):
    b = bytearray(1)
    bus.readfrom_mem_into(0x18, reg, b)
    return b[0]


def chip(fs=0x20, odr=0x4, fifo=True, ctrl5=0):
    # normal mode, X/Y/Z on, the given full scale (default +-8 g) and ODR (default 50 Hz)
    bus = SimLIS3DH(int1_pin=None)
    w(bus, CTRL_REG1, (odr << 4) | 0x07)
    w(bus, CTRL_REG4, 0x80 | fs)
    w(bus, CTRL_REG5, (0x40 if fifo else 0) | ctrl5)
    return bus


def x_of(bus):
    # one FIFO sample read as the driver does (6 bytes from OUT_X_L with auto-increment): x in mg at +-8 g
    b = bytearray(6)
    bus.readfrom_mem_into(0x18, OUT_X_L | 0x80, b)
    v = b[0] | (b[1] << 8)
    if v & 0x8000:
        v -= 0x10000
    return (v >> 6) * 16


def push_x(bus, values):
    for v in values:
        bus.push_mg(v, 0, 1000)


def push_x0(bus, values):
    for v in values:
        bus.push_mg(v, 0, 0)


def test_fifo_mode_fills_to_32_then_stops_until_bypass():
    # 5.1.2: FIFO mode fills to 32 samples, then stops collecting, the content unchanged; 5.1.1: bypass
    # must be used to reset it. 8.19: OVRN_FIFO with 32 unread (AN3308 table: FSS then reads 11111).
    bus = chip()
    w(bus, FIFO_CTRL, 0x40)  # FM = 01 FIFO
    push_x(bus, [16 * i for i in range(40)])
    assert r(bus, FIFO_SRC) & 0x7F == 0x40 | 31
    assert x_of(bus) == 0  # the first sample is still there: the last 8 were not stored
    push_x(bus, [999])  # a slot is free, but FIFO mode stopped when full
    assert [x_of(bus) for _ in range(31)][-1] == 16 * 31
    assert r(bus, FIFO_SRC) & 0x20  # EMPTY
    push_x(bus, [32])
    assert r(bus, FIFO_SRC) & 0x3F == 0x20  # still stopped
    w(bus, FIFO_CTRL, 0x00)  # bypass resets it
    w(bus, FIFO_CTRL, 0x40)
    push_x(bus, [48])
    assert r(bus, FIFO_SRC) & 0x3F == 1 and x_of(bus) == 48


def test_stream_mode_drops_the_oldest():
    # 5.1.3: when full, older data is replaced by the current data
    bus = chip()
    w(bus, FIFO_CTRL, 0x80)
    push_x(bus, [16 * i for i in range(40)])
    assert r(bus, FIFO_SRC) & 0x40
    assert x_of(bus) == 16 * 8


def test_fifo_src_flags_empty_watermark_count():
    # 5.1 / 8.19 and AN3308's FIFO_SRC table: EMPTY with nothing unread; WTM once FTH + 1 are unread
    # (the number the watermark interrupt asks to read, 5.1.3), low again once read down to FTH
    bus = chip()
    w(bus, FIFO_CTRL, 0x80 | 15)  # stream, FTH 15
    assert r(bus, FIFO_SRC) == 0x20
    push_x(bus, [0] * 15)
    assert r(bus, FIFO_SRC) == 15
    push_x(bus, [0])
    assert r(bus, FIFO_SRC) == 0x80 | 16
    x_of(bus)
    assert r(bus, FIFO_SRC) == 15


def test_bypass_keeps_only_the_latest_sample_in_the_output_registers():
    # 5.1.1: in bypass the FIFO stays empty, only the first address is used: the latest sample
    bus = chip(fifo=False)
    push_x(bus, [160, 320])
    assert r(bus, FIFO_SRC) & 0x20
    assert x_of(bus) == 320 and x_of(bus) == 320  # a read does not consume it


def arm_impact(bus, ths, dur=0, latch=True, hp=False):
    # generator 1: OR of the X/Y/Z high events, routed to INT1
    w(bus, CTRL_REG2, 0x01 if hp else 0)
    w(bus, CTRL_REG5, 0x40 | (0x08 if latch else 0))
    w(bus, INT1_THS, ths)
    w(bus, INT1_DUR, dur)
    w(bus, INT1_CFG, 0x2A)
    w(bus, CTRL_REG3, 0x40)


def test_stream_to_fifo_keeps_the_32_samples_up_to_the_trigger():
    # 5.1.4: stream while the TR pin (0: INT1) is low, FIFO mode while it is high, switching with the
    # pin; with the FIFO full at the trigger, FIFO mode (5.1.2) stops at once
    bus = chip()
    arm_impact(bus, ths=32)  # 32 x 62 mg = 1984 mg on an axis, latched
    w(bus, FIFO_CTRL, 0xC0)  # FM = 11, TR = 0
    push_x(bus, [16 * i for i in range(50)])  # stream: the FIFO holds samples 18..49
    push_x(bus, [2500])  # X high: INT1 rises on this sample
    assert bus.int1 == 1 and r(bus, FIFO_SRC) & 0x40
    push_x(bus, [3000, 100, 200])  # after the trigger: not stored
    xs = [x_of(bus) for _ in range(32)]
    assert xs[0] == 16 * 19 and xs[-1] == 2496, (xs[0], xs[-1])  # 19..49 and the trigger (quantised)
    push_x(bus, [300])  # still FIFO mode while INT1 is high (latched): the FIFO stays stopped
    assert r(bus, FIFO_SRC) & 0x20
    assert r(bus, INT1_SRC) & 0x42 == 0x42  # IA + XH; the read clears the latch: INT1 low
    assert bus.int1 == 0
    push_x(bus, [400, 480])  # stream again
    assert r(bus, FIFO_SRC) & 0x3F == 2 and x_of(bus) == 400


def test_stream_to_fifo_on_the_int2_pin_with_tr():
    # 8.18 TR = 1: the trigger is the INT2 pin; CTRL_REG6 I2_IA1 routes generator 1 there
    bus = chip()
    arm_impact(bus, ths=32)
    w(bus, CTRL_REG3, 0)  # not on INT1
    w(bus, CTRL_REG6, 0x40)  # I2_IA1
    w(bus, FIFO_CTRL, 0xC0 | 0x20)
    push_x(bus, [0] * 40 + [2500])
    assert bus.int1 == 0 and bus.int2 == 1
    push_x(bus, [100])
    assert r(bus, FIFO_SRC) & 0x40  # 32, frozen
    assert [x_of(bus) for _ in range(32)][-1] == 2496


def test_threshold_lsb_follows_the_full_scale():
    # 8.21 INT1_THS: 1 LSB = 16 mg at +-2 g, 32 mg at +-4 g, 62 mg at +-8 g, 186 mg at +-16 g
    for fs, lsb in ((0x00, 16), (0x10, 32), (0x20, 62), (0x30, 186)):
        bus = chip(fs=fs)
        arm_impact(bus, ths=5)
        bus.push_mg(5 * lsb - 10, 0, 0)
        assert bus.int1 == 0, fs
        bus.push_mg(5 * lsb + 10, 0, 0)
        assert bus.int1 == 1, fs


def test_duration_counts_samples_at_the_odr_and_the_latch():
    # 8.23 INT1_DURATION: the event must last that many 1/ODR steps; 8.5 LIR_INT1: latched until
    # INT1_SRC is read; without it the source follows the event
    bus = chip(odr=0x3)  # 25 Hz: the world at 50 Hz gives the chip every second sample
    arm_impact(bus, ths=10, dur=3, latch=False)  # 620 mg for 3 chip samples (120 ms)
    push_x0(bus, [900] * 4)  # 2 chip samples
    assert bus.int1 == 0
    push_x0(bus, [900] * 2)  # the third
    assert bus.int1 == 1 and bus.regs[INT1_SRC] & 0x40
    push_x0(bus, [0, 0])
    assert bus.int1 == 0  # not latched: low with the event
    w(bus, CTRL_REG5, 0x40 | 0x08)
    push_x0(bus, [900] * 6 + [0] * 20)
    assert bus.int1 == 1  # latched
    assert r(bus, INT1_SRC) & 0x40 and bus.int1 == 0 and r(bus, INT1_SRC) == 0


def test_high_pass_filter_removes_gravity_and_reference_settles_it():
    # 8.3 CTRL_REG2 HP_IA1: filtered data to generator 1; 8.8: reading REFERENCE resets the filter
    bus = chip()
    arm_impact(bus, ths=8, hp=True)  # 496 mg
    bus.push_mg(0, 0, 0)
    r(bus, REFERENCE)
    for _ in range(100):  # 1 g on Z: a step, then constant: the filter decays to 0
        bus.push_mg(0, 0, 1000)
    r(bus, INT1_SRC)
    for _ in range(50):
        bus.push_mg(0, 0, 1000)
    assert bus.int1 == 0
    unfiltered = chip()
    arm_impact(unfiltered, ths=8)
    unfiltered.push_mg(0, 0, 1000)
    assert unfiltered.int1 == 1  # gravity itself is over 496 mg


def test_free_fall_is_the_and_of_the_lows_on_generator_2():
    # AN3308 free fall: AND of XL, YL, ZL (INT2_CFG 0x95), ~350 mg for ~30 ms; routed to INT1 by I1_IA2
    bus = chip()
    w(bus, CTRL_REG5, 0x40 | 0x02)  # LIR_INT2
    w(bus, INT2_THS, 6)  # 372 mg
    w(bus, INT2_DUR, 2)
    w(bus, INT2_CFG, 0x95)
    w(bus, CTRL_REG3, 0x20)
    bus.push_mg(100, 100, 1000)  # Z still high
    bus.push_mg(100, 100, 1000)
    assert bus.int1 == 0
    bus.push_mg(100, -200, 300)
    assert bus.int1 == 0  # one sample: shorter than the duration
    bus.push_mg(-50, 200, 250)
    assert bus.int1 == 1
    assert r(bus, INT2_SRC) & 0x55 == 0x55  # IA + XL YL ZL


def test_6d_position_and_movement():
    # 8.20 INT1_CFG AOI/6D: 11 position (active while in a known direction), 01 movement (a change to
    # another known direction); the 6D events are signed: ZH z > THS, ZL z < -THS
    bus = chip()
    w(bus, INT1_THS, 10)  # 620 mg
    w(bus, INT1_CFG, 0xC0 | 0x3F)
    w(bus, CTRL_REG3, 0x40)
    bus.push_mg(0, 0, 1000)
    assert bus.int1 == 1 and bus.regs[INT1_SRC] == 0x40 | 0x20  # face up: ZH
    bus.push_mg(700, 0, 700)  # two directions at once: not a known position
    assert bus.int1 == 0
    bus.push_mg(0, 0, -1000)
    assert bus.regs[INT1_SRC] == 0x40 | 0x10  # ZL
    mv = chip()
    w(mv, INT1_THS, 10)
    w(mv, INT1_CFG, 0x40 | 0x3F)
    w(mv, CTRL_REG3, 0x40)
    mv.push_mg(0, 0, 1000)
    assert mv.int1 == 1  # entering ZH from no known position
    mv.push_mg(0, 0, 1000)
    assert mv.int1 == 0  # staying there is no movement
    mv.push_mg(0, -1000, 0)
    assert mv.int1 == 1 and mv.regs[INT1_SRC] == 0x40 | 0x04  # to YL
