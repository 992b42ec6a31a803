"""A measurement script run in the MicroPython VM, its figures read back (the energy model's CPU costs:
battery_life.measure_cpu_ms, check_cpu.measure)."""
import os
import tempfile

from alertbutton import pystone, vm

PYSTONE_DIR = os.path.dirname(os.path.abspath(pystone.__file__))  # imported by the VM code


def vm_floats(source, tag, args, extra_path, what):
    """Run the MicroPython script `source` in the VM (a scratch directory as its cwd, args as strings):
    the numbers of its output line that starts with `tag`. RuntimeError naming `what` if the run failed
    or printed no such line."""
    with tempfile.TemporaryDirectory(prefix="energy-vm-") as tmp:
        script = os.path.join(tmp, "measure.py")
        with open(script, "w") as f:
            f.write(source)
        proc = vm.run(script=script, args=tuple(str(a) for a in args), extra_path=tuple(extra_path), timeout=300,
                      cwd=tmp)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(tag + " ")]
    if proc.returncode != 0 or not line:
        raise RuntimeError("%s failed: %s" % (what, (proc.stderr or proc.stdout)[-1500:]))
    return [float(v) for v in line[0].split()[1:]]
