# RAM block device for LittleFS (os.VfsLfs2) in the unix port, with a power switch: after `cut_after`
# successful block writes the next write "loses power" (raises PowerCut) and the device freezes, so
# its content is exactly what a real flash would hold at that instant. Used by power-cut tests.


class PowerCut(Exception):
    pass


class RamBlockDev:
    def __init__(self, block_size=512, blocks=256, data=None):
        self.block_size = block_size
        self.blocks = blocks
        self.data = bytearray(data) if data is not None else bytearray(block_size * blocks)
        self.writes = 0  # block-level program/erase operations so far
        self.cut_after = -1  # -1: never
        self.dead = False
        self._cut = PowerCut("power cut")  # made now: LittleFS may call back with the heap locked

    def readblocks(self, n, buf, off=0):
        # byte by byte: LittleFS may call with the heap locked, where the slice self.data[a:b] cannot
        # be allocated (the MemoryError went through LittleFS and failed every later allocation)
        a = n * self.block_size + off
        d = self.data
        for i in range(len(buf)):
            buf[i] = d[a + i]

    def _tick(self):
        if self.dead:
            raise self._cut
        if self.cut_after >= 0 and self.writes >= self.cut_after:
            self.dead = True
            raise self._cut
        self.writes += 1

    def writeblocks(self, n, buf, off=None):
        self._tick()
        a = n * self.block_size + (off or 0)
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            self._tick()
            a = arg * self.block_size
            self.data[a:a + self.block_size] = b"\xff" * self.block_size
            return 0
        return 0

    def snapshot(self):
        """A powered-up copy of what the flash holds now (the reboot after the cut)."""
        return RamBlockDev(self.block_size, self.blocks, self.data)
