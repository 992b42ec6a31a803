# Simulated board for the MicroPython unix port. Same pins and drivers as the reference board; the
# hardware is provided by the simulated `machine` (boards/simlib) and the host simulator, which
# describes the wiring in sim_board.json (pty paths) and drives inputs over a control pty:
#   "pin <gpio> <level> [<unix ms>]"  set an input level (the pin's ISR runs with the heap locked); the
#                            button's ISR dates the edge at <unix ms> (when the host played it: see _apply)
#   "battery <mV>"           set the battery voltage
# Outputs and events go to stdout as "EV <json>" lines (the event log) and "VIB <0|1>".
import asyncio
import json
import sys
import time

import machine

from boards import pins_a7670e as P
from drivers.button import ButtonEdges
from drivers.modem.simcom_a76xx import SimcomA76xx
from drivers.vibrator import Vibrator
from firmware.system import storage
from firmware.power.battery import percent_from_mv
from firmware.system.eventlog import FlashSink

if "lib" not in sys.path:  # as on the board, whose sys.path has /lib: mip-installed libraries
    sys.path.append("lib")

_RESET_NAMES = {machine.PWRON_RESET: "power", machine.WDT_RESET: "watchdog", machine.SOFT_RESET: "soft",
                machine.DEEPSLEEP_RESET: "deepsleep", machine.HARD_RESET: "hard"}


class _TaskFlag:
    """ThreadSafeFlag contract (set() then one wait() returns and clears) on an asyncio.Event.

    On the unix port, any pending ThreadSafeFlag makes every event-loop iteration sleep ~1.1 ms
    (select.poll falls back to a 1 ms sleep loop for objects without a file descriptor), which
    would add several ms to every AT exchange. The ESP32 has no such penalty, and here the
    simulated ISR runs in task context, so an Event is equivalent."""

    def __init__(self):
        self._ev = asyncio.Event()

    def set(self):
        self._ev.set()

    async def wait(self):
        await self._ev.wait()
        self._ev.clear()


SIM_VBUS = 38  # the simulated board's VBUS sense input (GPIO38: input-only, free on the ESP32 chip)


def _pin_out(pin, v):
    print("PIN", pin.id, v)


def _vib_out(pin, v):
    print("VIB", v)


class Board:
    name = "sim"

    def __init__(self, wiring="sim_board.json"):
        w = storage.read_json(wiring) or {}
        self.wiring = w
        machine._RESET_CAUSE = w.get("reset_cause", machine.PWRON_RESET)
        machine._WAKE_REASON = w.get("wake_reason", 0)  # issue 8: the simulator restarts a deep-sleeping VM
        machine._INIT_LEVELS = dict((int(k), v) for k, v in (w.get("pin_levels") or {}).items())
        self._reset = machine.reset_cause()
        self._edge_at = None  # ticks of the button edge being driven (_apply), else None: the ISR reads ticks_ms
        self.button = ButtonEdges(machine.Pin(P.BUTTON, machine.Pin.IN, machine.Pin.PULL_UP), flag=_TaskFlag(),
                                  clock=self._edge_clock)
        self._armed = time.ticks_ms()  # no edge is dated before the ISR existed (edges sent during a boot)
        vib = machine.Pin(P.VIBRATOR, machine.Pin.OUT, value=0)
        vib.on_change = _vib_out
        self.vibrator = Vibrator(vib)
        self._pwrkey = machine.Pin(P.MODEM_PWRKEY, machine.Pin.OUT, value=0)
        self._pwrkey.on_change = _pin_out  # the host forwards it to the modem simulator
        # USB VBUS through a divider to an input (docs/power.md "USB/debug mode": the reference board
        # lacks it); the host simulator raises it once a tool uses the console port (pin_levels, "pin")
        self._vbus = machine.Pin(SIM_VBUS, machine.Pin.IN)
        self._mic_chipen = machine.Pin(P.MIC_CHIPEN, machine.Pin.OUT, value=0)  # INMP441 powered down
        self._uart = machine.UART(1, baudrate=115200, tx=P.MODEM_TX, rx=P.MODEM_RX, path=w.get("modem"))
        self._adc = machine.ADC(machine.Pin(P.BATTERY_ADC))
        self._adc.sim_uv = int(w.get("battery_mv", 3900)) * 1000 // 2
        self._ctl = machine.UART(9, path=w["ctl"]) if w.get("ctl") else None
        if self._ctl is not None:
            machine._WAKE_FDS.append(self._ctl)  # a button edge ends a light sleep (GPIO wake)
        self._wdt = None
        self.flash_log = FlashSink()

    def reset_cause(self):
        return _RESET_NAMES.get(self._reset, str(self._reset))

    def make_accel(self):
        """LIS3DH driver on the simulated chip, fed from the scenario's trace (sim_accel.txt: one
        "x y z" line in mg per sample at 50 Hz, from `accel_start_s` after boot), else None. Faults
        (wiring): accel_silent, nobody answers on the bus; accel_who, the chip's WHO_AM_I."""
        if not self.wiring.get("accel"):
            return None
        from lis3dh_sim import SimLIS3DH
        from drivers.lis3dh import LIS3DH
        self._accel_chip = SimLIS3DH(who=self.wiring.get("accel_who", 0x33),
                                     answers=not self.wiring.get("accel_silent"))
        machine._WAKE_HOOKS.append(self._accel_chip.ms_to_watermark)  # a light sleep ends on the watermark
        return LIS3DH(self._accel_chip, range_g=8, rate_hz=50)

    async def _accel_feed(self):
        # The trace is read from the flash file as it plays, never held as a list: the simulated
        # board's own memory is not the firmware's, and `alertbutton bench heap` measures the heap
        # the firmware needs (a 10 s trace as a list of tuples would be ~18 KB of it).
        import time
        f = open(self.wiring["accel"])
        first = _next_sample(f)
        if first is None:
            f.close()
            return
        start_ms = int(float(self.wiring.get("accel_start_s", 0)) * 1000)
        # [file, t0, samples pushed, samples before the trace, first sample, next trace sample]
        self._feed = [f, time.ticks_ms(), 0, start_ms // 20, first, first]
        machine._SLEEP_PUMPS.append(self._accel_pump)  # the chip samples while the MCU light-sleeps
        while True:
            self._accel_pump()
            await asyncio.sleep_ms(100)

    def _accel_pump(self):
        """Push the world samples due by now at 50 Hz (before the trace: its first sample; after it:
        its last); True if the chip's INT1 is up (a light sleep ends on it, as on the ESP32)."""
        import time
        fd, chip = self._feed, self._accel_chip
        due = time.ticks_diff(time.ticks_ms(), fd[1]) // 20
        while fd[2] < due:
            if fd[2] < fd[3]:
                chip.push_mg(*fd[4])
            else:
                chip.push_mg(*fd[5])
                fd[5] = _next_sample(fd[0]) or fd[5]
            fd[2] += 1
        return bool(chip.int1)

    def make_gnss(self, log):
        """An external NMEA receiver on UART2 when the scenario wires one ("gnss_receiver"), its
        enable pin forwarded to the host's receiver; None: positions come from the modem's GNSS."""
        if not self.wiring.get("nmea"):
            return None
        from drivers.nmea_gnss import NmeaGnss
        en = machine.Pin(P.GNSS_EN, machine.Pin.OUT, value=0)
        en.on_change = _pin_out
        uart = machine.UART(2, baudrate=9600, tx=P.GNSS_TX, rx=P.GNSS_RX, path=self.wiring["nmea"])
        return NmeaGnss(uart, log, enable_pin=en)

    def make_modem(self, log):
        if self.wiring.get("crash_at_boot"):  # fault injection (scenario "crash_first_boot")
            raise RuntimeError("simulated crash while building the firmware")
        dialect = self.wiring.get("dialect", "a76xx")  # the simulator runs every modem dialect
        if dialect == "a76xx":
            return SimcomA76xx(self._uart, log, power_key=self._pwrkey)
        from boards.profiles import modem_class
        return modem_class(dialect)(self._uart, log, power_key=self._pwrkey)

    def battery_mv(self):
        return self._adc.read_uv() * 2 // 1000  # 1:2 divider on the cell

    def battery_percent(self):
        return percent_from_mv(self.battery_mv())

    def log_sinks(self):
        return [_print_event, self.flash_log]

    def data_keep(self):
        """Files of the simulated board itself (its wiring, clock, environment) that a factory reset
        keeps: the host simulator wrote them, no person's data is in them."""
        return ("sim_board.json", "sim_audio.json", "sim_accel.txt", "sim_rtc.bin")

    def watchdog(self):
        if self._wdt is None and self.wiring.get("watchdog", True):
            self._wdt = machine.WDT(timeout=int(self.wiring.get("watchdog_ms", 30000)))
        return self._wdt

    async def run_extras(self, app):
        self.app = app
        tasks = []
        if getattr(self, "_accel_chip", None) is not None:
            tasks.append(asyncio.create_task(self._accel_feed()))
        if self._ctl is not None:
            tasks.append(asyncio.create_task(self._control()))
        if getattr(self, "_i2s", None) is not None:
            tasks.append(asyncio.create_task(self._audio()))
        while True:
            await asyncio.sleep_ms(1000)

    def data_link(self, spec, log, modem):
        """The network of the platform link (issue 9): the host's, Wi-Fi or PPP on the modem, as the
        platform config names it (drivers/datalink.py)."""
        from drivers import datalink
        return datalink.for_board(self, spec, log, modem)

    def sockets(self):
        """The platform link's sockets: the ESP32's behaviour where the unix port's differs
        (boards/simlib/esp32_socket.py: setblocking(True) drops a timeout, blocking calls noted)."""
        import esp32_socket
        return esp32_socket

    def dns_server(self):
        """The DNS server the platform link asks (wiring "dns": [ip, port], a resolver the host
        simulator runs), or None: the host's resolver (loopback names)."""
        d = self.wiring.get("dns")
        return (d[0], int(d[1])) if d else None

    def device_id(self):
        return machine.unique_id()

    def power_hw(self):
        """Sleep, wake sources, RTC memory, modem DTR (issue 8: boards/power_hw.py). DTR changes are
        printed as PIN lines; a deep sleep ends the VM (exit 76) until the simulator wakes it."""
        if getattr(self, "_power_hw", None) is None:
            from boards.power_hw import PowerHw
            self._power_hw = PowerHw(self, self.button.pin, accel=bool(self.wiring.get("accel")),
                                     vbus_pin=self._vbus, mic_chipen=self._mic_chipen if self._has_audio() else None)
            self._power_hw.dtr.on_change = _pin_out
        return self._power_hw

    def console_stream(self):
        """The technician console's serial line: a pty the host simulator bridges to the port it
        prints (wiring "console"), or None."""
        path = self.wiring.get("console")
        return machine.UART(0, path=path) if path else None

    def _has_audio(self):
        audio = storage.read_json("sim_audio.json")  # written by the host simulator: {"wav", "speed"}
        return audio if audio and audio.get("wav") else None

    def microphone(self):
        """The INMP441 on a simulated I2S fed by the scenario's WAV ("audio"), or None without one.
        CHIPEN is modelled: the simulated I2S gives silence while it is low and for the mic's
        start-up time after it rises."""
        audio = self._has_audio()
        if not audio:
            return None
        from drivers.inmp441 import Inmp441
        self._i2s = machine.I2S(0, sck=machine.Pin(P.MIC_SCK), ws=machine.Pin(P.MIC_WS),
                                sd=machine.Pin(P.MIC_SD), mode=machine.I2S.RX, bits=32,
                                format=machine.I2S.MONO, rate=8000, ibuf=16384, source=audio["wav"],
                                speed=float(audio.get("speed", 1.0)), chipen=self._mic_chipen)
        return Inmp441(self._i2s, shift=16, chipen=self._mic_chipen)  # the WAV is the sound at the mic's full scale: no gain

    async def _audio(self):
        # the "DMA" of the simulated I2S: delivers the buffers the elapsed time allows
        while True:
            self._i2s.sim_service()
            await asyncio.sleep_ms(20)

    async def _control(self):
        reader = asyncio.StreamReader(self._ctl)
        while True:
            line = await reader.readline()
            if not line:
                await asyncio.sleep_ms(10)
                continue
            try:
                self._apply(line.decode().split())
            except (ValueError, IndexError, KeyError) as e:
                print("SIMERR", repr(e), line)

    def _edge_clock(self):
        # the button ISR's clock (runs with the heap locked: reads an int, allocates nothing)
        t = self._edge_at
        return time.ticks_ms() if t is None else t

    def _apply(self, words):
        if not words:
            return
        if words[0] == "pin":
            # On the board the ISR dates an edge when the contact moves. Here the edge reaches the VM
            # when this task reads its line: on a loaded PC that is tens of ms late, unevenly (the host
            # thread or this process descheduled, several lines read at once), which shortened or
            # merged taps. The host says when it played the edge (Unix ms: the one clock both processes
            # read), and the ISR dates it that long before now, but never before it was armed (an edge
            # played while the VM booted: on the board, resync() finds that level when the task starts).
            pin = machine.Pin._all[int(words[1])]
            if len(words) > 3:
                now = time.ticks_ms()
                age = min(max(0, time.time_ns() // 1000000 - int(words[3])), time.ticks_diff(now, self._armed))
                self._edge_at = time.ticks_add(now, -age)
            try:
                pin._drive(int(words[2]))
            finally:
                self._edge_at = None
        elif words[0] == "test-alert":
            # what the console's test-alert does, without the PIN dance (simulator scripting)
            self.app.alert.trigger("console", kind="test", only=[int(w) for w in words[1:]])
        elif words[0] == "hang":
            # a task stuck in a blocking call: the whole event loop stops, the watchdog must act
            time.sleep(float(words[1]))
        elif words[0] == "battery":
            self._adc.sim_uv = int(words[1]) * 1000 // 2
        elif words[0] == "quit":
            sys.exit(0)
        else:
            raise ValueError("unknown control command")


def _next_sample(f):
    """The next "x y z" sample (mg) of an accelerometer trace file, None at its end."""
    for line in f:
        p = line.split()
        if len(p) == 3:
            return int(p[0]), int(p[1]), int(p[2])
    return None


def _print_event(line):
    print("EV", line)
