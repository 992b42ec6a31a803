# GPIO map of the reference board (ESP32-WROVER + SIMCom A7670E, LilyGO T-A7670E layout for the modem).
# The simulated board uses the same numbers so that both profiles stay alike.
from micropython import const

BUTTON = const(13)  # RTC GPIO14: ext0 wake from deep sleep, internal pull-up, pressed = low
VIBRATOR = const(19)  # motor driver transistor, high = vibrate
MODEM_TX = const(26)  # ESP32 TX -> modem RXD
MODEM_RX = const(27)  # ESP32 RX <- modem TXD
MODEM_PWRKEY = const(4)
MODEM_DTR = const(25)
MODEM_RI = const(33)  # RTC GPIO8: incoming-SMS wake
MODEM_POWER_EN = const(12)
BATTERY_ADC = const(35)  # through a 1:2 divider
ACCEL_SDA = const(21)
ACCEL_SCL = const(22)
ACCEL_INT1 = const(39)  # RTC GPIO3, input only (LIS3DH drives it push-pull)
MIC_SCK = const(18)
MIC_WS = const(23)
MIC_SD = const(34)
# Board requirement (issue 8): the INMP441's CHIPEN on a GPIO, with a pull-down (e.g. 100 kohm) so the
# mic stays powered down while the pin floats (reset, boot). GPIO32 (RTC GPIO9) is free on this map
# and is not a strapping pin (0, 2, 5, 12, 15). Stopping SCK alone leaves the mic in standby (0.8 mA).
MIC_CHIPEN = const(32)
# Optional external GNSS receiver (NMEA 0183 on UART2), for boards whose positions do not come from the
# modem (board.json {"gnss": "nmea"}). GPIO36 is input-only (fine for RX); GPIO14 is free; GPIO2 is a
# strapping pin that must be low or floating at reset (download mode): as the receiver's enable,
# driven low at boot, that is also "receiver off". GPIO16/17 are taken by the WROVER's PSRAM.
GNSS_TX = const(14)  # ESP32 TX -> receiver RX (configuration sentences; unused by the driver today)
GNSS_RX = const(36)  # ESP32 RX <- receiver TX
GNSS_EN = const(2)  # receiver power / enable, high = on
