# Wires the device together from a board profile: button first (armed within a second of boot), then
# the alert manager, then the modem and GNSS in the background. One health loop feeds the watchdog.
import asyncio
import os
from time import ticks_ms, ticks_diff

from firmware.wearer import haptics
from firmware.settings import ram_profile, config as settings
from firmware.core import uptime
from firmware.alert.manager import AlertManager, DISPATCHING, IDLE
from firmware.system.eventlog import EventLog
from firmware.wearer.gestures import ARM, ButtonLogic
from firmware.location.gnss_power import GnssPower, PAUSED, POLL_MS as _GNSS_POLL_MS
from firmware.location.last_fix import LastFix
from firmware.version import VERSION

_GNSS_POLL_DISPATCH_MS = 10000
PLATFORM_PATH = "platform.json"  # firmware.platform.config.PATH, named here to test it without the import


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class App:
    def __init__(self, board):
        self.board = board
        self.log = EventLog(board.log_sinks())
        try:
            self.cfg = settings.load()
        except Exception as e:  # a config bug must never leave the button dead: run on defaults
            self.log("config_error", err=repr(e))
            self.cfg = settings.from_payload({}, ["load failed: %r" % e])
        small = ram_profile.apply(self.cfg)  # a board without PSRAM: smaller buffers (docs/memory.md)
        self.log.keep = self.cfg.get("log_keep", self.log.keep)
        if small:
            self.log("small_heap", heap_kb=ram_profile.heap_bytes() // 1024, defaults=small)
        self.lastfix = LastFix(log=self.log)
        self.vibrator = board.vibrator
        self.modem = board.make_modem(self.log)
        self.alert = AlertManager(self.cfg, self.modem, self.lastfix, board.battery_percent, self.log,
                                  self.vibrator)
        self.edges = board.button
        self.logic = ButtonLogic(self.cfg["gestures"], on_gesture=self._on_gesture)
        self.fall = self._make_fall_monitor()
        from firmware.wearer.actions import WearerGestures
        # cancel, duress and check-in press bursts
        self.wearer = WearerGestures(self.cfg, self.log, self.alert, self.vibrator, self.fall)
        self.logic.on_press = self.wearer.on_press
        self.logic.on_release = self.wearer.on_release  # the cancel hold during an alert
        self.arming = None  # the "he is coming" gesture's state, made at its first use (firmware/evidence/arming.py)
        self.gnss = self._make_gnss()
        # a deep-sleep wake is no boot: no boot refresh (the power task resumes the schedule)
        self.gnss_policy = GnssPower(self.cfg, now=None if self.board.reset_cause() == "deepsleep" else ticks_ms())
        self._gnss_nudge = asyncio.Event()
        self.gnss_power_failures = 0  # switch-ons or offs the receiver refused (the self-test reads it)
        self.alert.listeners.append(self._alert_event)
        self.tasks = []

    def _make_gnss(self):
        """The board's external NMEA receiver if it has one, else the modem's GNSS. A receiver that
        cannot be set up leaves the modem's GNSS in charge: the alert never depends on it."""
        if hasattr(self.board, "make_gnss"):
            try:
                ext = self.board.make_gnss(self.log)
            except Exception as e:  # any failure: the modem's GNSS, never a stopped boot
                self.log("gnss_receiver_missing", err=repr(e))
                ext = None
            if ext is not None:
                return ext
        return self.modem

    def _make_fall_monitor(self):
        """Fall detection if the board has an accelerometer and it answers; the button never
        depends on it. The accelerometer, or why there is none, stays for the self-test."""
        self.accel = self.accel_error = None
        if not self.cfg.get("fall_detection", True) or not hasattr(self.board, "make_accel"):
            return None
        try:
            accel = self.board.make_accel()
        except (OSError, ValueError) as e:
            self.accel_error = str(e) or repr(e)
            self.log("accel_missing", err=repr(e))
            return None
        if accel is None:
            return None
        self.accel = accel
        try:
            from firmware.fall.monitor import FallMonitor
            return FallMonitor(accel, self.alert, self.log, self.vibrator, self.cfg)
        except Exception as e:  # a bad setting or model, no memory: no fall detection, but an
            self.log("fall_detection_unavailable", err=repr(e))  # exception here would stop the boot
            return None

    def _on_gesture(self, action, t):
        self.log("gesture", action=action)
        if action == "alert":
            self.alert.trigger("button")
        elif action == ARM:
            try:  # never lets an error reach the button task: the alert gesture must still work
                if self.arming is None:
                    from firmware.evidence.arming import Arming
                    self.arming = Arming(self.cfg, self.log, self.vibrator, self.alert,
                                         getattr(self, "recorder", None), self.board.battery_percent, self.fall)
                self.arming.request(t)
            except Exception as e:
                self.log("evidence_arm_error", err=repr(e))

    async def button_task(self):
        edges, logic, wearer = self.edges, self.logic, self.wearer
        while True:
            now, wait = logic.take(edges, ticks_ms)  # edges in order, the pin level, then the clock
            wearer.poll(now)
            w2 = wearer.wait_ms(now)
            if w2 >= 0 and (wait < 0 or w2 < wait):
                wait = w2
            if wait < 0:
                await edges.flag.wait()
            else:
                try:
                    await asyncio.wait_for_ms(edges.flag.wait(), max(1, wait))
                except asyncio.TimeoutError:
                    pass

    def _alert_event(self, event, manager):
        # hot start: the receiver goes on the moment an alert starts, off again when it ends
        if event in ("triggered", "resumed", "ended"):
            self.gnss_policy.alert(ticks_ms(), event != "ended")
            self._gnss_nudge.set()

    async def gnss_task(self):
        src = self.gnss  # the modem's GNSS, or an external NMEA receiver (board profile)
        if src is not self.modem and getattr(src, "task", 0) is None:
            src.start()  # the receiver's UART reader (the modem's own reader is started by modem_task)
        if hasattr(src, "ready"):
            await src.ready.wait()
        pol, alert = self.gnss_policy, self.alert
        pol.blocks_lte = getattr(src, "gnss_blocks_lte", False)
        last_poll = ticks_ms()
        while True:
            now = ticks_ms()
            pol.battery(self.board.battery_percent())
            pol.set_need_fix(alert.followups.needs_fix())
            pol.set_lte_busy(alert.state == DISPATCHING)
            want = pol.want_on(now)
            if want != src.gnss_on:
                await src.gnss_power(want)
                if src.gnss_on != want:
                    self.gnss_power_failures += 1
                self.log("gnss", on=src.gnss_on, mode=pol.mode)
            wait = 60000
            if src.gnss_on:
                wait = _GNSS_POLL_MS
                # while SMS go out, poll rarely: each poll holds the AT channel between two SMS
                if alert.state != DISPATCHING or ticks_diff(now, last_poll) >= _GNSS_POLL_DISPATCH_MS:
                    last_poll = now
                    fix = await src.gnss_fix()
                    if fix is not None:
                        fix.stamp()
                        first = self.lastfix.best() is None or self.lastfix.best().up_ms is None
                        self.lastfix.update(fix)
                        pol.on_fix(ticks_ms())
                        alert.on_fix(fix)
                        if first:
                            self.log("fix", lat=fix.lat, lon=fix.lon, acc_m=fix.acc_m, sats=fix.sats)
            if pol.mode == PAUSED:
                wait = 500  # GNSS yields to SMS on modems that cannot do both: back on soon after
            nxt = pol.next_check_ms(now)
            if nxt is not None and nxt < wait:
                wait = max(nxt, 100)
            try:
                await asyncio.wait_for_ms(self._gnss_nudge.wait(), wait)
            except asyncio.TimeoutError:
                pass
            self._gnss_nudge.clear()

    def gnss_hold(self, ms):
        """The self-test wants the receiver on for ms (0: no longer): the GNSS task acts at once."""
        self.gnss_policy.selftest(ticks_ms(), ms)
        self._gnss_nudge.set()

    async def modem_task(self):
        modem = self.modem
        modem.start()
        power = getattr(self, "power", None)
        if power is None or power.modem_on_at_boot():  # asleep or off: the power task wakes it
            await modem.bring_up()
        while True:
            if modem.ready.is_set():
                try:  # kept for alerts without a fix: the SMS then names the serving cell
                    modem.last_cell = await modem.serving_cell()
                except Exception as e:
                    self.log("cell_failed", err=repr(e))
            try:  # the modem rebooting by itself wakes this task at once to restore its settings
                await asyncio.wait_for_ms(modem.setup_needed.wait(), self.cfg.get("status_poll_s", 60) * 1000)
            except asyncio.TimeoutError:
                pass
            if modem.needs_setup:
                await modem.reconfigure()
                if getattr(self, "two_way", None) is not None:
                    self.two_way.reader.sweep_soon()  # SMS that came while it rebooted
                continue
            if getattr(self, "two_way", None) is not None:
                self.two_way.check_battery()
            if self.alert.state == IDLE and (power is None or modem.ready.is_set()):
                await modem.poll_status()

    async def health_task(self, wdt):
        # The watchdog is fed only while the event loop turns and the tasks that matter are alive:
        # a dead button, alert or modem reader task means a reset (the outbox resumes the alert).
        flash_log = getattr(self.board, "flash_log", None)
        n = 0
        while True:
            uptime.ms()  # folds the ticks into the never-wrapping clock (needed at least every 6.2 days)
            vital = (self.tasks[0], self.alert.task, self.modem.at.task)
            if wdt is not None and not any(t is not None and t.done() for t in vital):
                wdt.feed()
            n += 1
            if flash_log is not None and n % 5 == 0:
                try:
                    flash_log.flush()
                except OSError:
                    pass  # flash full: the log is the first thing to give up
            await asyncio.sleep_ms(1000)

    async def run(self):
        b = self.board
        # ticks: where the 2**30 ms ticks wrap is (12.4 days after power-up on the ESP32)
        self.log("boot", version=VERSION, board=b.name, reset_cause=b.reset_cause(), ticks=ticks_ms())
        self.start_power()  # before the button task's first edge: the press that woke it counts
        self.tasks.append(asyncio.create_task(self.button_task()))
        self.log("button_armed")
        self.start_evidence()  # its ring is the largest buffer: allocated before the heap fragments
        if self.fall is not None:
            self.tasks.append(self.fall.start())
            self.log("fall_detection_on")
        self.tasks.append(self.alert.start())
        if not self.cfg["contacts"]:
            self.log("not_configured")
            self.vibrator.play(haptics.NOT_CONFIGURED)
        self.tasks.append(asyncio.create_task(self.modem_task()))
        self.tasks.append(asyncio.create_task(self.gnss_task()))
        self.tasks.append(asyncio.create_task(self.health_task(b.watchdog())))
        self.start_two_way()
        self.start_platform()
        self.start_console()
        await b.run_extras(self)


    def start_two_way(self):
        """Received SMS (acknowledgements, position requests, STOP) and low-battery warnings."""
        try:
            from firmware.sms.two_way import TwoWay
            self.two_way = TwoWay(self)
            self.tasks.append(self.two_way.start())
            self.wearer.tell_contacts = self.two_way.tell_contacts  # a genuine cancel is told to all
        except Exception as e:  # run() must go on: an exception here would end the event loop
            self.two_way = None
            self.log("two_way_unavailable", err=repr(e))

    def start_evidence(self):
        """Microphone ring and recording on alert (issue 7), if the board has a microphone. Optional:
        a board without one, or without the RAM for the ring, works as before."""
        self.recorder = self.mic = None
        if not hasattr(self.board, "microphone"):
            return
        try:
            mic = self.board.microphone()
            if mic is None:
                return
            self.mic = mic
            from firmware.evidence.recorder import Recorder
            self.recorder = Recorder(mic, self.cfg, self.log, self.lastfix.best, self.board.device_id())
            from firmware.evidence import device_key, sealing  # after the ring: it is allocated first
            self.recorder.keys = sealing.KeyAhead(sealing.association_from_cfg(self.cfg), self.log)
            self.recorder.signer = device_key.signer(device_key.load_or_create(log=self.log))
            self.tasks.append(self.recorder.start())
            self.alert.listeners.append(self.recorder.on_alert)
            self.alert.head_ref = self.recorder.head_ref  # the follow-up SMS carry the latest head
            alert = self.alert  # heads are signed (~2 s of CPU on an ESP32) only while no SMS is being sent
            self.recorder.busy = lambda: alert.state == "dispatching"
        except Exception as e:  # any error (a bad setting, a damaged recording): run() must go on,
            self.recorder = None  # an exception here would end the event loop, button included
            self.log("evidence_unavailable", err=repr(e))

    def start_platform(self):
        """Link to the association's platform (issue 9), only on a device provisioned with a
        platform.json. Optional: without it, or if it cannot start, SMS work exactly as before."""
        self.platform = None
        self.platform_problem = None
        if not _exists(PLATFORM_PATH):
            return  # not provisioned: the link's modules (~17 KB of heap) are never loaded
        try:
            from firmware.platform import link as platform_link
            self.platform = platform_link.from_app(self)
            if self.platform is not None:
                self.tasks.append(self.platform.start())
        except Exception as e:  # a bad config, no CA file: log it, show it on the console, never stop
            self.platform = None
            self.platform_problem = "the platform link did not start: %s" % (
                e if isinstance(e, ValueError) else repr(e))
            self.log("platform_unavailable", err=repr(e))

    def start_power(self):
        """Issue 8: after a deep-sleep wake by the button, the waking press goes to the gesture
        recogniser; the power task (sleep states, modem policy, accounting) runs unless the settings
        have "power": {"low_power": false} (firmware/power/task.py). Never fatal: awake is safe."""
        self.power = None
        try:
            from firmware.power import gate as power_gate
            if power_gate.wanted(self.cfg, self.board):  # else the power modules stay unloaded
                from firmware.power import task as power_task
                self.power = power_task.start(self)
        except Exception as e:
            self.log("power_unavailable", err=repr(e))
        if self.power is not None and self.fall is not None:
            self.fall.motion_listeners.append(self._power_motion)

    def _power_motion(self, moving):
        """Accelerometer verdicts for the sleep policy: motion keeps light sleep. Whether she moved
        away (a standby GNSS refresh worth its cost) is the LIS3DH's motion watch's to say (issue 22:
        firmware/location/motion_watch.py), asleep or awake."""
        if moving:
            self.power.policy.motion(ticks_ms())

    def start_console(self):
        """Technician console on the board's console stream, if it has one (issue: console). Its
        modules load when a technician's first byte arrives (firmware/console/gate.py)."""
        stream = self.board.console_stream() if hasattr(self.board, "console_stream") else None
        if stream is None:
            return
        from firmware.console import gate as console_gate
        self.tasks.append(asyncio.create_task(console_gate.run(self, stream)))


def main(board):
    # armed before the App is built: a boot that raises leaves the board at the REPL, where the
    # unfed watchdog resets it and the boot is tried again, as after a hang
    board.watchdog()
    asyncio.run(App(board).run())
