# LIS3DH 3-axis accelerometer over I2C (ST datasheet DocID17530, app note AN3308).
# Receives a configured I2C object (machine.I2C or anything with readfrom_mem/_into and
# writeto_mem). Samples come out as integer milli-g, the unit of firmware.fall.detector, with no
# allocation per read: the FIFO is burst-read into a preallocated buffer.
import array

import micropython
from micropython import const

WHO_AM_I_VALUE = const(0x33)
ADDR_DEFAULT = const(0x18)  # SDO/SA0 low; 0x19 when high

_WHO_AM_I = const(0x0F)
_CTRL_REG1 = const(0x20)  # ODR[7:4] LPen Zen Yen Xen
_CTRL_REG2 = const(0x21)  # high-pass filter: HPM[7:6] HPCF FDS HPCLICK HP_IA2 HP_IA1
_CTRL_REG3 = const(0x22)  # INT1 pin routing: I1_CLICK I1_IA1 I1_IA2 I1_ZYXDA - I1_WTM I1_OVERRUN
_CTRL_REG4 = const(0x23)  # BDU BLE FS[5:4] HR ST SIM
_CTRL_REG5 = const(0x24)  # BOOT FIFO_EN - - LIR_INT1 D4D_INT1 LIR_INT2 D4D_INT2
_CTRL_REG6 = const(0x25)  # INT2 pin routing: I2_CLICK I2_IA1 I2_IA2 BOOT_I2 P2_ACT - H_LACTIVE -
_REFERENCE = const(0x26)  # reading it resets the high-pass filter
_STATUS_REG = const(0x27)
_OUT_X_L = const(0x28)
_FIFO_CTRL_REG = const(0x2E)  # FM[7:6] TR FTH[4:0]
_FIFO_SRC_REG = const(0x2F)  # WTM OVRN_FIFO EMPTY FSS[4:0]
_INT1_CFG = const(0x30)  # interrupt generator 1 (used for activity / wake)
_INT1_SRC = const(0x31)
_INT1_THS = const(0x32)
_INT1_DURATION = const(0x33)
_INT2_CFG = const(0x34)  # interrupt generator 2 (used for free fall, routed to the INT1 pin)
_INT2_SRC = const(0x35)
_INT2_THS = const(0x36)
_INT2_DURATION = const(0x37)

_AUTO_INC = const(0x80)  # I2C sub-address MSB: auto-increment (FIFO reads roll 0x2D -> 0x28)
_XYZ_EN = const(0x07)
_LPEN = const(0x08)
_HR = const(0x08)
_BDU = const(0x80)
_FIFO_EN = const(0x40)
_LIR_INT1 = const(0x08)
_LIR_INT2 = const(0x02)
_FM_BYPASS = const(0x00)
_FM_STREAM = const(0x80)
# Stream-to-FIFO (DocID17530 Rev 2 5.1.4): the FIFO streams while the pin chosen by TR is low and is in
# FIFO mode while it is high; FIFO mode stops when full (5.1.2). With a latched impact interrupt and a
# full FIFO it freezes on the 32 samples up to the impact: the history before it survives the boot.
_FM_STREAM_TO_FIFO = const(0xC0)
_FM_MASK = const(0xC0)
_TR_INT2 = const(0x20)  # FIFO_CTRL_REG TR: the trigger is the INT2 pin
_I2_IA1 = const(0x40)
_I1_IA1 = const(0x40)
_I1_IA2 = const(0x20)
_I1_WTM = const(0x04)
_FTH = const(0x1F)  # FIFO_CTRL_REG watermark level (WTM set when the FIFO holds more than FTH)
_HP_IA1 = const(0x01)
_HP_IA2 = const(0x02)
_IA = const(0x40)  # INTx_SRC: the generator fired
_FIFO_OVRN = const(0x40)
_FIFO_FSS = const(0x1F)
_FIFO_DEPTH = const(32)

# ODR field (CTRL_REG1[7:4]) for the rates the firmware uses
_ODR = {10: 0x2, 25: 0x3, 50: 0x4, 100: 0x5}
_ODR_MASK = const(0xF0)
# full scale -> (FS bits, mg per digit normal 10-bit, low-power 8-bit, high-res 12-bit, INT THS mg/LSB)
_FS = {
    2: (0x00, 4, 16, 1, 16),
    4: (0x10, 8, 32, 2, 32),
    8: (0x20, 16, 64, 4, 62),
    16: (0x30, 48, 192, 12, 186),
}
# mode -> (right shift of the left-justified 16-bit sample, index in the _FS tuple)
_MODES = {"normal": (6, 1), "low-power": (8, 2), "high-res": (4, 3)}


@micropython.viper
def _convert_all(raw: ptr8, out: ptr16, n: int, shift: int, mg: int):
    # n little-endian, left-justified two's complement 16-bit values -> mg (int16 stored as 16 bits)
    i = 0
    while i < n:
        v = raw[2 * i] | (raw[2 * i + 1] << 8)
        if v >= 32768:
            v -= 65536
        out[i] = ((v >> shift) * mg) & 0xFFFF
        i += 1


class LIS3DH:
    """LIS3DH on I2C. range_g 8 or 16 (2 and 4 accepted too), rate_hz 25 or 50 (10, 100 too),
    mode "normal" (10-bit), "low-power" (8-bit) or "high-res" (12-bit). FIFO in stream mode.
    keep_fifo: after a deep-sleep wake the chip kept sampling; if it still runs this configuration,
    its FIFO is kept instead of cleared, also at a slower sleep ODR that divides rate_hz (set by
    set_odr() before the sleep: 32 samples at 25 Hz span 1.28 s). odr_hz is the rate the chip samples
    at now, the rate of the FIFO's contents."""

    def __init__(self, i2c, addr=ADDR_DEFAULT, range_g=8, rate_hz=50, mode="normal", fifo=True,
                 keep_fifo=False):
        if range_g not in _FS:
            raise ValueError("range_g must be 2, 4, 8 or 16")
        if rate_hz not in _ODR:
            raise ValueError("rate_hz must be 10, 25, 50 or 100")
        if mode not in _MODES:
            raise ValueError("mode must be 'normal', 'low-power' or 'high-res'")
        self.i2c = i2c
        self.addr = addr
        self.range_g = range_g
        self.rate_hz = rate_hz
        self.mode = mode
        self.fifo = fifo
        self.odr_hz = rate_hz
        fs = _FS[range_g]
        self._shift, idx = _MODES[mode]
        self._mg = fs[idx]  # mg per digit after the shift
        self._ths_mg = fs[4]
        self._b1 = bytearray(1)
        self._buf = bytearray(6 * _FIFO_DEPTH)
        mv = memoryview(self._buf)
        # one view per possible burst length, made once: slicing at read time would allocate
        self._views = tuple(mv[0:6 * k] for k in range(_FIFO_DEPTH + 1))
        who = self.who_am_i()
        if who != WHO_AM_I_VALUE:
            raise OSError("no LIS3DH at 0x%02x (WHO_AM_I 0x%02x)" % (addr, who))
        odr = self._running() if keep_fifo and fifo else 0
        self.kept_fifo = odr > 0 and odr <= rate_hz and rate_hz % odr == 0
        if self.kept_fifo:
            self.odr_hz = odr
        else:
            self.configure()

    # -- registers ---------------------------------------------------------------------------------
    def _read(self, reg):
        self.i2c.readfrom_mem_into(self.addr, reg, self._b1)
        return self._b1[0]

    def _write(self, reg, val):
        self._b1[0] = val
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def who_am_i(self):
        """The chip's identity register (0x33 for a LIS3DH). Touches neither the FIFO nor the
        configuration: safe while the fall monitor streams. OSError if nobody answers."""
        return self._read(_WHO_AM_I)

    def _reg1(self, hz):
        return (_ODR[hz] << 4) | (_LPEN if self.mode == "low-power" else 0) | _XYZ_EN

    def configure(self):
        """(Re)write the whole configuration: output rate, mode, full scale, FIFO."""
        hr = _HR if self.mode == "high-res" else 0
        self.odr_hz = self.rate_hz
        self._write(_CTRL_REG1, self._reg1(self.rate_hz))
        self._write(_CTRL_REG4, _BDU | _FS[self.range_g][0] | hr)
        if self.fifo:
            self._write(_FIFO_CTRL_REG, _FM_BYPASS)  # bypass first: clears the FIFO
            self._write(_CTRL_REG5, _FIFO_EN | _LIR_INT1 | _LIR_INT2)
            self._write(_FIFO_CTRL_REG, _FM_STREAM)
        else:
            self._write(_CTRL_REG5, _LIR_INT1 | _LIR_INT2)
            self._write(_FIFO_CTRL_REG, _FM_BYPASS)

    def _running(self):
        # the ODR (Hz) the chip runs at in this mode with the FIFO streaming, else 0
        r1 = self._read(_CTRL_REG1)
        fm = self._read(_FIFO_CTRL_REG) & _FM_MASK  # stream, or stream-to-FIFO under the impact wake
        if not (fm in (_FM_STREAM, _FM_STREAM_TO_FIFO) and self._read(_CTRL_REG5) & _FIFO_EN):
            return 0
        for hz in _ODR:
            if r1 == self._reg1(hz):
                return hz
        return 0

    def set_odr(self, hz):
        """Change the output rate only (FIFO, interrupts and range kept). The FIFO's unread samples
        stay at the old rate: read it empty first so rates never mix. INT1_DURATION counts samples:
        set the interrupt after this."""
        if hz not in _ODR:
            raise ValueError("rate must be 10, 25, 50 or 100")
        self._write(_CTRL_REG1, self._reg1(hz))
        self.odr_hz = hz

    def power_down(self):
        self._write(_CTRL_REG1, 0)

    # -- data --------------------------------------------------------------------------------------
    def _convert(self, out, pos, j):
        # one little-endian, left-justified two's complement triple at buf[j:j+6] -> mg in out[pos:]
        b = self._buf
        sh = self._shift
        mg = self._mg
        for k in range(3):
            v = b[j] | (b[j + 1] << 8)
            if v & 0x8000:
                v -= 0x10000
            out[pos + k] = (v >> sh) * mg
            j += 2

    def read_into(self, out, pos=0):
        """Latest sample (x, y, z mg) into out[pos:pos+3] (e.g. an array('h') or list)."""
        self.i2c.readfrom_mem_into(self.addr, _OUT_X_L | _AUTO_INC, self._views[1])
        self._convert(out, pos, 0)

    def read_mg(self):
        """Latest sample as an (x, y, z) tuple of int mg (allocates: convenience, not hot path)."""
        out = [0, 0, 0]
        self.read_into(out)
        return out[0], out[1], out[2]

    def fifo_count(self):
        """Unread samples in the FIFO (0..32)."""
        src = self._read(_FIFO_SRC_REG)
        if src & _FIFO_OVRN:
            return _FIFO_DEPTH
        return src & _FIFO_FSS

    def read_fifo(self, out, max_samples=_FIFO_DEPTH):
        """Burst-read every unread FIFO sample (at most max_samples and len(out)//3) into out as
        x, y, z mg triples; returns the number of samples. One I2C transaction for the data.
        out: an array("h") (converted in one native pass: any other array type would be written as
        int16) or a list."""
        n = self.fifo_count()
        room = len(out) // 3
        if n > room:
            n = room
        if n > max_samples:
            n = max_samples
        if n <= 0:
            return 0
        self.i2c.readfrom_mem_into(self.addr, _OUT_X_L | _AUTO_INC, self._views[n])
        if isinstance(out, array.array):  # the fall monitor's int16 buffer: one native pass
            _convert_all(self._buf, out, 3 * n, self._shift, self._mg)
            return n
        j = 0
        for s in range(n):
            self._convert(out, 3 * s, j)
            j += 6
        return n

    # -- interrupts on the INT1 pin ----------------------------------------------------------------
    def _ths(self, mg):
        t = (mg + self._ths_mg // 2) // self._ths_mg
        if not 1 <= t <= 127:
            raise ValueError("threshold %d mg out of range at +-%d g" % (mg, self.range_g))
        return t

    def _dur(self, ms):
        d = (ms * self.odr_hz + 500) // 1000  # in samples at the rate the chip runs at now
        if not 0 <= d <= 127:
            raise ValueError("duration %d ms out of range at %d Hz" % (ms, self.odr_hz))
        return d

    def _generator(self, cfg_reg, ths, dur, cfg):
        """One inertial generator (INTx_CFG at cfg_reg, then SRC, THS, DURATION; ths and dur already
        checked by _ths/_dur, so a refused value changes no register): programmed, its stale latch
        read away (it would end the coming sleep at once). Returns that SRC byte (IA: it had fired)."""
        self._write(cfg_reg + 2, ths)
        self._write(cfg_reg + 3, dur)
        self._write(cfg_reg, cfg)
        return self._read(cfg_reg + 1)

    def _route(self, bits, on):
        r3 = self._read(_CTRL_REG3)
        self._write(_CTRL_REG3, (r3 | bits) if on else (r3 & ~bits & 0xFF))

    def enable_wake(self, threshold_mg=250, duration_ms=40):
        """Activity (wake) interrupt on INT1: any axis beyond threshold_mg for duration_ms,
        gravity removed by the high-pass filter. Generator 1, latched; clear with int1_source()."""
        ths = self._ths(threshold_mg)
        dur = self._dur(duration_ms)
        self._write(_CTRL_REG2, _HP_IA1)  # HPM normal, filtered data to generator 1 only
        self._read(_REFERENCE)  # settle the filter on the current gravity
        self._generator(_INT1_CFG, ths, dur, 0x2A)  # OR of XH, YH, ZH
        self._route(_I1_IA1, True)

    def enable_freefall(self, threshold_mg=350, duration_ms=30):
        """Free-fall interrupt on INT1: all axes below threshold_mg for duration_ms (AN3308:
        ~350 mg, ~30 ms). Generator 2, unfiltered, routed to the INT1 pin, latched."""
        ths = self._ths(threshold_mg)
        dur = self._dur(duration_ms)
        self._write(_CTRL_REG2, self._read(_CTRL_REG2) & ~_HP_IA2 & 0xFF)  # raw data (int2_motion filters it)
        self._generator(_INT2_CFG, ths, dur, 0x95)  # AND of XL, YL, ZL
        self._route(_I1_IA2, True)

    def int1_fifo(self, samples=25):
        """INT1 = FIFO watermark only (light sleep while moving: one wake per batch of `samples`)."""
        if not 1 <= samples <= _FIFO_DEPTH - 1:
            raise ValueError("watermark must be 1..31 samples")
        self._route(_I1_IA1 | _I1_IA2, False)
        self._write(_INT1_CFG, 0)
        self._write(_FIFO_CTRL_REG, _FM_STREAM | (samples - 1))
        self._route(_I1_WTM, True)

    def int1_activity(self, threshold_mg=250, duration_ms=40):
        """INT1 = activity only (deep sleep while still: the first movement wakes the MCU)."""
        self._route(_I1_WTM, False)
        self._write(_FIFO_CTRL_REG, _FM_STREAM)
        self.enable_wake(threshold_mg, duration_ms)

    def int1_impact(self, threshold_mg, duration_ms=0, freeze=True):
        """INT1 = impact only, and the FIFO keeps the samples before it (the chip decides when the MCU
        wakes, moving or still). Generator 1: any high-passed axis beyond threshold_mg for duration_ms,
        latched. The FIFO in stream-to-FIFO with its trigger on the INT2 pin, where generator 1 alone
        is routed (CTRL_REG6 I2_IA1): whatever else drives the INT1 pin never freezes it. From the
        impact the FIFO holds the 32 samples up to it and takes no more until int1_source() clears the
        latch (it then streams again): after the wake read the FIFO first, then int1_source(), then
        fifo_stream(). freeze=False: plain stream mode (the FIFO holds the 32 samples before the read,
        not before the impact)."""
        ths = self._ths(threshold_mg)
        dur = self._dur(duration_ms)
        self._route(_I1_WTM, False)
        self._write(_CTRL_REG2, self._read(_CTRL_REG2) | _HP_IA1)  # generator 2's own bit kept
        self._read(_REFERENCE)  # settle the filter on the current gravity
        self._write(_CTRL_REG6, self._read(_CTRL_REG6) | _I2_IA1)
        self._generator(_INT1_CFG, ths, dur, 0x2A)  # OR of XH, YH, ZH
        self._write(_FIFO_CTRL_REG, (_FM_STREAM_TO_FIFO | _TR_INT2) if freeze else _FM_STREAM)
        self._route(_I1_IA1, True)

    def fifo_stream(self):
        """The FIFO back in plain stream mode (awake: the MCU reads it in time) and generator 1 off
        both pins. A frozen FIFO keeps its samples: read it first."""
        self._route(_I1_IA1, False)
        self._write(_CTRL_REG6, self._read(_CTRL_REG6) & ~_I2_IA1 & 0xFF)
        self._write(_INT1_CFG, 0)
        self._write(_FIFO_CTRL_REG, _FM_STREAM)

    def disable_interrupts(self):
        self._route(_I1_IA1 | _I1_IA2 | _I1_WTM, False)
        self._write(_CTRL_REG6, self._read(_CTRL_REG6) & ~_I2_IA1 & 0xFF)
        self._write(_INT1_CFG, 0)
        self._write(_INT2_CFG, 0)
        self._write(_CTRL_REG2, 0)

    # -- generator 2: "she moved" (the GNSS refresh gate, issue 22) ----------------------------------
    def int2_motion(self, threshold_mg=400, duration_ms=80):
        """Generator 2 as a motion watch on the INT1 pin: any high-passed axis beyond threshold_mg for
        duration_ms (at the rate the chip runs at now: set the rate first), latched (LIR_INT2) until
        int2_fired() reads it. Its own high-pass bit (HP_IA2): generator 1's settings are kept. Shares
        generator 2 with enable_freefall: one or the other. Returns whether generator 2 had fired since
        its latch was last read (armed again, that read is the same as int2_fired(): no extra read)."""
        ths = self._ths(threshold_mg)
        dur = self._dur(duration_ms)
        self._write(_CTRL_REG2, self._read(_CTRL_REG2) | _HP_IA2)
        self._read(_REFERENCE)  # settle the filter on the current gravity
        stale = self._generator(_INT2_CFG, ths, dur, 0x2A)  # OR of XH, YH, ZH
        self._route(_I1_IA2, True)
        return bool(stale & _IA)

    def int2_off(self):
        """Generator 2 off and off the INT1 pin (generator 1 and the watermark untouched)."""
        self._route(_I1_IA2, False)
        self._write(_INT2_CFG, 0)
        self._write(_CTRL_REG2, self._read(_CTRL_REG2) & ~_HP_IA2 & 0xFF)

    def int2_fired(self):
        """Whether generator 2 fired since the last read (reading INT2_SRC clears its latch)."""
        return bool(self._read(_INT2_SRC) & _IA)

    def int1_source(self):
        """INT1_SRC (generator 1); reading clears its latch and keeps generator 2's (the motion watch's:
        only its owner reads it, int2_fired() or int2_motion())."""
        return self._read(_INT1_SRC)

    def int_source(self):
        """(wake_src, freefall_src): INT1_SRC and INT2_SRC; reading clears the latched interrupt.
        Bit 6 (IA) set means that generator fired."""
        return self._read(_INT1_SRC), self._read(_INT2_SRC)
