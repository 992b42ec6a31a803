"""`alertbutton deploy --port PORT`: install this tree's firmware on a button with mpremote.

Steps, each reported:
  1. connect   mpremote's serial transport, raw REPL without soft reset (like `mpremote resume`):
               Ctrl-C stops the running firmware. On an ESP32 the firmware's watchdog keeps running
               after that, so a timer feeds it for the rest of the session (see docs/technician.md).
  2. identify  sys.platform, the .mpy version and native arch the board runs, its firmware version.
  3. compile   every device file with mpy-cross for that arch (boot.py and main.py stay .py: they are
               run by name). A board whose .mpy version differs from mpy-cross's gets the .py files.
  4. copy      changed files only (SHA-256 compared on the board), each written as NAME.new, then all
               renamed into place at the end; .py/.mpy files of firmware/, drivers/, boards/ that are
               not part of this tree (stale, or a .py that would shadow the new .mpy) are removed.
               Nothing else is written: the configuration, PIN lockout, last fix and logs at the
               root of the flash are kept, and checked to be byte-identical afterwards.
  5. mip       `mpremote mip install umqtt.simple requests` (micropython-lib, not copied in this
               repository). Needs the internet (micropython.org) unless --mip-index points at a
               mirror; --skip-mip skips it, and says so.
  6. verify    the firmware modules are imported afresh on the board and the version read back must
               be this tree's (firmware/version.py); the kept files are unchanged.
  7. restart   soft reset on a real board (not on the VM board, where it would end the VM).

`alertbutton vm-board --flash DIR` runs the MicroPython VM's REPL on a pty with DIR as its flash, so
all of this (and mpremote itself) can be tried without hardware."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from alertbutton import vm

MIP_PACKAGES = ("umqtt.simple", "requests")
OWNED_DIRS = ("firmware", "drivers", "boards")  # the deploy replaces these; nothing else is touched
RUN_BY_NAME = ("boot.py", "main.py")
ARCHS = vm.ARCHS


class DeployError(Exception):
    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status  # the technician commands' exit codes: 3 no device, 4 locked


EXIT_NODEVICE, EXIT_LOCKED = 3, 4


# --- pieces that need no board -----------------------------------------------------------------------

def local_version():
    text = open(os.path.join(vm.REPO, "firmware", "version.py")).read()
    m = re.search(r'^VERSION\s*=\s*"([^"]+)"', text, re.M)
    if not m:
        raise DeployError("firmware/version.py has no VERSION")
    return m.group(1)


def mpy_cross_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else (shutil.which("mpy-cross") or "mpy-cross")


def mpy_cross_version():
    """(major, minor) of the .mpy files mpy-cross writes, from `mpy-cross --version`."""
    out = subprocess.run([mpy_cross_exe(), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise DeployError("cannot tell mpy-cross's .mpy version from %r" % out.strip())
    return int(m.group(1)), int(m.group(2))


def build(out_dir, arch, compile_=True):
    """{device path: bytes} for every device file; .py compiled to .mpy unless compile_ is False."""
    files = {}
    for src in vm.device_sources():
        path = os.path.join(vm.REPO, src)
        if not compile_ or src in RUN_BY_NAME:
            files[src] = open(path, "rb").read()
            continue
        dst = src[:-3] + ".mpy"
        target = os.path.join(out_dir, dst)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        cmd = [mpy_cross_exe()] + (["-march=" + arch] if arch else []) + ["-o", target, "-s", src, path]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise DeployError("mpy-cross failed on %s: %s" % (src, p.stderr.strip()))
        files[dst] = open(target, "rb").read()
    return files


def build_tree(dest, arch=None):
    """Write the device tree as `deploy` would put it on a board's flash (boot.py and main.py as
    sources, everything else .mpy for `arch`, default: the VM's own) into dest, which is emptied
    first. Returns the list of device paths. The simulator boots from it with --mpy."""
    arch = arch or vm.vm_facts()["mpy_arch"]
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    with tempfile.TemporaryDirectory() as tmp:
        files = build(tmp, arch)
    for path, data in files.items():
        target = os.path.join(dest, path)
        os.makedirs(os.path.dirname(target) or dest, exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
    return sorted(files)


class Progress:
    """A one-line progress bar on stderr (a line per file when stderr is not a terminal)."""

    def __init__(self, total, stream=None):
        self.total = max(1, total)
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, n, label):
        self.done += n
        frac = min(1.0, self.done / self.total)
        bar = "#" * int(frac * 30)
        line = "  [%-30s] %3d%%  %s" % (bar, int(frac * 100), label)
        if self.tty:
            self.stream.write("\r" + line[:100].ljust(100))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")


# --- the board side ----------------------------------------------------------------------------------

_WDT_GUARD = """
import sys
if sys.platform == 'esp32':
    try:
        import machine
        _ab_wdt = machine.WDT(timeout=30000)
        _ab_tim = machine.Timer(0)
        _ab_tim.init(period=5000, callback=lambda t: _ab_wdt.feed())
        print('fed')
    except Exception as e:
        print('no', repr(e))
"""

_IDENTIFY = """
import sys
print(repr((sys.platform, getattr(sys.implementation, '_mpy', 0), sys.path)))
"""

_VERSION = """
import sys
for _k in list(sys.modules):
    if _k.split('.')[0] in ('firmware', 'drivers', 'boards'):
        del sys.modules[_k]
import firmware.version
import firmware.settings.config, firmware.console.commands, firmware.alert.manager
print(repr(firmware.version.VERSION))
"""


def _walk_owned(t):
    """Every file under the owned directories on the board (relative paths)."""
    out = []
    todo = [d for d in OWNED_DIRS if t.fs_exists(d)]
    while todo:
        d = todo.pop()
        for e in t.fs_listdir(d):
            p = d + "/" + e.name
            if e.st_mode & 0x4000:
                todo.append(p)
            else:
                out.append(p)
    return out


def _root_files(t):
    return sorted(e.name for e in t.fs_listdir("") if not e.st_mode & 0x4000)


def _hashes(t, names):
    out = {}
    for n in names:
        try:
            out[n] = t.fs_hashfile(n, "sha256").hex()
        except OSError:
            out[n] = None
    return out


def _ask_console(port, request, timeout, want):
    """Send one console request line; the first answer line (bytes) for which want(line) is true
    (late answers to an earlier request may come first), or None."""
    import serial
    try:
        s = serial.Serial(port, 115200, timeout=0.1)
    except (serial.SerialException, OSError) as e:
        raise DeployError("no device at %s: %s" % (port, e), EXIT_NODEVICE)
    try:
        s.reset_input_buffer()
        s.write(b"\r\n" + request + b"\r\n")
        s.flush()
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            buf += s.read(256)
            for line in buf.split(b"\n")[:-1]:  # whole lines only: an answer can outgrow one read
                line = line.strip()
                if want(line):
                    return line
        return None
    finally:
        s.close()


def _probe(port, timeout=1.5):
    """The answer of an alert button's console to `AB1 hello` (a dict), or None when nothing on the
    port speaks the console protocol (a REPL, or a board without this firmware). Seconds, not minutes:
    a locked button never shows mpremote a REPL."""
    line = _ask_console(port, b"AB1 hello", timeout, lambda x: x.startswith(b"OK {") and b'"proto"' in x)
    if line and line.startswith(b"OK {") and b'"proto"' in line:
        return json.loads(line[3:].decode("utf-8", "replace"))
    return None


def _maintenance(port, pin, timeout=3.0):
    """`AB1 maintenance <PIN>` on the console: the button opens its REPL for a deploy."""
    line = _ask_console(port, ("AB1 maintenance %s" % pin).strip().encode(), timeout,
                        lambda x: x.startswith(b"ERR ") or (x.startswith(b"OK {") and b'"repl_open_s"' in x))
    if line is None:
        raise DeployError("the button on %s did not answer `AB1 maintenance`" % port, EXIT_NODEVICE)
    if line.startswith(b"OK "):
        return json.loads(line[3:].decode())
    code, _sp, msg = line[4:].decode("utf-8", "replace").partition(" ")
    status = EXIT_LOCKED if code in ("PIN", "LOCKOUT", "LOCKED") else 1
    raise DeployError("the button on %s did not open its REPL: %s" % (port, msg), status)


def open_repl(port, pin, echo=print):
    """Before mpremote: if the port is a running button's console, open its REPL with the PIN, or
    stop at once with what to do (issue 19: it used to sit 120 s at "1/7 connect")."""
    hello = _probe(port)
    if hello is None:
        return None
    if hello.get("pin_set") and not pin:
        raise DeployError("%s is a running alert button (firmware %s): its USB REPL is locked. Give the "
                          "technician PIN (deploy --pin PIN, or $ALERTBUTTON_PIN): deploy opens the REPL with "
                          "`AB1 maintenance` for 10 min" % (port, hello.get("firmware")), EXIT_LOCKED)
    r = _maintenance(port, pin or "")
    echo("              the button opened its REPL for %d min (AB1 maintenance)" % (r["repl_open_s"] // 60))
    time.sleep(0.2)
    return r


def _connect(port):
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport
    try:
        t = SerialTransport(port, baudrate=115200)
    except TransportError as e:
        raise DeployError("no device at %s: %s" % (port, e), EXIT_NODEVICE)
    t.serial.timeout = 1  # each read returns, so mpremote's overall timeout can end the wait
    # Two tries: a REPL that was just leaving raw mode (the previous step's ctrl-B) may drop what
    # arrives meanwhile; the unix port's tcsetattr(TCSAFLUSH) does, and our ctrl-A is lost with it.
    for attempt in (1, 2):
        try:
            if _takes_timeout(t):
                t.enter_raw_repl(soft_reset=False, timeout_overall=10)
            else:
                t.enter_raw_repl(soft_reset=False)
            return t
        except TransportError as e:
            if attempt == 2:
                t.close()
                raise DeployError("no MicroPython REPL answered on %s (%s): wrong port, or a button whose REPL "
                                  "is locked (deploy --pin PIN opens it with `AB1 maintenance`)" % (port, e),
                                  EXIT_NODEVICE)


def _takes_timeout(t):
    import inspect
    try:
        return "timeout_overall" in inspect.signature(t.enter_raw_repl).parameters
    except (TypeError, ValueError):
        return False


def _close(t, wait_prompt=True):
    """Leave the raw REPL and, unless the board is restarting, wait (bounded) for the friendly prompt:
    the next connection must not talk to a REPL that is still switching modes."""
    try:
        t.exit_raw_repl()
        if wait_prompt:
            if _takes_timeout(t):
                t.read_until(1, b">>> ", timeout=1, timeout_overall=5)
            else:
                t.read_until(1, b">>> ", timeout=5)
    finally:
        t.close()


def deploy(port, skip_mip=False, mip_index=None, mip_packages=MIP_PACKAGES, compile_=True, echo=print,
           progress_stream=None, pin=None):
    """Run every step; returns a dict of what was done. DeployError on failure."""
    report = {"port": port}
    want = local_version()
    echo("1/7 connect     %s" % port)
    open_repl(port, pin, echo)
    t = _connect(port)
    try:
        guard = t.exec(_WDT_GUARD).decode().strip()
        if guard:
            echo("              watchdog kept fed during the deploy (%s)" % guard)
        platform, mpy, path = eval(t.exec(_IDENTIFY).decode().strip(), {})  # a repr of a tuple we printed
        arch_i, ver, sub = mpy >> 10, mpy & 0xFF, (mpy >> 8) & 3
        try:
            before_version = t.eval("__import__('firmware.version').version.VERSION")
        except Exception:
            before_version = None
        report.update(platform=platform, mpy="%d.%d" % (ver, sub), before=before_version)
        arch = ARCHS[arch_i] if arch_i < len(ARCHS) else None
        echo("2/7 identify    %s, .mpy v%d.%d, arch %s, firmware %s" % (
            platform, ver, sub, arch or "bytecode only", before_version or "none"))
        if compile_ and mpy:
            cross = mpy_cross_version()
            if cross != (ver, sub):
                echo("              mpy-cross writes v%d.%d, the board reads v%d.%d: copying .py sources" % (
                    cross + (ver, sub)))
                compile_ = False
        elif compile_:
            echo("              this MicroPython cannot load .mpy files: copying .py sources")
            compile_ = False
        with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:
            files = build(tmp, arch, compile_)
        echo("3/7 compile     %d files (%s)" % (len(files), "mpy-cross -march=%s" % arch if compile_ and arch
                                                 else ("mpy-cross, bytecode" if compile_ else "sources, not compiled")))
        kept_names = [n for n in _root_files(t) if n not in files]
        kept = _hashes(t, kept_names)
        on_board = _hashes(t, [p for p in files])
        changed = [p for p in sorted(files) if on_board.get(p) != hashlib.sha256(files[p]).hexdigest()]
        echo("4/7 copy        %d changed, %d already up to date" % (len(changed), len(files) - len(changed)))
        bar = Progress(sum(len(files[p]) for p in changed), progress_stream)
        made = set()
        for p in changed:
            d = os.path.dirname(p)
            parts = d.split("/") if d else []
            for i in range(len(parts)):
                sub_d = "/".join(parts[:i + 1])
                if sub_d not in made and not t.fs_exists(sub_d):
                    t.fs_mkdir(sub_d)
                made.add(sub_d)
            t.fs_writefile(p + ".new", files[p], chunk_size=512)
            bar.update(len(files[p]), p)
        bar.close()
        if changed:  # all renames at the end, in one exchange: the shortest window with mixed versions
            t.exec("import os\nfor p in %r:\n os.rename(p + '.new', p)" % (changed,))
        stale = [p for p in _walk_owned(t) if p not in files and (p.endswith(".py") or p.endswith(".mpy")
                                                                  or p.endswith(".new"))]
        for p in stale:
            t.fs_rmfile(p)
        if stale:
            echo("              removed %d stale file(s): %s" % (len(stale), ", ".join(stale)))
        report.update(copied=changed, removed=stale, files=sorted(files))
    finally:
        _close(t)

    if skip_mip:
        echo("5/7 mip         SKIPPED (--skip-mip): %s not installed or updated" % " ".join(mip_packages))
        report["mip"] = "skipped"
    else:
        cmd = [os.path.join(os.path.dirname(sys.executable), "mpremote") if os.path.exists(
            os.path.join(os.path.dirname(sys.executable), "mpremote")) else "mpremote",
            "connect", port, "resume", "mip", "install"]
        if mip_index:
            cmd += ["--index", mip_index]
        cmd += list(mip_packages)
        echo("5/7 mip         %s" % " ".join(cmd[1:]))
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise DeployError("mip install failed (no internet? use --mip-index MIRROR, or --skip-mip and "
                              "install later): %s" % (p.stdout + p.stderr).strip()[-400:])
        report["mip"] = "installed"
        report["mip_output"] = p.stdout

    t = _connect(port)
    try:
        got = eval(t.exec(_VERSION).decode().strip().splitlines()[-1], {})
        after = _hashes(t, kept_names)
        changed_kept = [n for n in kept_names if after.get(n) != kept.get(n)]
        if got != want:
            raise DeployError("version check failed: the board reports %r, this tree is %r" % (got, want))
        if changed_kept:
            raise DeployError("files that must be kept changed: %s" % ", ".join(changed_kept))
        echo("6/7 verify      firmware %s read back; kept unchanged: %s" % (got, ", ".join(kept_names) or "(none)"))
        report.update(version=got, kept=kept_names)
        if platform == "linux":
            echo("7/7 restart     skipped on the VM board (a soft reset would end the VM)")
            report["restart"] = "skipped"
        else:
            t.exec_raw_no_follow("import machine\nmachine.soft_reset()")
            echo("7/7 restart     soft reset: the new firmware is starting")
            report["restart"] = "soft reset"
            t.in_raw_repl = False
    finally:
        try:
            _close(t, wait_prompt=report.get("restart") != "soft reset")
        except Exception:
            pass
    return report


# --- the VM board ------------------------------------------------------------------------------------

class VmBoard:
    """The MicroPython VM's REPL on a pty, with `flash` as its filesystem (cwd) and flash/lib on its
    path like a board's /lib: mpremote and `alertbutton deploy` talk to `port` as to a board."""

    def __init__(self, flash):
        from alertbutton.device.ptybridge import PtyBridge
        self.flash = os.path.abspath(flash)
        os.makedirs(self.flash, exist_ok=True)
        self.bridge = PtyBridge().start()
        self.port = self.bridge.host_path
        dev = os.open(self.bridge.device_path, os.O_RDWR | os.O_NOCTTY)
        env = dict(os.environ, MICROPYPATH=os.pathsep.join(["", ".frozen", os.path.join(self.flash, "lib")]))
        self.proc = subprocess.Popen([vm.micropython_exe()], stdin=dev, stdout=dev, stderr=dev, cwd=self.flash,
                                     env=env, start_new_session=True)
        os.close(dev)
        time.sleep(0.3)  # the REPL banner

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.bridge.close()


# --- CLI ---------------------------------------------------------------------------------------------

def add_arguments(p):
    import argparse
    name = p.prog.split()[-1]
    p.set_defaults(_deploy_command=name)
    if name == "vm-board":
        p.add_argument("--flash", default="out/vm-board", help="directory used as the board's flash")
        return
    p.add_argument("--port", default=argparse.SUPPRESS, help="serial port of the board")
    p.add_argument("--skip-mip", action="store_true", help="do not run `mpremote mip install` (says so)")
    p.add_argument("--mip-index", help="micropython-lib index URL or directory (default micropython.org)")
    p.add_argument("--no-compile", action="store_true", help="copy .py sources instead of .mpy")
    p.add_argument("--pin", help="technician PIN: a running button's REPL is locked, deploy opens it with "
                   "`AB1 maintenance` (or $ALERTBUTTON_PIN)")


def run(args):
    if args._deploy_command == "vm-board":
        return run_vm_board(args)
    port = getattr(args, "port", None) or os.environ.get("ALERTBUTTON_PORT")
    if not port:
        print("error: deploy needs --port PORT (or $ALERTBUTTON_PORT)", file=sys.stderr)
        return 2
    pin = getattr(args, "pin", None) or os.environ.get("ALERTBUTTON_PIN")
    try:
        deploy(port, skip_mip=args.skip_mip, mip_index=args.mip_index, compile_=not args.no_compile, pin=pin)
    except DeployError as e:
        print("error: %s" % e, file=sys.stderr)
        return e.status
    print("deployed.")
    return 0


def run_vm_board(args):
    board = VmBoard(args.flash)
    print("VM board on %s (flash: %s). Try:\n  alertbutton deploy --port %s --skip-mip\n  mpremote connect %s "
          "resume fs ls\nCtrl-C here to stop." % (board.port, board.flash, board.port, board.port))
    try:
        while board.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return 0
