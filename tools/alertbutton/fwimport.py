"""Import the device's firmware modules into CPython, so host tools check input with the very code
that runs on the button (phone numbers, configuration files, gestures).

Firmware modules use two MicroPython-only names: `micropython.const` and `time.ticks_*`. Here they
get CPython equivalents (const is the identity; ticks are milliseconds of time.monotonic, wrapped
like MicroPython's 30-bit ticks). Nothing else is emulated: a firmware module that needs more must
not be imported on the host."""
import os
import sys
import time
import types

_TICKS_PERIOD = 1 << 30
_TICKS_HALF = _TICKS_PERIOD // 2


def setup():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if repo not in sys.path:
        sys.path.insert(0, repo)
    if "micropython" not in sys.modules:
        try:
            import micropython  # noqa: F401
        except ImportError:
            shim = types.ModuleType("micropython")
            shim.const = lambda x: x
            sys.modules["micropython"] = shim
    if not hasattr(time, "ticks_ms"):
        time.ticks_ms = lambda: int(time.monotonic() * 1000) % _TICKS_PERIOD
        time.ticks_add = lambda t, d: (t + d) % _TICKS_PERIOD
        time.ticks_diff = lambda a, b: ((a - b + _TICKS_HALF) % _TICKS_PERIOD) - _TICKS_HALF


setup()
