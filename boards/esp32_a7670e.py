# Reference board: ESP32-WROVER + SIMCom A7670E. Constructs the configured hardware objects and hands
# them to the drivers.
import machine

from boards import pins_a7670e as P
from drivers.button import ButtonEdges
from drivers.modem.simcom_a76xx import SimcomA76xx
from drivers.vibrator import Vibrator
from firmware.system.eventlog import FlashSink
from firmware.power.battery import percent_from_mv

_RESET_NAMES = {machine.PWRON_RESET: "power", machine.HARD_RESET: "hard", machine.WDT_RESET: "watchdog",
                machine.DEEPSLEEP_RESET: "deepsleep", machine.SOFT_RESET: "soft"}


class Board:
    name = "esp32-a7670e"

    def __init__(self):
        self._reset = machine.reset_cause()  # read first, before anything can change it
        self.button = ButtonEdges(machine.Pin(P.BUTTON, machine.Pin.IN, machine.Pin.PULL_UP))
        self.vibrator = Vibrator(machine.Pin(P.VIBRATOR, machine.Pin.OUT, value=0))
        machine.Pin(P.MODEM_POWER_EN, machine.Pin.OUT, value=1)
        self._pwrkey = machine.Pin(P.MODEM_PWRKEY, machine.Pin.OUT, value=0)
        self._mic_chipen = machine.Pin(P.MIC_CHIPEN, machine.Pin.OUT, value=0)  # mic powered down
        self._uart = machine.UART(1, baudrate=115200, tx=P.MODEM_TX, rx=P.MODEM_RX, rxbuf=2048, timeout=0)
        self._adc = machine.ADC(machine.Pin(P.BATTERY_ADC), atten=machine.ADC.ATTN_11DB)
        self._wdt = None
        self.flash_log = FlashSink()

    def reset_cause(self):
        return _RESET_NAMES.get(self._reset, str(self._reset))

    def make_accel(self):
        """LIS3DH on I2C0 (INT1 on an RTC GPIO for wake-up, see the power policy)."""
        from drivers.lis3dh import LIS3DH
        i2c = machine.I2C(0, sda=machine.Pin(P.ACCEL_SDA), scl=machine.Pin(P.ACCEL_SCL), freq=400000)
        # after a deep-sleep wake the chip kept sampling: its FIFO holds the samples of the boot
        return LIS3DH(i2c, range_g=8, rate_hz=50, keep_fifo=self.reset_cause() == "deepsleep")

    def make_gnss(self, log):
        """An external NMEA receiver on UART2 when the board options on flash say so
        (board.json {"gnss": "nmea", "gnss_baud": 9600}); None: the modem's own GNSS."""
        from firmware.system import storage
        opts = storage.read_json("board.json") or {}
        if opts.get("gnss", "modem") != "nmea":
            return None
        from drivers.nmea_gnss import NmeaGnss
        en = machine.Pin(P.GNSS_EN, machine.Pin.OUT, value=0)
        uart = machine.UART(2, baudrate=int(opts.get("gnss_baud", 9600)), tx=P.GNSS_TX, rx=P.GNSS_RX,
                            rxbuf=1024, timeout=0)
        return NmeaGnss(uart, log, enable_pin=en)

    def make_modem(self, log):
        return SimcomA76xx(self._uart, log, power_key=self._pwrkey)

    def battery_mv(self):
        return self._adc.read_uv() * 2 // 1000  # 1:2 divider on the cell

    def battery_percent(self):
        return percent_from_mv(self.battery_mv())

    def log_sinks(self):
        return [self.flash_log]

    def watchdog(self):
        if self._wdt is None:
            self._wdt = machine.WDT(timeout=30000)
        return self._wdt

    def data_link(self, spec, log, modem):
        """The network of the platform link (issue 9): the host's, Wi-Fi or PPP on the modem, as the
        platform config names it (drivers/datalink.py)."""
        from drivers import datalink
        return datalink.for_board(self, spec, log, modem)

    def device_id(self):
        return machine.unique_id()

    def power_hw(self):
        """Sleep, wake sources, RTC memory, modem DTR/RI (issue 8: boards/power_hw.py). The modem's
        power enable and power key keep their levels through deep sleep (GPIO hold)."""
        if getattr(self, "_power_hw", None) is None:
            from boards.power_hw import PowerHw
            self._power_hw = PowerHw(self, self.button.pin, accel=True, mic_chipen=self._mic_chipen,
                                     hold_pins=((machine.Pin(P.MODEM_POWER_EN), 1), (self._pwrkey, 0),
                                                (self._mic_chipen, 0)))
        return self._power_hw

    def microphone(self):
        """INMP441 on I2S0 (L/R tied low: left slot). RX always clocks 64 x fs on this port, which the
        INMP441 needs; ibuf 16 KB = 256 ms of 32-bit stereo frames of DMA slack at 8 kHz.
        shift=14: +12 dB over the mic's full scale (speech at a metre is ~-60 dBFS), to tune on the
        enclosure. None if the I2S cannot be set up: the firmware runs without evidence."""
        try:
            from drivers.inmp441 import Inmp441
            i2s = machine.I2S(0, sck=machine.Pin(P.MIC_SCK), ws=machine.Pin(P.MIC_WS), sd=machine.Pin(P.MIC_SD),
                              mode=machine.I2S.RX, bits=32, format=machine.I2S.MONO, rate=8000, ibuf=16384)
            return Inmp441(i2s, shift=14, chipen=self._mic_chipen)
        except (AttributeError, ValueError, OSError):
            return None

    def console_stream(self):
        """The technician console on the USB serial (the REPL's UART): stdin/stdout, read one byte at
        a time (their read(n) blocks for n bytes). Ctrl-C still stops main.py: MicroPython handles it
        before the console sees it (firmware/console/commands.py)."""
        import sys
        return (getattr(sys.stdin, "buffer", sys.stdin), getattr(sys.stdout, "buffer", sys.stdout))

    async def run_extras(self, app):
        import asyncio
        while True:
            await asyncio.sleep(3600)

    def wlan(self):
        from boards import esp32_net
        return esp32_net.wlan()

    def ppp(self, modem, apn=None):
        """(network.PPP on the modem's UART, dial, hangup): data mode hands the UART over (issue 9)."""
        from boards import esp32_net
        return esp32_net.ppp(modem, self._uart, apn)
