"""The one button the web server drives: the CLI's own console client (alertbutton.device.technician
Device and its req_* requests), opened on first use, one request at a time, reopened after the port
was lost (unplugged, or handed to the evidence export for a while). A request that finds another one
running (a 45 s self-test, an evidence export, from another tab) waits a bounded time, then is refused
as BUSY: the page says so instead of hanging."""
import contextlib
import threading

from alertbutton.device import technician as tech


class Button:
    def __init__(self, port, timeout=5.0, device=tech.Device, busy_s=None):
        self.port = port
        self.timeout = timeout
        self.busy_s = timeout + 5.0 if busy_s is None else busy_s  # a short request ahead ends within timeout
        self._device = device
        self._dev = None
        self._lock = threading.Lock()

    def call(self, fn, *args, timeout=None):
        """fn(dev, *args), one of technician.req_*; DeviceError as the CLI gets it."""
        with self._turn():
            if self._dev is None:
                self._dev = self._device(self.port, timeout=self.timeout)
            dev = self._dev
            dev.timeout = timeout or self.timeout
            try:
                return fn(dev, *args)
            except tech.DeviceError as e:
                if e.status == tech.EXIT_NODEVICE:  # gone or silent: opened afresh next time
                    self._close()
                raise
            finally:
                dev.timeout = self.timeout

    @contextlib.contextmanager
    def released(self):
        """The serial port free for another client of the button (the evidence export opens its own),
        no request of ours in between."""
        with self._turn():
            self._close()
            yield self.port

    @contextlib.contextmanager
    def _turn(self):
        if not self._lock.acquire(timeout=self.busy_s):
            raise tech.DeviceError("busy with a longer request (a self-test or an evidence export, "
                                   "maybe from another tab): retry when it has ended", tech.EXIT_REFUSED, "BUSY")
        try:
            yield
        finally:
            self._lock.release()

    def _close(self):
        if self._dev is not None:
            try:
                self._dev.close()
            finally:
                self._dev = None

    def close(self, lock=True):
        """At exit: the technician session is locked again (as the CLI does), then the port closed."""
        with self._lock:
            if lock and self._dev is not None:
                try:
                    tech.req_lock(self._dev)
                except tech.DeviceError:
                    pass  # gone: the button ends the session on its own timeout
            self._close()
