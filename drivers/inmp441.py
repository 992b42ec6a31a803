# INMP441 I2S MEMS microphone on a configured machine.I2S (RX, bits=32, MONO, 8 kHz, DMA ibuf).
# The INMP441 sends 24-bit samples left-justified in 32-bit slots and needs SCK = 64 x fs, which the
# ESP32 port always uses in RX. Non-blocking mode: readinto() returns at once and the port calls our
# callback (scheduled, not a hard IRQ) when a buffer is full; we re-arm the other buffer first, then
# convert 32-bit samples to int16 with a fixed gain (arithmetic shift, saturated) and hand one block to
# the sink. Two raw buffers and one PCM buffer are allocated once: nothing is allocated per block.
# Power (INMP441 DS Rev 1.1): stopping SCK only gives standby (0.8 mA); power-down (4.5 uA) needs
# CHIPEN low. With a CHIPEN pin, start() powers the mic up and stop() down; after power-up the mic
# needs 2^18 SCK cycles (SCK = 64 fs: 4096 samples, 0.51 s at 8 kHz) before its output is valid, so
# those blocks are delivered as silence (the timeline stays exact).
from array import array

import micropython
from micropython import const

_BLOCK = const(505)  # samples per block: one IMA-ADPCM block (firmware/core/ima_adpcm.py)
STARTUP_SAMPLES = const(4096)  # 2^18 SCK cycles / 64 SCK per sample


@micropython.viper
def _zero(pcm: ptr16, n: int):
    i = 0
    while i < n:
        pcm[i] = 0
        i += 1


@micropython.viper
def _to_pcm16(raw: ptr16, pcm: ptr16, n: int, shift: int):
    # raw: little-endian int32 samples seen as int16 halves (low, high); pcm: int16 out, saturated
    i = 0
    while i < n:
        hi = int(raw[2 * i + 1])
        if hi >= 32768:
            hi -= 65536
        v = (hi << 16) | int(raw[2 * i])
        v = v >> shift
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        pcm[i] = v & 0xFFFF
        i += 1


@micropython.viper
def _span(pcm: ptr16, n: int, out: ptr32):
    # out[0] = min, out[1] = max of n int16 samples and the previous out[0], out[1], in offset binary
    # (sample + 32768: never negative, so the 32-bit loads need no sign handling)
    lo = out[0]
    hi = out[1]
    i = 0
    while i < n:
        v = int(pcm[i]) ^ 0x8000
        if v < lo:
            lo = v
        if v > hi:
            hi = v
        i += 1
    out[0] = lo
    out[1] = hi


class Inmp441:
    def __init__(self, i2s, shift=14, block=_BLOCK, chipen=None):
        """i2s: machine.I2S configured RX, bits=32, MONO. shift: 16 keeps the top 16 of the 24 bits
        (the mic's full scale); each step below adds 6 dB of gain (14 = +12 dB, speech at a metre
        is around -60 dBFS on this mic). chipen: the output Pin on the mic's CHIPEN, or None (CHIPEN
        tied high: the mic never goes below standby)."""
        if not 8 <= shift <= 16:
            raise ValueError("shift must be 8..16")
        self.i2s = i2s
        self.shift = shift
        self.block = block
        self._raw = (bytearray(block * 4), bytearray(block * 4))
        self._which = 0
        self.pcm = bytearray(block * 2)
        self.sink = None
        self.blocks = 0  # blocks delivered since start
        self.running = False
        self.chipen = chipen
        if chipen is not None:
            chipen.value(0)  # powered down until start()
        self._mute = 0  # blocks still inside the start-up time
        self.warmup = 0  # blocks of start-up silence at the head of the stream start() began
        self._cb = self._on_buffer  # one bound method, made once (a callback must not allocate)
        self._probe = 0  # blocks the level probe still has to see
        self._span = array("i", (0, 0))  # min, max seen by the probe

    def start(self, sink):
        """Start streaming: sink(pcm) is called with each block of int16 LE samples (a reused
        buffer: copy or encode it before returning). After a cold start (CHIPEN was low) `warmup` says
        how many of the first blocks are the start-up silence (the recorder marks them in the chunk)."""
        self.sink = sink
        self.blocks = 0
        self.running = True
        self._which = 0
        self.warmup = 0
        if self.chipen is not None and not self.chipen.value():
            self.chipen.value(1)
            self._mute = (STARTUP_SAMPLES + self.block - 1) // self.block
            self.warmup = self._mute
        self.i2s.irq(self._cb)
        self.i2s.readinto(self._raw[0])

    def stop(self):
        """Stop delivering blocks and power the mic down (CHIPEN low) if the board wired CHIPEN.
        Without it the I2S clock keeps running (mic in normal mode) until the board deinitialises
        the I2S object: see docs/evidence.md, power."""
        self.running = False
        try:
            self.i2s.irq(None)
        except (TypeError, ValueError, OSError):
            pass
        if self.chipen is not None:
            self.chipen.value(0)

    def probe(self, blocks):
        """Start measuring the lowest and highest sample of the next `blocks` blocks the mic delivers
        after its start-up time (the technician's self-test: a dead mic or a broken SD line gives a
        flat signal). Read the result with probed() once probing() is 0."""
        self._span[0] = 65535
        self._span[1] = 0
        self._probe = blocks

    def probing(self):
        """Blocks still to be measured."""
        return self._probe

    def probed(self):
        """(lowest, highest) int16 sample seen by the last probe."""
        return self._span[0] - 32768, self._span[1] - 32768

    def powered(self):
        """"on" (streaming), "standby" (CHIPEN high or not wired) or "off" (CHIPEN low): the
        power accounting's mic state."""
        if self.running:
            return "on"
        if self.chipen is not None and not self.chipen.value():
            return "off"
        return "standby"

    def _on_buffer(self, i2s):
        if not self.running:
            return
        full = self._raw[self._which]
        self._which ^= 1
        i2s.readinto(self._raw[self._which])  # re-arm first: the DMA keeps filling meanwhile
        if self._mute:
            self._mute -= 1
            _zero(self.pcm, self.block)  # start-up time: the mic's output is not valid yet
        else:
            _to_pcm16(full, self.pcm, self.block, self.shift)
            if self._probe:
                _span(self.pcm, self.block, self._span)
                self._probe -= 1
        self.blocks += 1
        sink = self.sink
        if sink is not None:
            sink(self.pcm)
