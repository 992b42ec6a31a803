# Microphone path in the VM: the simulated I2S (fed by a WAV) -> INMP441 driver (32-bit slots to int16,
# gain, saturation) -> pre-alert ring (IMA-ADPCM). The simulated I2S runs the driver's callback with
# the heap locked, so these tests fail if anything on that path allocates.
import math
import struct

import machine

from drivers.inmp441 import Inmp441
from firmware.core import ima_adpcm
from firmware.evidence.audio_ring import AudioRing, BLOCK_SAMPLES

N = BLOCK_SAMPLES


def write_wav(path, samples, rate=8000):
    data = struct.pack("<%dh" % len(samples), *samples)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def tone(n, seed=0):
    return [int(9000 * math.sin((i + seed) * 0.05) + 4000 * math.sin((i + seed) * 0.71)) for i in range(n)]


def mic(path, shift=16, **kw):
    i2s = machine.I2S(0, sck=machine.Pin(18), ws=machine.Pin(23), sd=machine.Pin(34), mode=machine.I2S.RX,
                      bits=32, format=machine.I2S.MONO, rate=8000, ibuf=16384, source=path, speed=0, **kw)
    return i2s, Inmp441(i2s, shift=shift)


class Collect:
    """Copies each block into preallocated storage (a sink runs with the heap locked)."""

    def __init__(self, nblocks):
        self.buf = bytearray(nblocks * N * 2)
        self.n = 0

    def __call__(self, pcm):
        o = self.n * N * 2
        buf = self.buf
        for i in range(N * 2):
            buf[o + i] = pcm[i]
        self.n += 1

    def samples(self):
        return list(struct.unpack("<%dh" % (self.n * N), self.buf[:self.n * N * 2]))


def test_driver_gives_the_wav_samples_at_unity_gain():
    src = [0, 1, -1, 32767, -32768, 12345, -12345] + tone(3 * N - 7)
    write_wav("a.wav", src, 8000)
    i2s, m = mic("a.wav", shift=16, loop=False)
    got = Collect(4)
    m.start(got)
    assert i2s.sim_service(max_buffers=4) == 4
    assert got.samples()[:3 * N] == src
    assert got.samples()[3 * N:] == [0] * N  # past the end of a WAV that does not loop: silence


def test_gain_shift_amplifies_and_saturates():
    src = [0, 100, -100, 5000, -5000, 9000, -9000, 20000, -20000] + [0] * (N - 9)
    write_wav("b.wav", src, 8000)
    i2s, m = mic("b.wav", shift=14, loop=False)  # +12 dB
    got = Collect(1)
    m.start(got)
    i2s.sim_service(max_buffers=1)
    s = got.samples()
    assert s[:7] == [0, 400, -400, 20000, -20000, 32767, -32768]
    assert s[7:9] == [32767, -32768]


def test_mic_to_ring_path_allocates_nothing_and_keeps_the_audio():
    src = tone(12 * N)
    write_wav("c.wav", src, 8000)
    i2s, m = mic("c.wav")
    ring = AudioRing(seconds=1, rate=8000, headroom_s=1)  # 16 + 16 blocks
    m.start(ring.push)  # the sim I2S calls back with micropython.heap_lock() held
    delivered = 0
    for _ in range(5):
        delivered += i2s.sim_service(max_buffers=4)
    assert delivered == 20 and ring.total == 20 and m.blocks == 20
    dec = []
    for n in range(ring.oldest(), ring.total):
        ima_adpcm.decode_block(ring.block(n), dec)
    ref = [src[(ring.oldest() * N + j) % len(src)] for j in range(len(dec))]  # the WAV loops
    err = sum((a - b) ** 2 for a, b in zip(ref, dec))
    sig = sum(a * a for a in ref)
    assert 10 * math.log10(sig / err) > 20


def test_ring_holds_the_last_blocks_only():
    ring = AudioRing(seconds=1, rate=8000, headroom_s=1)
    pcm = bytearray(struct.pack("<%dh" % N, *tone(N)))
    assert ring.capacity == 32 and ring.prealert_blocks == 16
    for _ in range(40):
        ring.push(pcm)
    assert ring.total == 40 and ring.oldest() == 8
    assert ring.held(8) and ring.held(39) and not ring.held(7) and not ring.held(40)
    for bad in (7, 40):
        try:
            ring.block(bad)
        except IndexError:
            continue
        raise AssertionError("block %d should be gone" % bad)
    assert abs(ring.seconds(16) - 1.01) < 0.01


def test_sim_i2s_refuses_a_wav_it_cannot_play():
    write_wav("d.wav", tone(100), 16000)
    try:
        mic("d.wav")
    except ValueError:
        return
    raise AssertionError("a 16 kHz WAV was accepted for an 8 kHz I2S")


def test_stopped_driver_delivers_nothing_more():
    write_wav("e.wav", tone(4 * N), 8000)
    i2s, m = mic("e.wav")
    got = Collect(4)
    m.start(got)
    i2s.sim_service(max_buffers=1)
    m.stop()
    i2s.sim_service()
    assert got.n == 1


def test_chipen_powers_the_mic_down_between_recordings_and_mutes_its_start_up():
    # the simulated I2S models the INMP441's CHIPEN: nothing while low, silence for 2^18 SCK cycles
    # (4096 samples) after it rises; the driver mutes whole blocks over that time (9 x 505 samples)
    from drivers.inmp441 import STARTUP_SAMPLES
    src = tone(14 * N)
    write_wav("c.wav", src, 8000)
    pin = machine.Pin(32, machine.Pin.OUT, value=1)
    i2s = machine.I2S(0, sck=machine.Pin(18), ws=machine.Pin(23), sd=machine.Pin(34), mode=machine.I2S.RX,
                      bits=32, format=machine.I2S.MONO, rate=8000, ibuf=16384, source="c.wav", speed=0,
                      loop=False, chipen=pin)
    m = Inmp441(i2s, shift=16, chipen=pin)
    assert pin.value() == 0 and m.powered() == "off"  # the driver powers it down at once
    got = Collect(14)
    m.start(got)
    assert pin.value() == 1 and m.powered() == "on"
    assert i2s.sim_service(max_buffers=14) == 14
    mute = (STARTUP_SAMPLES + N - 1) // N
    s = got.samples()
    assert mute == 9 and s[:mute * N] == [0] * (mute * N)
    assert s[mute * N:] == src[mute * N:]  # the clock never stopped: the timeline is exact
    m.stop()
    assert pin.value() == 0 and m.powered() == "off"


def test_without_chipen_the_idle_mic_is_in_standby():
    write_wav("d.wav", tone(N), 8000)
    i2s, m = mic("d.wav", loop=False)
    assert m.powered() == "standby"
    got = Collect(1)
    m.start(got)
    i2s.sim_service(max_buffers=1)
    assert got.samples()[:N] == tone(N)  # no CHIPEN: never powered down, nothing muted
    m.stop()
    assert m.powered() == "standby"


def test_the_simulated_dma_ring_drops_what_nobody_read_as_the_port_does():
    # issue 22: with low power the recorder stops reading between alerts; when it starts again the port
    # has at most its ibuf of old sound, not everything since (before: 189 stale blocks in one burst,
    # and the recorder's ring overran at the alert)
    import time
    write_wav("d.wav", tone(64 * N), 8000)
    i2s = machine.I2S(0, sck=machine.Pin(18), ws=machine.Pin(23), sd=machine.Pin(34), mode=machine.I2S.RX,
                      bits=32, format=machine.I2S.MONO, rate=8000, ibuf=4096, source="d.wav", speed=1)
    buf = bytearray(N * 4)
    i2s.irq(lambda i: i.readinto(buf))  # as the driver does: the next buffer at once
    i2s.readinto(buf)
    time.sleep_ms(1000)  # 8000 samples came while nobody serviced it: the ring keeps 1024 of them
    n = i2s.sim_service()
    assert 1 <= n and n * N <= 1024 + N, n
    assert 8000 - 1024 - 2 * N <= i2s.dropped <= 8000 + 2 * N, i2s.dropped
