# Sleep, wake sources, RTC memory and the modem's DTR/RI lines for the power task (issue 8). Board
# code: with the board profiles, the only place that touches machine/esp32. The same class serves the
# ESP32 and the simulated board (boards/simlib/machine.py has RTC().memory(), wake_reason(), sleeps).
#
# Wake sources on the ESP32 (pins in boards/pins_a7670e.py):
#   button  ext0, GPIO13 (RTC GPIO14) low; pull-up: internal, an external one is safer in deep sleep
#   accel   ext1 ANY_HIGH, GPIO39 (RTC GPIO3), LIS3DH INT1 push-pull active high
#   ri      GPIO33 (RTC GPIO8), SIMCom RI is active low: ext1 cannot mix it with INT1 (ALL_LOW or
#           ANY_HIGH only on the ESP32), so RI wakes from light sleep (GPIO wake) but from deep
#           sleep only with an inverter on the board (ri_ext1=True)
#   timer   RTC timer
import time

import machine

from boards import pins_a7670e as P
from firmware.power.policy import W_ACCEL, W_BUTTON, W_RI, W_TIMER

try:
    import esp32
except ImportError:  # the unix port: the simulated board has no ext0/ext1 to arm
    esp32 = None

_RTC_MAX = 2048  # RTC user memory of the ESP32 port (MICROPY_HW_RTC_USER_MEM_MAX)
_REASONS = {getattr(machine, "EXT0_WAKE", 2): "button", getattr(machine, "EXT1_WAKE", 3): "ext1",
            getattr(machine, "TIMER_WAKE", 4): "timer", 7: "gpio"}  # 7: ESP_SLEEP_WAKEUP_GPIO (light)


class PowerHw:
    def __init__(self, board, button_pin, accel=True, ri_ext1=False, vbus_pin=None, mic=None,
                 mic_chipen=None, hold_pins=()):
        """board: its reset_cause() was read first. button_pin: the button's Pin. accel: the LIS3DH
        INT1 is wired. vbus_pin: an input reading USB VBUS (None: no sensing, config flag only).
        mic: "standby" when a microphone without a CHIPEN pin is idle, None without one. mic_chipen:
        the output Pin on the INMP441's CHIPEN: its level is the idle mic's state (low: "off"). hold_pins: (Pin, level) outputs that must keep their level through deep sleep (modem
        power enable, power key)."""
        self.board = board
        self.reset = board.reset_cause()
        self.wake = _REASONS.get(machine.wake_reason(), "other") if self.reset == "deepsleep" else None
        self.button = button_pin
        self.dtr = machine.Pin(P.MODEM_DTR, machine.Pin.OUT)
        self.hold_pins = tuple(hold_pins)
        for pin in (self.dtr,) + tuple(p for p, _ in self.hold_pins):
            try:
                pin.init(hold=False)  # held through the last deep sleep: release before driving it
            except (AttributeError, TypeError, ValueError):
                pass
        # after a deep-sleep wake the modem sleeps on (DTR high) until the power task needs it; after
        # any other reset it must answer the app's bring-up (DTR low = awake)
        self.dtr.value(1 if self.reset == "deepsleep" else 0)
        self.ri = machine.Pin(P.MODEM_RI, machine.Pin.IN, machine.Pin.PULL_UP)
        self.int1 = machine.Pin(P.ACCEL_INT1, machine.Pin.IN) if accel else None
        self.vbus = vbus_pin
        self.mic_chipen = mic_chipen
        self.mic_idle = mic
        self.caps_light = W_BUTTON | W_TIMER | W_RI | (W_ACCEL if accel else 0)
        self.caps_deep = W_BUTTON | W_TIMER | (W_ACCEL if accel else 0) | (W_RI if ri_ext1 else 0)
        if self.wake == "ext1":  # INT1 and (with an inverter) RI share ext1: the levels tell which
            self.wake = "accel" if self.int1 is not None and self.int1.value() else "ri"

    def mic_state(self):
        """The idle microphone's power state read from the hardware: CHIPEN's level when wired."""
        if self.mic_chipen is not None:
            return "standby" if self.mic_chipen.value() else "off"
        return self.mic_idle

    def t_wake(self):
        """ticks_ms of the wake: 0 on the ESP32 (its clock restarts at boot), the VM start in the
        simulator."""
        return getattr(machine, "_BOOT_TICKS", 0)

    def usb(self):
        return bool(self.vbus is not None and self.vbus.value())

    def wall_ms(self):
        """The RTC clock, which keeps running through deep sleep (ticks_ms restarts)."""
        try:
            return time.time_ns() // 1000000
        except AttributeError:
            return int(time.time()) * 1000

    def rtc_load(self):
        try:
            return machine.RTC().memory()
        except (AttributeError, OSError):
            return b""

    def rtc_save(self, data):
        """False if it does not fit (the caller falls back to flash)."""
        if len(data) > _RTC_MAX:
            return False
        try:
            machine.RTC().memory(data)
            return True
        except (AttributeError, OSError, ValueError):
            return False

    def _arm(self, mask):
        if esp32 is None:
            return
        if mask & W_BUTTON:
            esp32.wake_on_ext0(pin=self.button, level=esp32.WAKEUP_ALL_LOW)
        pins = []
        if mask & W_ACCEL and self.int1 is not None:
            pins.append(self.int1)
        if mask & W_RI and self.ri is not None and self.caps_deep & W_RI:
            pins.append(self.ri)  # through the board's inverter: active high
        esp32.wake_on_ext1(pins=tuple(pins), level=esp32.WAKEUP_ANY_HIGH)

    def lightsleep(self, ms, mask):
        """Light sleep up to ms; returns the wake source's name."""
        self._arm(mask)
        if mask & W_RI and esp32 is not None:
            try:  # GPIO wake (light sleep only): RI is active low
                self.ri.irq(trigger=machine.Pin.WAKE_LOW, wake=machine.SLEEP)
            except (AttributeError, ValueError, TypeError):
                pass
        machine.lightsleep(max(1, ms))
        r = _REASONS.get(machine.wake_reason(), "other")
        if r in ("gpio", "ext1", "other"):
            if not self.button.value():
                return "button"
            if self.int1 is not None and self.int1.value():
                return "accel"
            if not self.ri.value():
                return "ri"
        return r

    def deepsleep(self, ms, mask):
        """Never returns: the chip resets on wake (reset cause "deepsleep")."""
        self.dtr.value(1)  # the modem keeps its UART sleep (or stays off) while the MCU sleeps
        for pin, level in ((self.dtr, 1),) + self.hold_pins:
            try:
                pin.init(value=level, hold=True)  # GPIO levels survive deep sleep only when held
            except (AttributeError, TypeError, ValueError):
                pass
        if esp32 is not None and hasattr(esp32, "gpio_deep_sleep_hold"):
            esp32.gpio_deep_sleep_hold(True)
        self._arm(mask)
        machine.deepsleep(max(1, ms))
