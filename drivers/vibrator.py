# Vibration motor on a GPIO (through a transistor). Plays on/off patterns from firmware.wearer.haptics.
import asyncio


class Vibrator:
    def __init__(self, pin):
        self.pin = pin
        self.pin.value(0)
        self._task = None

    def play(self, pattern):
        """Start a pattern now, replacing any pattern still playing."""
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.create_task(self._run(pattern))

    def playing(self):
        """True while a pattern plays: the MCU must not sleep (a light sleep would hold the motor
        at its level for the whole sleep, a deep sleep would cut the pattern)."""
        return self._task is not None and not self._task.done()

    async def _run(self, pattern):
        try:
            on = True
            for ms in pattern:
                self.pin.value(1 if on else 0)
                await asyncio.sleep_ms(ms)
                on = not on
        finally:
            self.pin.value(0)
