"""`alertbutton sim`: boot main.py in the MicroPython VM on the simulated board.

The board's modem UART and its control channel are ptys created here; the modem simulator (or any
external AT peer with --modem-pty) answers on the first, the virtual button is driven through the second.
Outputs in --out: sms.jsonl (every SMS the modem accepted, decoded by python-gsmmodem-new),
events.jsonl (the firmware's event log), firmware.log (everything else the VM printed)."""
import calendar
import collections
import json
import os
import random
import sys
import threading
import time
import tty

from alertbutton import vm
from alertbutton.sim import outdir
from alertbutton.sim.modem import dialects
from alertbutton.sim.modem.a76xx import NET_TIME, _parse_net_time

BUTTON_PIN = 13  # boards/pins_a7670e.py BUTTON
PWRKEY_PIN = 4  # boards/pins_a7670e.py MODEM_PWRKEY
GNSS_EN_PIN = 2  # boards/pins_a7670e.py GNSS_EN (external NMEA receiver)
VBUS_PIN = 38  # boards/sim.py SIM_VBUS: the simulated board senses USB VBUS (docs/power.md, USB/debug mode)
RESET_EXIT = 75  # boards/simlib/machine.py: machine.reset()
DEEPSLEEP_EXIT = 76  # boards/simlib/machine.py: machine.deepsleep(ms)
# The reference ESP32-WROVER has 4 MB of PSRAM, where MicroPython puts its heap (~4 MB); the simulated
# board gets half of that, so memory growth still shows long before the real board would run out.
HEAPSIZE = "2m"


class ScenarioError(ValueError):
    pass


class FirmwareExited(Exception):
    """The firmware's VM exited while a caller waited for it (SimRun.wait_for(fail_on_exit=True)): the
    message names the exit code and ends with the last lines the VM printed (a traceback)."""


def load_scenario(path):
    try:
        with open(path) as f:
            sc = json.load(f)
    except OSError as e:
        raise ScenarioError("cannot read scenario %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise ScenarioError("scenario %s is not valid JSON: %s" % (path, e))
    return check_scenario(sc)


def check_scenario(sc):
    if not isinstance(sc, dict):
        raise ScenarioError("scenario must be a JSON object")
    contacts = sc.get("contacts", [])
    if not isinstance(contacts, list) or len(contacts) > 5:
        raise ScenarioError("contacts: a list of at most 5 {name, number}")
    for c in contacts:
        if not isinstance(c, dict) or not str(c.get("number", "")).startswith("+"):
            raise ScenarioError("contact %r: needs a number in international form (+33...)" % (c,))
    for key in ("gnss", "last_fix"):
        v = sc.get(key)
        if v is not None and not (isinstance(v, dict) and "lat" in v and "lon" in v):
            raise ScenarioError("%s: null or an object with lat, lon" % key)
    if sc.get("gnss_receiver") is not None:
        from alertbutton.sim.nmea_receiver import check_spec, ReceiverError
        try:
            check_spec(sc["gnss_receiver"])
        except ReceiverError as e:
            raise ScenarioError(str(e))
    for key in ("ticks_ms_start", "ticks_us_start"):
        if sc.get(key) is not None:
            try:
                _ticks_start(sc[key])
            except ValueError:
                raise ScenarioError("%s: an integer, or wrap-N (N ms before the ticks wrap), not %r" % (key, sc[key]))
            if vm.vm_facts()["bits"] != 32:
                raise ScenarioError("%s needs the 32-bit VM (ALERTBUTTON_VM=32, built by tools/vm32/build.sh): "
                                    "the 64-bit VM's ticks cannot be set and do not wrap at 2**30" % key)
    events = sc.get("events", [])
    if not isinstance(events, list):
        raise ScenarioError("events: a list of {t, ...} objects")
    for ev in events:
        if not isinstance(ev, dict) or "t" not in ev:
            raise ScenarioError("event %r has no t" % (ev,))
        _number("event %r: t" % (ev,), ev["t"], 0)
    # numbers checked before boot: a wrong type is a message here, not a traceback in the run (issue 19)
    _number("duration_s", sc.get("duration_s", 0), 0)
    _number("battery_mv", sc.get("battery_mv", 3900), 2500, 5000)
    for key, fields in (("gnss", ("lat", "lon", "acc_m", "after_s")), ("last_fix", ("lat", "lon", "acc_m", "age_s"))):
        v = sc.get(key)
        for f in fields if isinstance(v, dict) else ():
            if f in v:
                lo, hi = {"lat": (-90, 90), "lon": (-180, 180)}.get(f, (0, None))
                _number("%s.%s" % (key, f), v[f], lo, hi)
    modem = sc.get("modem") or {}
    if not isinstance(modem, dict):
        raise ScenarioError("modem: an object, e.g. {\"cmgs_latency_s\": 1.0}")
    for f in ("cmgs_latency_s", "cmd_latency_s"):
        if f in modem:
            _number("modem.%s" % f, modem[f], 0)
    return sc


def _number(what, v, lo=None, hi=None):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ScenarioError("%s: a number, not %r" % (what, v))
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ScenarioError("%s: %r is out of range (%s to %s)" % (what, v, lo, "any" if hi is None else hi))


# --- the virtual button ---------------------------------------------------------------------------

def gesture_edges(ev, rng):
    """(delay_s, level) steps for one scripted button event; bounce noise on every contact change."""
    g = ev.get("gesture", "alert")
    if "pattern" in ev:  # explicit [[ms, level], ...]
        return [(ms / 1000.0, lvl) for ms, lvl in ev["pattern"]]
    if g == "alert":  # the default alert gesture (firmware/wearer/gestures.py): 5 firm taps
        spec = [(i * 450, 150) for i in range(5)]
    elif g == "hold":
        spec = [(0, int(ev.get("hold_ms", 2500)))]
    elif g == "arm":  # arming the pre-alert ring (firmware/wearer/gestures.py ARM_GESTURE): hold 2.5 s, 2 taps
        spec = [(0, 2500), (2800, 150), (3250, 150)]
    elif g == "press":
        spec = [(0, 120)]
    elif g == "presses":
        spec = [(i * int(ev.get("gap_ms", 400)), 120) for i in range(int(ev.get("n", 1)))]
    else:
        raise ScenarioError("unknown gesture %r" % g)
    steps = []
    for start, dur in spec:
        for t, level in ((start, 0), (start + dur, 1)):
            for k in range(rng.randrange(0, 4) if ev.get("bounce", True) else 0):
                steps.append((t + k * 3, level))  # bounce: a few toggles 1-3 ms apart
                steps.append((t + k * 3 + 1 + rng.randrange(2), 1 - level))
            steps.append((t + 12 if ev.get("bounce", True) else t, level))
    steps.sort(key=lambda s: s[0])
    return [(ms / 1000.0, lvl) for ms, lvl in steps]


class SimRun:
    def __init__(self, scenario, out_dir, modem_pty=None, echo=print, seed=1, heapsize=HEAPSIZE, mpy=False,
                 heap_probe=False, tree=None, romfs=False):
        self.sc = check_scenario(scenario)
        self.romfs = romfs  # boot from those .mpy files in a ROMFS image (tools/alertbutton/sim/tree.py)
        self.mpy = romfs or mpy or bool(self.sc.get("mpy"))  # boot from the .mpy files `deploy` ships
        # heap_probe: every boot imports tools/alertbutton/sim/heap_probe_vm.py first, which writes the
        # heap each import, construction and logged event costs ("HEAP" lines in firmware.log)
        self.heap_probe = heap_probe
        self._tree = tree  # vm_env options of a tree sim/tree.py's build() made already (else built here)
        self.out = os.path.abspath(out_dir)
        self.flash = os.path.join(self.out, "flash")
        self.association_key = None  # OUT/association.key: the association's secret (scenario "association")
        self.modem_pty = modem_pty
        self.echo = echo or (lambda *a: None)
        self.rng = random.Random(seed)
        self.heapsize = heapsize
        self.t0 = None
        self.sms = []
        self.events = []
        self.proc = None
        self.modem = None
        self.receiver = None  # external NMEA receiver (scenario "gnss_receiver"), else the modem's GNSS
        self._ctl_master = None
        self._battery_mv = None  # set by a "battery MV" ctl event, kept across the VM's reboots
        self._lock = threading.Lock()
        self._files = {}
        self.boots = 0
        self.exit_codes = []
        self.resets = []  # (t, cause) of every simulated reset
        self.pins = []  # (t, gpio, level) of every board output pin change the VM printed
        self._wdt_timeout = None  # ms, once the firmware started its watchdog
        self._wdt_fed = None
        self._dead_until = None  # the VM exited with its watchdog armed: reset at this time
        self._asleep = None  # monotonic deadline of the VM's deep sleep (issue 8), None while it runs
        self._sup_lock = threading.RLock()  # supervise() and a press that may wake the board
        self.wakes = []  # (t, "button" | "timer") of every deep-sleep wake
        self.usb = False  # the console's USB cable: plugged from the first byte a host tool sends
        self._usb_reset = False  # plugged while the VM deep-slept: the EN auto-reset is due
        self.vm_errors = []  # (t, line) of every VM output line naming a Traceback or a MemoryError
        self.tail = collections.deque(maxlen=12)  # the last lines the VM printed that are not events (stderr too)
        self.gesture_waits = []  # cpu_wait_s() as each "gesture" event line was read (checks/modem_faults.py)

    # --- setup ------------------------------------------------------------------------------------
    def _prepare_flash(self):
        outdir.prepare(self.out)  # never deletes what a run did not write (issue 19)
        os.makedirs(self.flash)
        sc = self.sc
        cfg = {"wearer": sc.get("wearer", ""), "contacts": sc.get("contacts", []), "lang": sc.get("lang", "fr")}
        cfg.update(sc.get("config", {}))
        # low power is on as shipped (issue 22); the simulator skips the technician's 120 s awake window
        # after a power-on so that every scenario sleeps and wakes (a scenario may set its own)
        if isinstance(cfg.get("power", {}), dict):
            cfg["power"] = dict(cfg.get("power", {}))
            cfg["power"].setdefault("boot_awake_s", SIM_BOOT_AWAKE_S)
        if "contacts_pin" in cfg:  # stored hashed, as the console stores it
            from alertbutton import fwimport  # noqa: F401  (firmware modules in CPython)
            from firmware.settings import pin_lock
            cfg["contacts_pin"] = pin_lock.make(str(cfg["contacts_pin"]))
        if sc.get("association", True) and "association_pub" not in cfg:
            cfg["association_pub"] = self._provision_association()
        _write_json(os.path.join(self.flash, "config.json"), cfg)
        lf = sc.get("last_fix")
        if lf:
            _write_json(os.path.join(self.flash, "lastfix.json"), {
                "lat": lf["lat"], "lon": lf["lon"], "acc_m": lf.get("acc_m", 50),
                "utc": _sim_utc(sc) - float(lf.get("age_s", 0)), "source": "gnss"})
        if sc.get("accel") is not None:
            _write_accel_trace(sc["accel"], os.path.join(self.flash, "sim_accel.txt"))
        for name in ("sms.jsonl", "events.jsonl", "firmware.log"):
            self._files[name] = open(os.path.join(self.out, name), "w", buffering=1)
        if sc.get("audio"):  # the sound at the simulated microphone: a WAV, audio_speed x real time
            wav = sc["audio"] if os.path.exists(sc["audio"]) else os.path.join(vm.REPO, sc["audio"])
            _write_json(os.path.join(self.flash, "sim_audio.json"), {
                "wav": os.path.abspath(wav), "speed": float(sc.get("audio_speed", 1.0))})
        if sc.get("platform"):  # platform link (issue 9): the files `alertbutton provision` writes
            from alertbutton.device import provision
            provision.prepare_flash(self.flash, sc["platform"], sc.get("platform_ca"))

    def _provision_association(self):
        """The association's key pair of the demo (issue 21): the secret stays beside the run, in
        OUT/association.key (the file `alertbutton keys association new` writes: mode 0600, opened by
        `alertbutton evidence export|verify --association-key`), never on the simulated flash; the button
        gets the public key, as `alertbutton keys set-association` gives it. Returns the public key (hex)."""
        from alertbutton.evidence import seal
        self.association_key = os.path.join(self.out, "association.key")
        return seal.new_association_key(self.association_key).hex()

    def _wiring(self, modem_path, ctl_path, reset_cause=1):
        # the cell's voltage is the board's, not the VM's: a "battery" ctl outlives a deep sleep or reset
        w = {"modem": modem_path, "ctl": ctl_path, "battery_mv": self._battery_mv or self.sc.get("battery_mv", 3900),
             "reset_cause": reset_cause}
        dialect = (self.sc.get("modem") or {}).get("dialect")
        if dialect:
            w["dialect"] = dialect
        if "watchdog_ms" in self.sc:
            w["watchdog_ms"] = self.sc["watchdog_ms"]
        if self.sc.get("dns"):  # [ip, port]: the DNS server the platform link asks (boards/sim.py)
            w["dns"] = list(self.sc["dns"])
        if self.sc.get("crash_first_boot") and not self.resets:
            w["crash_at_boot"] = True
        if self.receiver is not None:
            w["nmea"] = self._nmea_path
        acc = self.sc.get("accel")
        if acc is not None:
            w["accel"] = os.path.join(self.flash, "sim_accel.txt")
            w["accel_start_s"] = float(acc.get("start_s", 0))
            if acc.get("silent"):  # fault: the LIS3DH does not answer on I2C
                w["accel_silent"] = True
            if "who_am_i" in acc:  # fault: another chip (or a bus fault) answers WHO_AM_I
                w["accel_who"] = int(acc["who_am_i"])
        if getattr(self, "console", None) is not None:
            w["console"] = self.console.device_path  # technician console (firmware/console/commands.py)
        if getattr(self, "usb", False):
            w["pin_levels"] = {str(VBUS_PIN): 1}  # VBUS still sensed after a reset or a wake
        _write_json(os.path.join(self.flash, "sim_board.json"), w)

    def now(self):
        return time.monotonic() - self.t0

    # --- outputs ----------------------------------------------------------------------------------
    def _on_sms(self, rec):
        rec = {"t": round(self.now(), 3), "to": rec["to"], "pdu": rec["pdu"], "text": rec["text"]}
        with self._lock:
            self.sms.append(rec)
            self._files["sms.jsonl"].write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.echo("  SMS %d -> %s: %s" % (len(self.sms), rec["to"], rec["text"]))

    def _on_vm_line(self, line):
        t = round(self.now(), 3)
        if line.startswith("WDT "):
            if line.startswith("WDT START"):
                self._wdt_timeout = int(line.split()[2])
            self._wdt_fed = time.monotonic()
            return
        if line.startswith("PIN "):  # an output pin of the board changed: "PIN <gpio> <level>"
            self._files["firmware.log"].write("%.3f %s\n" % (t, line))
            self._on_pin(line.split())
            return
        if line.startswith("EV "):
            try:
                ev = json.loads(line[3:])
            except ValueError:
                ev = {"event": "unparsed", "line": line}
            ev = dict({"t": t}, **{k: v for k, v in ev.items() if k != "t"})
            if ev["event"] == "gesture":
                self.gesture_waits.append(self.cpu_wait_s())
            with self._lock:
                self.events.append(ev)
                self._files["events.jsonl"].write(json.dumps(ev, ensure_ascii=False) + "\n")
            if ev["event"] in ("trigger", "state", "sms_failed", "not_configured", "dispatch_done",
                               "modem_ready", "trigger_ignored"):
                self.echo("[%7.3f] %s" % (t, _describe(ev)))
        else:
            self._files["firmware.log"].write("%.3f %s\n" % (t, line))
            self.tail.append(line)
            if "Traceback" in line or "MemoryError" in line:
                self.vm_errors.append((t, line))
            if "Traceback" in line or line.startswith("SIMERR"):
                self.echo("[%7.3f] VM: %s" % (t, line))

    def _on_pin(self, words):
        try:
            gpio, level = int(words[1]), int(words[2])
        except (IndexError, ValueError):
            return
        self.pins.append((round(self.now(), 3), gpio, level))
        if gpio == PWRKEY_PIN and self.modem is not None:
            # the board drives PWRKEY through a transistor: GPIO high pulls the module's pin low
            self.modem.power_key(0 if level else 1)
        if gpio == GNSS_EN_PIN and self.receiver is not None:
            self.receiver.enable(level)

    def cpu_wait_s(self):
        """Seconds the kernel has kept the VM's process ready to run but off every CPU (the run_delay of
        /proc/<pid>/task/*/schedstat), None where it does not say. A latency measured on the wall clock,
        less what this grew meanwhile, is the firmware's, without the time a loaded PC (CI: 3 test
        workers on 2 cores) gave the CPU to something else. Only the VM's: the host thread reading its
        output waits for the CPU while it reads other lines too, and taking that off could hide the
        firmware's own latency."""
        try:
            vm_pid = self.proc.pid
            return sum(_run_delay_ns(vm_pid, tid) for tid in os.listdir("/proc/%d/task" % vm_pid)) / 1e9
        except (OSError, ValueError, IndexError, AttributeError):
            return None

    def _pump(self, proc):
        for raw in proc.stdout:
            self._on_vm_line(raw.decode("utf-8", "replace").rstrip("\n"))

    # --- button -----------------------------------------------------------------------------------
    def set_pin(self, level, at=None):
        """The button's contact moves to level at time.monotonic() `at` (default: now; a scripted edge
        passes its scripted time, which this thread may already have passed on a loaded machine).
        The board's ISR dates the edge then, however late the VM reads it (boards/sim.py _apply)."""
        if level == 0:
            with self._sup_lock:
                if self._asleep is None and self.proc is not None and self.proc.poll() == DEEPSLEEP_EXIT:
                    # the VM went to deep sleep and supervise() has not seen it yet (it is not called
                    # while a scripted gesture plays): the chip sleeps, so this press is a wake
                    self.supervise()
                if self._asleep is not None:
                    self._wake("button")  # ext0: the press wakes the chip and is still down at boot
        late = 0.0 if at is None else max(0.0, time.monotonic() - at)
        unix_ms = int(round((time.time() - late) * 1000))
        os.write(self._ctl_master, b"pin %d %d %d\n" % (BUTTON_PIN, level, unix_ms))

    def gesture(self, ev):
        start = time.monotonic()
        for delay, level in gesture_edges(ev, self.rng):
            left = start + delay - time.monotonic()
            if left > 0:
                time.sleep(left)
            self.set_pin(level, at=start + delay)

    # --- run --------------------------------------------------------------------------------------
    def start(self):
        # The modem simulator, the VM output pump and the button share this CPython process: a short
        # GIL switch interval keeps the modem's answers from waiting on the pump (default 5 ms).
        sys.setswitchinterval(0.0002)
        self._prepare_flash()
        if self.mpy and self._tree is None:
            # before the scenario's clock starts: building the .mpy tree takes seconds on a loaded
            # machine (13 s seen), and the scenario's first events must not pass before the VM exists
            from alertbutton.sim import tree as sim_tree
            self._tree = sim_tree.build(os.path.join(self.out, "mpy"), romfs=self.romfs)
        self.t0 = time.monotonic()
        if self.modem_pty:
            modem_path = self.modem_pty
        else:
            sc = dict(self.sc)
            sc["t0"] = self.t0
            self.modem = _inbound_dialect(sc)(sc, on_sms=self._on_sms, seed=self.rng.randrange(1 << 30))
            modem_path = self.modem.start()
        if self.sc.get("gnss_receiver"):
            from alertbutton.sim.nmea_receiver import NmeaReceiverSim
            self.receiver = NmeaReceiverSim(self.sc["gnss_receiver"], seed=self.rng.randrange(1 << 30))
            self._nmea_path = self.receiver.start()
        self._ctl_master, ctl_slave = os.openpty()
        tty.setraw(self._ctl_master)
        tty.setraw(ctl_slave)
        self._ctl_path = os.ttyname(ctl_slave)
        self._ctl_slave = ctl_slave
        self._start_console()
        self._wiring(modem_path, self._ctl_path)
        self._boot()

    def _start_console(self):
        """The board's USB serial: a pty pair bridged like a cable. The firmware's console is on one
        end; the other end's path is printed and written to OUT/console_port for the CLI's --port."""
        from alertbutton.device.ptybridge import PtyBridge
        self.console = PtyBridge(on_host_data=self._usb_attach).start()
        self.console_port = self.console.host_path
        with open(os.path.join(self.out, "console_port"), "w") as f:
            f.write(self.console_port + "\n")
        self.echo("Console: %s  (alertbutton --port %s status)" % (self.console_port, self.console_port))

    def _usb_attach(self):
        """A host tool wrote to the console port: the technician's USB cable is plugged in (it stays
        so for the run). VBUS rises on the board's sense pin, which keeps the MCU awake (the power
        policy's "usb" rule) and ends a light sleep (a GPIO wake); a deep-sleeping board is reset by
        the USB bridge's auto-reset (EN), as opening the port does on ESP32 boards with one. Called
        from the bridge's thread: the reset itself is left to supervise()."""
        if self.usb:
            return
        self.usb = True
        if self._asleep is not None:
            self._usb_reset = True
        else:
            os.write(self._ctl_master, b"pin %d 1\n" % VBUS_PIN)

    def _vm_opts(self):
        """The device tree the VM imports (sources, or the .mpy tree or ROMFS image built once per
        run: tools/alertbutton/sim/tree.py) and the ticks it starts at: every boot starts at the
        scenario's ticks_ms_start / ticks_us_start, so a wrap test puts the 2**30 wrap a few seconds
        into each boot (the ESP32 restarts its ticks at 0; near the wrap is the worst case)."""
        opts = {}
        if self.mpy:
            if self._tree is None:
                from alertbutton.sim import tree as sim_tree
                self._tree = sim_tree.build(os.path.join(self.out, "mpy"), romfs=self.romfs)
            opts.update(self._tree)
        for key in ("ticks_ms_start", "ticks_us_start"):
            if self.sc.get(key) is not None:
                opts[key] = _ticks_start(self.sc[key])
        return opts

    def _boot(self):
        import subprocess
        self.boots += 1
        code, extra = "import boot\nimport main\n", ()
        if self.heap_probe:
            code, extra = "import heap_probe_vm\n" + code, (os.path.dirname(os.path.abspath(__file__)),)
        self.proc = vm.spawn(code=code, cwd=self.flash, heapsize=self.heapsize, extra_path=extra,
                             vm_opts=self._vm_opts(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._pump_thread = threading.Thread(target=self._pump, args=(self.proc,), daemon=True)
        self._pump_thread.start()

    def supervise(self):
        """The board's external watchdog, and restarts after a reset (machine.reset, watchdog) or at
        the end of a deep sleep's timer."""
        with self._sup_lock:  # also called by set_pin(), from a gesture's thread
            return self._supervise()

    def _supervise(self):
        if self._asleep is not None:
            if self._usb_reset:
                self._usb_reset = False
                self._asleep = None
                self.reset(2, "usb attach")  # HARD_RESET: EN pulled by the USB bridge
            elif time.monotonic() >= self._asleep:
                self._wake("timer")
            return True
        if self._dead_until is not None:  # at the REPL after a crash: the unfed watchdog fires
            if time.monotonic() >= self._dead_until:
                self._dead_until = None
                self.reset(3, "watchdog")
            return True
        code = self.proc.poll()
        if code is None:
            if self._wdt_timeout and (time.monotonic() - self._wdt_fed) * 1000 > self._wdt_timeout:
                self.reset(3, "watchdog")
            return True
        self._pump_thread.join(2)
        self.exit_codes.append(code)
        if code == RESET_EXIT:
            self.reset(2, "machine.reset")
            return True
        if code == DEEPSLEEP_EXIT:
            ms = [e.get("ms", 0) for e in self.events if e["event"] == "deepsleep"][-1:] or [0]
            self._asleep = time.monotonic() + (ms[0] / 1000.0 if ms[0] else 1e9)
            self._wdt_timeout = self._wdt_fed = None
            return True
        if self._wdt_timeout:  # died with its watchdog armed: on the board it would sit at the REPL
            self._dead_until = self._wdt_fed + self._wdt_timeout / 1000.0  # until the watchdog resets it
            return True
        return False

    def _wake(self, why):
        """A deep-sleep wake (issue 8): the VM starts again with reset cause DEEPSLEEP_RESET, the
        wake reason and, for the button (ext0), the pin still held down."""
        self._asleep = None
        self.wakes.append((round(self.now(), 3), why))
        self._wiring(self._modem_path(), self._ctl_path, reset_cause=4)
        path = os.path.join(self.flash, "sim_board.json")
        with open(path) as f:
            w = json.load(f)
        w["wake_reason"] = 2 if why == "button" else 4  # machine.EXT0_WAKE / TIMER_WAKE
        if why == "button":
            w.setdefault("pin_levels", {})[str(BUTTON_PIN)] = 0
        _write_json(path, w)
        self._on_vm_line('EV {"event": "sim_wake", "why": "%s"}' % why)
        self._boot()

    def reset(self, cause, why, off_s=0.0):
        """Reset the simulated board: the VM dies wherever it is (as on a power cut or a watchdog
        reset); the flash directory and the modem (a separate chip) stay as they are."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._pump_thread.join(2)
        self.resets.append((round(self.now(), 3), why))
        self._on_vm_line('EV {"event": "sim_reset", "why": "%s"}' % why)
        self._wdt_timeout = self._wdt_fed = None
        time.sleep(off_s)
        self._wiring(self._modem_path(), self._ctl_path, reset_cause=cause)
        self._boot()

    def _modem_path(self):
        return json.load(open(os.path.join(self.flash, "sim_board.json")))["modem"]

    def control(self, ev):
        """Scenario events that are not gestures: {"ctl": "hang 10"} (sent to the board's control
        channel), {"power": "cut", "off_s": 1} (a power cut: reboot with reset cause power-on)."""
        if "sms" in ev and "pdu" in ev["sms"]:  # a raw SMS-DELIVER PDU (hostile or malformed senders)
            self.modem.deliver_pdu(ev["sms"]["pdu"])
        elif "sms" in ev:  # an SMS to the button, as a PDU built by an independent encoder
            self.modem.deliver(ev["sms"]["from"], ev["sms"]["text"])
        elif "ctl" in ev:
            words = ev["ctl"].split()
            if len(words) == 2 and words[0] == "battery":
                self._battery_mv = int(words[1])
            os.write(self._ctl_master, (ev["ctl"] + "\n").encode())
        elif ev.get("power") == "cut":
            self.reset(1, "power cut", float(ev.get("off_s", 0.5)))

    def run_script(self, stop_when_done=True, until=None):
        """Play the scenario's events; stop at duration_s, or earlier once every alert was dispatched,
        or as soon as until(self) is true (a caller judging the run from its events)."""
        sc = self.sc
        duration = float(sc.get("duration_s", 30))
        pending = sorted(sc.get("events", []), key=lambda e: e["t"])
        done_after = None
        while self.now() < duration:
            if not self.supervise():
                self.echo("firmware exited with code %s" % self.exit_codes[-1])
                break
            if until is not None and until(self):
                break
            if pending and self.now() >= pending[0]["t"]:
                ev = pending.pop(0)
                if "ctl" in ev or "power" in ev or "sms" in ev:
                    self.control(ev)
                else:
                    self.gesture(ev)
                continue
            if stop_when_done and not pending and sc.get("events"):
                dispatched = sum(1 for e in self.events if e["event"] == "dispatch_done")
                triggers = sum(1 for e in self.events if e["event"] == "trigger")
                if triggers and dispatched >= triggers:
                    done_after = done_after or self.now() + float(sc.get("linger_s", 0.5))
                    if self.now() >= done_after:
                        break
            time.sleep(0.005)

    def wait_for(self, done, timeout_s, fail_on_exit=False):
        """After the script: keep the board running until done(self) is true, the firmware exits or
        timeout_s pass (a recording finishing, follow-ups going out). Returns done(self).

        fail_on_exit: raise FirmwareExited as soon as the VM's process ends other than by a simulated
        reset or deep sleep (a crash, even one the board's watchdog would reset), instead of waiting
        out timeout_s; the message carries the exit code and the VM's last lines."""
        deadline = time.monotonic() + timeout_s
        seen = len(self.exit_codes)
        while not done(self) and time.monotonic() < deadline:
            alive = self.supervise()
            if fail_on_exit:
                codes = [c for c in self.exit_codes[seen:] if c not in (RESET_EXIT, DEEPSLEEP_EXIT)]
                if codes or not alive:
                    raise FirmwareExited("the firmware exited with code %s at %.1f s; its last lines:\n%s" % (
                        (codes or self.exit_codes[-1:] or [None])[0], self.now(), "\n".join(self.tail)))
                seen = len(self.exit_codes)
            if not alive:
                break
            time.sleep(0.05)
        return done(self)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.write(self._ctl_master, b"quit\n")
                self.proc.wait(2)
            except Exception:
                pass
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        if self.modem:
            self.modem.stop()
        if self.receiver is not None:
            self.receiver.stop()
        if getattr(self, "console", None) is not None:
            self.console.close()
        for fd in (self._ctl_master, getattr(self, "_ctl_slave", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        for f in self._files.values():
            f.close()


def _run_delay_ns(pid, tid):
    with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
        return int(f.read().split()[1])  # on-CPU ns, runqueue wait ns, timeslices


def _inbound_dialect(sc):
    """The scenario's modem dialect with the inbound-SMS side (SMS-DELIVER PDUs from an independent
    encoder into the simulated SIM store, announced by +CMTI)."""
    from alertbutton.sim.modem.inbound import InboundMixin
    name = ((sc.get("modem") or {}).get("dialect") or "a76xx").lower()
    cls = dialects.OURS.get(name) or dialects.DIALECTS.get(name)
    if cls is None:
        raise ScenarioError("unknown modem dialect %r" % name)
    return type("Inbound" + cls.__name__, (InboundMixin, cls), {})


def _write_accel_trace(spec, out_path):
    """The accelerometer trace for the simulated LIS3DH: a MobiFall-format *_acc_*.txt (resampled to
    50 Hz like the fall evaluation) or a text file of "x y z" lines in mg already at 50 Hz. Without
    a trace the board lies still and flat (1 g on z)."""
    from alertbutton.falls import mobifall
    path = spec.get("trace")
    if path is not None and not os.path.exists(path):  # a scenario file names it from the repository's root, as "audio"
        path = os.path.join(vm.REPO, path)
    if path is None:
        samples = [(0, 0, 1000)]
    elif "_acc_" in os.path.basename(path):
        samples = mobifall.load_mg(path, 50)
    else:
        with open(path) as f:
            samples = [tuple(int(v) for v in line.split()) for line in f if len(line.split()) == 3]
    if not samples:
        raise ScenarioError("accel trace %s has no samples" % path)
    with open(out_path, "w") as f:
        for x, y, z in samples:
            f.write("%d %d %d\n" % (x, y, z))


def _ticks_start(value):
    """A scenario's ticks start: an int, or "wrap-N" = N ms (or µs) before the VM's ticks wrap."""
    if isinstance(value, str) and value.startswith("wrap-"):
        return vm.ticks_period() - int(value[5:])
    return int(value)


def _sim_utc(sc):
    """The simulated world's UTC at start (Unix s): the modem's network time, which its GNSS shares;
    the PC's clock is not the device's (the firmware trusts only those two sources)."""
    utc0, _q = _parse_net_time(str(sc.get("modem", {}).get("net_time", NET_TIME)))
    return calendar.timegm(utc0.timetuple())


SIM_BOOT_AWAKE_S = 2


def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, ensure_ascii=False)


def _describe(ev):
    e = ev["event"]
    if e == "state":
        return "state %s -> %s" % (ev.get("frm"), ev.get("to"))
    rest = " ".join("%s=%s" % (k, v) for k, v in ev.items() if k not in ("t", "event", "ms"))
    return "%s %s" % (e, rest)


def alert_outcome(sc, events):
    """(ok, sentence) from the firmware's own events, whichever modem answered: ok when the first alert's
    SMS was accepted for every configured contact (its sms_sent events, counted by contact slot); a
    scenario without events is ok without an alert."""
    expected = len([c for c in sc.get("contacts") or [] if c.get("number")])
    trig = next((e for e in events if e.get("event") == "trigger"), None)
    if trig is None:
        if not sc.get("events"):
            return True, "no alert asked for, none triggered"
        return False, "no alert was triggered"
    slots = {e.get("contact") for e in events if e.get("event") == "sms_sent" and e.get("alert") == trig.get("alert")}
    n = len(slots)
    return n >= expected > 0, "%d of %d contacts' alert SMS accepted by the modem" % (n, expected)


def run_scenario(scenario, out_dir, modem_pty=None, echo=None, seed=1, stop_when_done=True, **opts):
    run = SimRun(scenario, out_dir, modem_pty, echo=echo, seed=seed, **opts)
    try:
        run.start()
        run.run_script(stop_when_done)
    finally:
        run.stop()
    return run


# --- CLI --------------------------------------------------------------------------------------------

def add_arguments(p):
    p.add_argument("--scenario", help="scenario JSON (scripted run); without it: interactive")
    p.add_argument("--out", default="out/sim", help="output directory (default out/sim)")
    p.add_argument("--modem-pty", help="attach an external AT peer (pty slave path) instead of the simulator")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--full", action="store_true", help="run the whole duration_s even after the alert")
    p.add_argument("--mpy", action="store_true",
                   help="boot from the .mpy files `alertbutton deploy` builds (mpy-cross for the VM's arch)")
    p.add_argument("--romfs", action="store_true",
                   help="boot from those .mpy files in a ROMFS image, run in place (32-bit VM)")
    p.add_argument("--heapsize", default=HEAPSIZE, help="the VM's heap (-X heapsize), default %s" % HEAPSIZE)
    p.add_argument("--ticks-ms-start", help="what time.ticks_ms() reads at each boot: N or wrap-N "
                   "(N ms before the 2**30 wrap; 32-bit VM, ALERTBUTTON_VM=32)")
    p.add_argument("--ticks-us-start", help="the same for time.ticks_us()")


def run(args):
    try:
        if args.scenario:
            sc = load_scenario(args.scenario)
            for key in ("ticks_ms_start", "ticks_us_start"):
                if getattr(args, key, None) is not None:
                    sc[key] = args.__dict__[key]
            print("Simulated button: wearer %r, %d contacts; firmware in the MicroPython VM" %
                  (sc.get("wearer", ""), len(sc.get("contacts", []))))
            print("VM: %s%s" % (vm.vm_label(), ", booting from .mpy in a ROMFS image" if args.romfs else
                                ", booting from .mpy" if args.mpy else ""))
            r = run_scenario(sc, args.out, args.modem_pty, echo=print, seed=args.seed,
                             stop_when_done=not args.full, mpy=args.mpy, heapsize=args.heapsize, romfs=args.romfs)
            ok, text = alert_outcome(sc, r.events)
            seen = ("the external modem on %s" % args.modem_pty if args.modem_pty
                    else "the simulated modem decoded %d SMS" % len(r.sms))
            print("%s (from the firmware's events; %s); outputs in %s" % (text, seen, args.out))
            return 0 if ok else 1
        return interactive(args)
    except (ScenarioError, outdir.OutDirError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2


DEMO = os.path.join(vm.REPO, "scenarios", "demo.json")


def interactive(args):
    sc = load_scenario(DEMO)
    sc["duration_s"] = 10 ** 9
    run = SimRun(sc, args.out, args.modem_pty, echo=print, seed=args.seed)
    print("Interactive simulator. Enter = one short press, 'a' + Enter = the alert gesture (5 taps "
          "at most 0.7 s apart), 'h' + Enter = 5.5 s hold (during an alert: then 4 Enters cancel, "
          "2 are the duress), 'r' + Enter = arm the pre-alert ring (hold 2.5 s, let go, 2 taps), "
          "'q' + Enter = quit.")
    run.start()
    try:
        for line in sys.stdin:
            cmd = line.strip().lower()
            if cmd == "q":
                break
            ev = {"t": 0, "gesture": {"h": "hold", "a": "alert", "r": "arm"}.get(cmd, "press"), "hold_ms": 5500}
            run.gesture(ev)
            time.sleep(0.15)  # released long enough to count as released, even when Enters come at once
            if not run.supervise():
                break
    except KeyboardInterrupt:
        pass
    finally:
        run.stop()
    return 0
