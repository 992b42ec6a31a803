"""The device trees the simulator boots from besides the sources (sim --mpy, --romfs).

  mpy    the tree `alertbutton deploy` puts on a board's flash (deploy.build_tree: boot.py and main.py
         as sources, the rest .mpy for the VM's arch), imported from the filesystem: MicroPython
         copies each module's bytecode into the heap, as on a stock ESP32.
  romfs  the same files in a ROMFS image (`mpremote romfs build` does the packing) that the 32-bit VM
         maps at /rom (tools/vm32/romfs-image.patch): the bytecode runs in place from the image, as on
         an ESP32 firmware built with ROMFS and the image in its romfs partition.

In both, the simulated board's own modules (boards/simlib: the `machine` shim, the LIS3DH model) are
compiled alike: on an ESP32 `machine` is built into the firmware, so the heap it costs here is the
simulator's, and compiling it keeps that share as small as the firmware's own."""
import contextlib
import io
import os
import shutil
import subprocess

from alertbutton import vm
from alertbutton.device import deploy


def build(dest, romfs=False):
    """Build under dest (emptied first); returns the vm_env options that boot from it."""
    shutil.rmtree(dest, ignore_errors=True)
    tree = os.path.join(dest, "tree")
    deploy.build_tree(tree)
    if not romfs:
        simlib = os.path.join(dest, "simlib")
        _compile_simlib(simlib)
        return {"device_root": tree, "simlib": simlib}
    if vm.vm_facts()["bits"] != 32:
        raise RuntimeError("--romfs needs the 32-bit VM (ALERTBUTTON_VM=32, tools/vm32/build.sh): only its "
                           "build maps a ROMFS image")
    from mpremote.romfs import make_romfs
    _compile_simlib(os.path.join(tree, "simlib"))  # in the image too, at /rom/simlib
    with contextlib.redirect_stdout(io.StringIO()):  # make_romfs prints the tree it packs
        image = make_romfs(tree, mpy_cross=False)
    path = os.path.join(dest, "device.romfs")
    with open(path, "wb") as f:
        f.write(image)
    return {"romfs_image": path, "simlib": vm.ROMFS_ROOT + "/simlib"}


def _compile_simlib(dest):
    os.makedirs(dest)
    arch = vm.vm_facts()["mpy_arch"]
    for name in sorted(os.listdir(vm.SIMLIB)):
        if not name.endswith(".py"):
            continue
        cmd = [deploy.mpy_cross_exe()] + (["-march=" + arch] if arch else []) + [
            "-o", os.path.join(dest, name[:-3] + ".mpy"), "-s", name, os.path.join(vm.SIMLIB, name)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("mpy-cross failed on boards/simlib/%s: %s" % (name, p.stderr.strip()))
