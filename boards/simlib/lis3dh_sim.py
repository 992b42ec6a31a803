# Simulated LIS3DH on a simulated I2C bus: the chip's register file, the 32-level FIFO in its four modes,
# its two inertial interrupt generators and its two interrupt pins. The driver (drivers/lis3dh.py) runs
# against it unmodified; the simulated board feeds it samples from a trace. Modelled from the
# datasheet's description (DocID17530 Rev 2, sections 5.1, 6, 8) and ST's AN3308, not from a chip;
# tests/device/test_lis3dh_sim.py checks it register by register against those texts.
# FIFO (FIFO_CTRL_REG FM, CTRL_REG5 FIFO_EN):
#  - bypass: no buffering, the output registers hold the latest sample; writing bypass empties the FIFO
#    (the way to reset it after FIFO mode);
#  - FIFO: fills to 32 samples, then stops collecting until bypass is written again;
#  - stream: when full, the oldest sample is dropped for the new one;
#  - stream-to-FIFO: stream while the pin chosen by TR (0: INT1, 1: INT2) is low, FIFO mode while it is
#    high, switching at every sample: with a latched interrupt and a full FIFO it freezes on the 32
#    samples up to the one that raised the pin (that sample is stored, then the generator looks at it).
#  FIFO_SRC: WTM when more than FTH samples are unread (AN3308: the watermark interrupt asks to read
#  FTH + 1), OVRN_FIFO when 32 are unread (FSS then reads 31), EMPTY when none, FSS the count.
#  Burst reads from OUT_X_L roll from 0x2D back to 0x28 while the FIFO is on.
# Interrupt generators 1 (0x30-0x33) and 2 (0x34-0x37), the same engine:
#  - INTx_CFG: AOI, 6D, ZHIE ZLIE YHIE YLIE XHIE XLIE. AOI/6D = 00 OR of the enabled events, 10 AND of
#    them, 01 6D movement (the interrupt on the sample where the position changes to another known one),
#    11 6D position (while in a known position). Outside 6D a high event is |axis| > THS and a low
#    event |axis| < THS (free fall: the AND of the three lows, AN3308); in 6D they are signed (axis >
#    THS, axis < -THS) and a position is known when exactly one enabled event holds (D4D_INTx: Z left
#    out);
#  - INTx_THS: 7 bits of 16 / 32 / 62 / 186 mg at +-2 / 4 / 8 / 16 g;
#  - INTx_DURATION: 7 bits of 1/ODR: the combination must hold for that many consecutive chip samples
#    (0 or 1: the first); without latch the source follows the combination (IA low on the first sample
#    where it fails), with LIR_INTx in CTRL_REG5 it stays until INTx_SRC is read (the read clears it);
#  - CTRL_REG2 HP_IA1 / HP_IA2: the generator sees high-passed data, a first-order filter of about 1 Hz
#    at 50 Hz ODR (it acts per chip sample, so its cut-off scales with the ODR as the datasheet's HPCF
#    table says); reading REFERENCE settles it on the current sample.
#  INTx_SRC: IA and the six event flags of the sample that set it.
# Pins: INT1 = CTRL_REG3 I1_IA1 | I1_IA2 | I1_WTM | I1_OVERRUN, INT2 = CTRL_REG6 I2_IA1 | I2_IA2. INT1's
# level goes to the simulated Pin with the board's INT1 number, if one exists.
# Output rate: push_mg() is the world at src_hz (the traces: 50 Hz); the chip keeps one sample per 1/ODR
# (CTRL_REG1 ODR, a phase accumulator: at 25 Hz every second one), none powered down.
import machine

from drivers.lis3dh import ADDR_DEFAULT

# full scale bits (CTRL_REG4 FS) -> mg per digit of the left-justified 16-bit sample >> 4 (12-bit)
_MG_12BIT = {0x00: 1, 0x10: 2, 0x20: 4, 0x30: 12}
# CTRL_REG1 ODR field -> Hz (0: power-down)
_ODR_HZ = (0, 1, 10, 25, 50, 100, 200, 400, 1620, 1344)
# full scale bits -> INTx_THS mg per LSB (datasheet 8.21 / 8.25)
_THS_MG = {0x00: 16, 0x10: 32, 0x20: 62, 0x30: 186}
FM_BYPASS = 0
FM_FIFO = 1
FM_STREAM = 2
FM_STREAM_TO_FIFO = 3


class _Generator:
    """One inertial interrupt generator: registers at base (CFG, SRC, THS, DURATION)."""

    def __init__(self, chip, base, hp_bit, lir_bit, d4d_bit):
        self.chip = chip
        self.base = base
        self.hp_bit = hp_bit
        self.lir_bit = lir_bit
        self.d4d_bit = d4d_bit
        self.ref = None  # high-pass filter state (mg) per axis
        self.count = 0  # consecutive samples the combination held
        self.pos = 0  # 6D: the last known position (its event flag), 0 none

    def sample(self, x, y, z):
        regs = self.chip.regs
        b = self.base
        cfg = regs[b]
        if self.ref is None:
            self.ref = [x, y, z]
        hp = regs[0x21] & self.hp_bit
        ths = regs[b + 2] * _THS_MG[regs[0x23] & 0x30]
        six = cfg & 0x40
        aoi = cfg & 0x80
        flags = 0
        for k, v in enumerate((x, y, z)):
            d = v - self.ref[k] if hp else v
            self.ref[k] += (v - self.ref[k]) // 8  # ~1 Hz first-order high-pass at 50 Hz
            if six:
                if d > ths:
                    flags |= 0x02 << (2 * k)
                elif d < -ths:
                    flags |= 0x01 << (2 * k)
            else:
                a = -d if d < 0 else d
                flags |= (0x02 if a > ths else 0x01 if a < ths else 0) << (2 * k)
        en = cfg & 0x3F
        if six and regs[0x24] & self.d4d_bit:
            en &= 0x0F  # 4D: Z left out
        ev = flags & en
        if six:
            known = ev if ev and not ev & (ev - 1) else 0  # exactly one direction
            if aoi:  # position: while in a known one
                hold = known != 0
            else:  # movement: the sample where it changes to another known one
                hold = known != 0 and known != self.pos
            if known:
                self.pos = known
        elif aoi:
            hold = en != 0 and ev == en
        else:
            hold = ev != 0
        self.count = self.count + 1 if hold else 0
        latched = regs[0x24] & self.lir_bit
        if hold and self.count >= max(1, regs[b + 3] & 0x7F):
            if not (latched and regs[b + 1] & 0x40):
                regs[b + 1] = 0x40 | ev  # IA + the events of the sample that set it
        elif not latched:
            regs[b + 1] = 0

    def settle(self):
        self.ref = None


class SimLIS3DH:
    """I2C bus with one LIS3DH. Allocation-free on reads (preallocated FIFO storage)."""

    def __init__(self, addr=ADDR_DEFAULT, who=0x33, int1_pin=39, src_hz=50, answers=True):
        self.addr = addr
        self.answers = answers  # False: a dead or unwired chip, nobody acknowledges on the bus
        self.src_hz = src_hz  # rate of push_mg() calls (the world)
        self._phase = 0
        self.regs = bytearray(256)
        self.regs[0x0F] = who
        self.writes = []
        self.fifo = bytearray(6 * 32)
        self.fifo_n = 0
        self.fifo_head = 0
        self.stopped = False  # FIFO mode filled up: no more samples until bypass (or stream again)
        self.latest = bytearray(6)  # the output registers in bypass mode
        self.reads = 0
        self.int1_pin = int1_pin
        self.int1 = 0
        self.int2 = 0
        self.gen1 = _Generator(self, 0x30, 0x01, 0x08, 0x04)
        self.gen2 = _Generator(self, 0x34, 0x02, 0x02, 0x01)
        self.pushed = 0
        self.triggered_at = None  # self.pushed when stream-to-FIFO switched to FIFO mode (a test aid)

    # FIFO --------------------------------------------------------------------------------------------
    def fifo_mode(self):
        """FM_BYPASS, FM_FIFO, FM_STREAM or FM_STREAM_TO_FIFO (bypass while FIFO_EN is off)."""
        if not self.regs[0x24] & 0x40:
            return FM_BYPASS
        return self.regs[0x2E] >> 6

    def _acting_mode(self):
        fm = self.fifo_mode()
        if fm != FM_STREAM_TO_FIFO:
            return fm
        pin = self.int2 if self.regs[0x2E] & 0x20 else self.int1
        return FM_FIFO if pin else FM_STREAM

    def push_raw(self, x, y, z):
        """Store one sample of raw left-justified 16-bit counts as the FIFO's mode says."""
        lat = self.latest
        for k, v in enumerate((x, y, z)):
            v &= 0xFFFF
            lat[2 * k] = v & 0xFF
            lat[2 * k + 1] = v >> 8
        mode = self._acting_mode()
        if mode == FM_BYPASS:
            return
        if mode == FM_STREAM:
            self.stopped = False
        if self.fifo_n == 32:
            if mode == FM_FIFO:
                if not self.stopped and self.fifo_mode() == FM_STREAM_TO_FIFO:
                    self.triggered_at = self.pushed
                self.stopped = True
                return
            self.fifo_head = (self.fifo_head + 1) % 32  # stream mode: the oldest is dropped
            self.fifo_n -= 1
        elif mode == FM_FIFO and self.stopped:
            return  # stopped until bypass (datasheet 5.1.2)
        slot = (self.fifo_head + self.fifo_n) % 32
        self.fifo[6 * slot:6 * slot + 6] = lat
        self.fifo_n += 1
        if self.fifo_n == 32 and mode == FM_FIFO:
            self.stopped = True

    def reg_writes(self, reg):
        return [v for r, v in self.writes if r == reg]

    # machine.I2C subset --------------------------------------------------------------------------
    def _check(self, addr):
        if addr != self.addr or not self.answers:
            raise OSError(19)  # ENODEV: nobody acknowledges

    def writeto_mem(self, addr, reg, buf):
        self._check(addr)
        r = reg & 0x7F
        for b in buf:
            self.regs[r] = b
            self.writes.append((r, b))
            if r == 0x2E and (b & 0xC0) == 0:  # bypass mode empties the FIFO
                self.fifo_n = 0
                self.stopped = False
            if reg & 0x80:
                r += 1
        self._pins()

    def _fifo_src(self):
        n = self.fifo_n
        if self.fifo_mode() == FM_BYPASS:
            return 0x20
        wtm = 0x80 if n > (self.regs[0x2E] & 0x1F) else 0
        return wtm | (0x40 if n == 32 else 0) | (0x20 if n == 0 else 0) | (31 if n == 32 else n)

    def readfrom_mem_into(self, addr, reg, buf):
        self._check(addr)
        self.reads += 1
        r = reg & 0x7F
        inc = reg & 0x80
        fifo_on = self.fifo_mode() != FM_BYPASS
        for i in range(len(buf)):
            if 0x28 <= r <= 0x2D:
                if not fifo_on:
                    buf[i] = self.latest[r - 0x28]
                elif self.fifo_n:
                    buf[i] = self.fifo[6 * self.fifo_head + (r - 0x28)]
                else:
                    buf[i] = 0
                if fifo_on and r == 0x2D and self.fifo_n:  # one sample consumed
                    self.fifo_head = (self.fifo_head + 1) % 32
                    self.fifo_n -= 1
            elif r == 0x2F:
                buf[i] = self._fifo_src()
            elif r == 0x31 or r == 0x35:  # INTx_SRC: reading clears the latch
                buf[i] = self.regs[r]
                self.regs[r] = 0
            elif r == 0x26:  # REFERENCE: reading it settles the high-pass filter
                buf[i] = self.regs[r]
                self.gen1.settle()
                self.gen2.settle()
            else:
                buf[i] = self.regs[r]
            if inc:
                r += 1
                if fifo_on and r == 0x2E:
                    r = 0x28  # burst FIFO reads roll back to OUT_X_L
        self._pins()
        return None

    # pins ------------------------------------------------------------------------------------------
    def ms_to_watermark(self):
        """ms until the FIFO watermark raises INT1 at the ODR, None unless it is routed to INT1."""
        if not self.regs[0x22] & 0x04 or not self.odr_hz():
            return None
        return max(0, (self.regs[0x2E] & 0x1F) + 1 - self.fifo_n) * 1000 // self.odr_hz()

    def _pins(self):
        r3 = self.regs[0x22]
        r6 = self.regs[0x25]
        ia1 = self.regs[0x31] & 0x40
        ia2 = self.regs[0x35] & 0x40
        src = self._fifo_src() if self.fifo_mode() != FM_BYPASS else 0
        level = 0
        if (r3 & 0x40 and ia1) or (r3 & 0x20 and ia2):  # I1_IA1, I1_IA2
            level = 1
        if (r3 & 0x04 and src & 0x80) or (r3 & 0x02 and src & 0x40):  # I1_WTM, I1_OVERRUN
            level = 1
        self.int1 = level
        self.int2 = 1 if (r6 & 0x40 and ia1) or (r6 & 0x20 and ia2) else 0
        pin = machine.Pin._all.get(self.int1_pin) if self.int1_pin is not None else None
        if pin is not None:
            pin._drive(level)

    def odr_hz(self):
        return _ODR_HZ[self.regs[0x20] >> 4]

    def _sampled(self):
        # does the chip take this world sample at its ODR?
        odr = self.odr_hz()
        if odr >= self.src_hz:
            self._phase = 0
            return True
        self._phase += odr
        if self._phase < self.src_hz:
            return False
        self._phase -= self.src_hz
        return True

    def push_mg(self, x, y, z):
        """One world sample (mg) at src_hz: if the chip samples it at its ODR, quantised as the
        configured range and mode would, stored as the FIFO mode says (before the generators look at
        it), then both generators and the pins."""
        if not self._sampled():
            return
        fs = self.regs[0x23] & 0x30
        lp = self.regs[0x20] & 0x08
        hr = self.regs[0x23] & 0x08
        shift = 8 if lp else (4 if hr else 6)
        mg = _MG_12BIT[fs] << (shift - 4)
        if fs == 0x30 and not hr:  # 16 g: 48 mg/digit normal, 192 low-power (datasheet table 4)
            mg = 192 if lp else 48
        lim = (1 << (15 - shift)) - 1
        raw = []
        for v in (x, y, z):
            d = int(v / mg)
            d = -lim - 1 if d < -lim - 1 else (lim if d > lim else d)
            raw.append(d << shift)
        self.push_raw(raw[0], raw[1], raw[2])
        self.pushed += 1
        self.gen1.sample(x, y, z)
        self.gen2.sample(x, y, z)
        self._pins()
