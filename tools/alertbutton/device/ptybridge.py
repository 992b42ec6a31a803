"""A virtual serial cable between two ptys: what one side writes, the other reads.

The firmware in the MicroPython VM opens one end (`device_path`), a host tool (the `alertbutton` CLI,
mpremote, a terminal) opens the other (`host_path`), exactly as with a USB serial port. Both are
raw ptys. The bridge never blocks the device side: when nobody reads the host side and its buffer
is full, bytes are dropped (a USB serial port with no terminal attached loses them too)."""
import errno
import os
import select
import threading
import tty


def _raw_pty():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return master, slave


class PtyBridge:
    def __init__(self, on_host_data=None):
        # on_host_data(): called from the bridge's thread before host bytes are passed on (the
        # simulator's USB cable: whoever writes to the host side has plugged it in)
        self.on_host_data = on_host_data
        self._dev_master, self._dev_slave = _raw_pty()
        self._host_master, self._host_slave = _raw_pty()
        # we keep both slaves open so the masters never read EIO while a side is closed
        self.device_path = os.ttyname(self._dev_slave)
        self.host_path = os.ttyname(self._host_slave)
        os.set_blocking(self._host_master, False)
        os.set_blocking(self._dev_master, False)
        self._stop = False
        self._thread = threading.Thread(target=self._pump, daemon=True, name="ptybridge")

    def start(self):
        self._thread.start()
        return self

    def _pump(self):
        pair = {self._dev_master: self._host_master, self._host_master: self._dev_master}
        while not self._stop:
            try:
                ready, _w, _x = select.select(list(pair), [], [], 0.2)
            except (OSError, ValueError):
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError as e:
                    if e.errno in (errno.EIO, errno.EAGAIN):
                        continue
                    return
                if fd == self._host_master and data and self.on_host_data is not None:
                    self.on_host_data()
                self._send(pair[fd], data)

    @staticmethod
    def _send(fd, data):
        while data:
            try:
                n = os.write(fd, data)
            except BlockingIOError:
                return  # the other side is not reading: drop, never stall the firmware
            except OSError:
                return
            data = data[n:]

    def close(self):
        self._stop = True
        if self._thread.is_alive():
            self._thread.join(1)
        for fd in (self._dev_master, self._dev_slave, self._host_master, self._host_slave):
            try:
                os.close(fd)
            except OSError:
                pass
