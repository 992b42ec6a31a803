"""Run a benchmark program in the MicroPython VM, with pystone.py importable, and read back the one
line it prints as `BENCH <json>` (bench-nmea, bench crypto)."""
import json
import os
import shutil
import tempfile

from alertbutton import pystone, vm

PYSTONE_DIR = os.path.dirname(os.path.abspath(pystone.__file__))


def run(code, args=(), modules=None, heapsize="16m", timeout=600, **vm_opts):
    """Run `code` as a script in a temporary directory outside the repository; modules: {name.py: path}
    copied there and importable. vm_opts go to vm.run (device_root, ...). Returns the BENCH dict."""
    tmp = tempfile.mkdtemp(prefix="bench_")
    try:
        extra = [PYSTONE_DIR]
        for name, path in (modules or {}).items():
            shutil.copy(path, os.path.join(tmp, name))
        if modules:
            extra.insert(0, tmp)
        script = os.path.join(tmp, "bench_main.py")
        with open(script, "w") as f:
            f.write(code)
        p = vm.run(script=script, args=[str(a) for a in args], extra_path=extra, heapsize=heapsize,
                   timeout=timeout, **vm_opts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError("benchmark failed in the VM:\n" + p.stdout[-2000:] + p.stderr[-2000:])
