# Pre-alert audio ring: the last N seconds of microphone audio kept in RAM as IMA-ADPCM blocks
# (256 bytes per 505 samples, ~4 KB/s at 8 kHz). Blocks are numbered from 0 since arming; block n
# lives in slot n % capacity. push() runs in the microphone callback and never allocates.
# The ring holds `headroom_s` more than the pre-alert it promises: on an alert the recorder copies
# the last pre-alert seconds to flash while new blocks keep arriving, and the headroom is the time it
# has before the oldest of them is overwritten.
# The ring is the firmware's largest buffer (38 s at the defaults: 150 KB), so it is held as segments
# of SEG_BLOCKS blocks, never as one contiguous allocation: a heap that has room for it in pieces must
# not fail it for want of one hole that large (alertbutton bench heap: at 528 KB the .py firmware had
# the room and could not place 150 KB in one piece).
from micropython import const

from firmware.core import ima_adpcm

BLOCK_BYTES = ima_adpcm.BLOCK_BYTES
BLOCK_SAMPLES = ima_adpcm.BLOCK_SAMPLES
SEG_BLOCKS = const(8)  # 2 KB per segment


def blocks_for(seconds, rate):
    return (int(seconds * rate) + BLOCK_SAMPLES - 1) // BLOCK_SAMPLES


class AudioRing:
    def __init__(self, seconds=30, rate=8000, headroom_s=8):
        if seconds < 0 or rate <= 0 or headroom_s < 1:
            raise ValueError("bad ring size")
        self.rate = rate
        self.prealert_blocks = blocks_for(seconds, rate)
        self.capacity = self.prealert_blocks + blocks_for(headroom_s, rate)
        # MemoryError here: the caller decides (App runs without evidence)
        self._segs = [bytearray(min(SEG_BLOCKS, self.capacity - i) * BLOCK_BYTES)
                      for i in range(0, self.capacity, SEG_BLOCKS)]
        self._st = ima_adpcm.new_state()
        self.total = 0  # blocks pushed since arming (the next block's number)

    def reset(self):
        self.total = 0
        self._st[ima_adpcm.ST_INDEX] = 0

    def push(self, pcm):
        """Encode one block of BLOCK_SAMPLES int16 LE samples (bytes-like) into the next slot."""
        st = self._st
        slot = self.total % self.capacity
        st[1] = (slot % SEG_BLOCKS) * BLOCK_BYTES  # ST_OUT
        st[2] = 0  # ST_PCM
        ima_adpcm.encode_block(pcm, self._segs[slot // SEG_BLOCKS], st)
        self.total += 1

    def oldest(self):
        """Number of the oldest block still held."""
        return self.total - self.capacity if self.total > self.capacity else 0

    def block(self, n):
        """A view of block n (valid until it is overwritten: check held() after using it)."""
        if not self.held(n):
            raise IndexError("block %d not in the ring" % n)
        slot = n % self.capacity
        o = (slot % SEG_BLOCKS) * BLOCK_BYTES
        return memoryview(self._segs[slot // SEG_BLOCKS])[o:o + BLOCK_BYTES]

    def held(self, n):
        return self.oldest() <= n < self.total

    def seconds(self, blocks):
        return blocks * BLOCK_SAMPLES / self.rate
