# Proves the harness itself: these run in the MicroPython VM, not CPython.
import sys


def test_runs_in_micropython():
    if sys.implementation.name != "micropython":
        raise AssertionError("not in the MicroPython VM: " + sys.implementation.name)


async def test_async_tests_are_awaited():
    import asyncio
    await asyncio.sleep_ms(1)
