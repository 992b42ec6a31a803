# Simulated LIS3DH on a simulated I2C bus: the chip's register file, the 32-level FIFO in stream mode
# with the 0x2D -> 0x28 roll-over of burst reads, FIFO_SRC and latched interrupt sources. The driver
# (drivers/lis3dh.py) runs against it unmodified; the simulated board feeds it samples from a trace.
# INT1 (issue 8): the FIFO watermark (CTRL_REG3 I1_WTM: more than FTH samples) and interrupt generator
# 1 (I1_IA1) with the high-pass filter (HP_IA1) as a first-order filter of about 1 Hz at 50 Hz ODR
# (reading REFERENCE settles it on the current sample), the OR of high events on |filtered axis| >
# INT1_THS for INT1_DURATION samples, latched (LIR_INT1) until INT1_SRC is read. The level goes to
# the simulated Pin with the board's INT1 number, if one exists. Modelled from the datasheet's
# description, not from a chip.
# Generator 2 (issue 22: the GNSS refresh's motion watch; free fall in the driver's enable_freefall):
# INT2_CFG's AOI/ZH..XL bits (OR or AND of the enabled high / low events; 6D is not modelled: with it
# set, the generator never fires), INT2_THS in the full scale's units, INT2_DURATION in samples at the
# ODR, HP_IA2 (CTRL_REG2 bit 1) for the same high-pass filter as generator 1 (the chip has one filter;
# its own state here, reset by the same REFERENCE read, gives the same output), latched with LIR_INT2
# (CTRL_REG5 bit 1) until INT2_SRC is read, else INT2_SRC follows the condition. INT2_SRC names the axes
# and directions that met it. On the INT1 pin with CTRL_REG3 I1_IA2.
# Output rate (issue 8/6): push_mg() is the world at src_hz (the traces: 50 Hz); the chip keeps one
# sample per 1/ODR (CTRL_REG1 ODR, a phase accumulator: at 25 Hz every second one), none powered down.
# The high-pass filter and INT1_DURATION act per chip sample, so at 25 Hz the filter's cut-off halves
# and a duration count lasts twice as long, as the datasheet's ODR-relative HPCF table says.
import machine

from drivers.lis3dh import ADDR_DEFAULT

# full scale bits (CTRL_REG4 FS) -> mg per digit of the left-justified 16-bit sample >> 4 (12-bit)
_MG_12BIT = {0x00: 1, 0x10: 2, 0x20: 4, 0x30: 12}
# CTRL_REG1 ODR field -> Hz (0: power-down)
_ODR_HZ = (0, 1, 10, 25, 50, 100, 200, 400, 1620, 1344)


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
        self.reads = 0
        self.int1_pin = int1_pin
        self.int1 = 0
        self._ref = None  # high-pass filter state (mg) per axis
        self._over = 0  # consecutive samples over the threshold
        self._ref2 = None  # generator 2: the high-pass filter's state (mg) per axis
        self._over2 = 0  # generator 2: consecutive samples meeting its condition
        self.pushed = 0

    # test helpers ------------------------------------------------------------------------------
    def push_raw(self, x, y, z):
        """Queue one sample of raw left-justified 16-bit counts."""
        if self.fifo_n == 32:
            self.fifo_head = (self.fifo_head + 1) % 32  # stream mode: the oldest is dropped
            self.fifo_n -= 1
        slot = (self.fifo_head + self.fifo_n) % 32
        for k, v in enumerate((x, y, z)):
            v &= 0xFFFF
            self.fifo[6 * slot + 2 * k] = v & 0xFF
            self.fifo[6 * slot + 2 * k + 1] = v >> 8
        self.fifo_n += 1

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
            if reg & 0x80:
                r += 1
        self._int1_out()

    def readfrom_mem_into(self, addr, reg, buf):
        self._check(addr)
        self.reads += 1
        r = reg & 0x7F
        inc = reg & 0x80
        fifo_on = (self.regs[0x24] & 0x40) and (self.regs[0x2E] & 0xC0)
        for i in range(len(buf)):
            if 0x28 <= r <= 0x2D:
                if self.fifo_n:
                    buf[i] = self.fifo[6 * self.fifo_head + (r - 0x28)]
                else:
                    buf[i] = 0
                if r == 0x2D and self.fifo_n:  # one sample consumed
                    self.fifo_head = (self.fifo_head + 1) % 32
                    self.fifo_n -= 1
            elif r == 0x2F:  # FIFO_SRC: WTM OVRN EMPTY FSS
                n = self.fifo_n
                buf[i] = (0x40 if n == 32 else 0) | (0x20 if n == 0 else 0) | (31 if n == 32 else n)
            elif r == 0x31 or r == 0x35:  # INTx_SRC: reading clears the latch
                buf[i] = self.regs[r]
                self.regs[r] = 0
            elif r == 0x26:  # REFERENCE: reading it settles the high-pass filter
                buf[i] = self.regs[r]
                self._ref = None
                self._ref2 = None
            else:
                buf[i] = self.regs[r]
            if inc:
                r += 1
                if fifo_on and r == 0x2E:
                    r = 0x28  # burst FIFO reads roll back to OUT_X_L
        self._int1_out()
        return None

    # INT1 ------------------------------------------------------------------------------------------
    def _ths_mg(self):
        return {0x00: 16, 0x10: 32, 0x20: 62, 0x30: 186}[self.regs[0x23] & 0x30]

    def _generator1(self, x, y, z):
        cfg = self.regs[0x30]
        if self._ref is None:
            self._ref = [x, y, z]
        hp = self.regs[0x21] & 0x01  # HP_IA1: filtered data to generator 1
        over = False
        for k, v in enumerate((x, y, z)):
            d = v - self._ref[k] if hp else v
            self._ref[k] += (v - self._ref[k]) // 8  # ~1 Hz first-order high-pass at 50 Hz
            if d < 0:
                d = -d
            if cfg & (0x02 << (2 * k)) and d > self.regs[0x32] * self._ths_mg():
                over = True
        self._over = self._over + 1 if over else 0
        if over and self._over >= max(1, self.regs[0x33]) and cfg & 0x2A:
            self.regs[0x31] = 0x40 | 0x2A  # IA + the high events (which axis is not modelled)

    def _generator2(self, x, y, z):
        cfg = self.regs[0x34]
        if self._ref2 is None:
            self._ref2 = [x, y, z]
        hp = self.regs[0x21] & 0x02  # HP_IA2: filtered data to generator 2
        ths = self.regs[0x36] * self._ths_mg()
        events = 0  # INT2_SRC layout: ZH ZL YH YL XH XL
        for k, v in enumerate((x, y, z)):
            d = v - self._ref2[k] if hp else v
            self._ref2[k] += (v - self._ref2[k]) // 8  # the filter of generator 1
            if d < 0:
                d = -d
            events |= (0x02 if d > ths else 0x01) << (2 * k)
        enabled = cfg & 0x3F
        met = events & enabled
        if cfg & 0x40 or not enabled:
            cond = False  # 6D not modelled; nothing enabled: nothing fires
        elif cfg & 0x80:
            cond = met == enabled  # AND of the enabled events
        else:
            cond = met != 0  # OR
        self._over2 = self._over2 + 1 if cond else 0
        fired = cond and self._over2 >= max(1, self.regs[0x37])
        if fired:
            self.regs[0x35] = 0x40 | met
        elif not self.regs[0x24] & 0x02:  # not latched (LIR_INT2): the source follows the condition
            self.regs[0x35] = 0

    def ms_to_watermark(self):
        """ms until the FIFO watermark raises INT1 at the ODR, None unless it is routed to INT1."""
        if not self.regs[0x22] & 0x04 or not self.odr_hz():
            return None
        return max(0, (self.regs[0x2E] & 0x1F) + 1 - self.fifo_n) * 1000 // self.odr_hz()

    def _int1_out(self):
        r3 = self.regs[0x22]
        level = 0
        if r3 & 0x40 and self.regs[0x31] & 0x40:  # I1_IA1, latched source
            level = 1
        if r3 & 0x20 and self.regs[0x35] & 0x40:  # I1_IA2: generator 2 on the INT1 pin
            level = 1
        if r3 & 0x04 and self.fifo_n > (self.regs[0x2E] & 0x1F):  # I1_WTM
            level = 1
        self.int1 = level
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
        """One world sample (mg) at src_hz: queued if the chip samples it at its ODR, quantised as
        the configured range and mode would."""
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
        self._generator1(x, y, z)
        self._generator2(x, y, z)
        self._int1_out()
