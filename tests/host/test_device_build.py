"""Every file that goes onto the device compiles for the ESP32 (xtensawin) with mpy-cross, and the
layering holds: firmware/ never imports machine (hardware is reached through drivers and boards)."""
import os
import re
import subprocess
import sys

import pytest

from alertbutton import vm

SOURCES = vm.device_sources()


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def test_device_tree_is_not_empty():
    for must in ("boot.py", "main.py", "firmware/app.py", "drivers/button.py", "boards/esp32_a7670e.py"):
        assert must in SOURCES


@pytest.mark.parametrize("src", SOURCES)
def test_compiles_for_esp32(src, tmp_path):
    out = tmp_path / "x.mpy"
    p = subprocess.run([mpy_cross(), "-march=xtensawin", "-o", str(out), os.path.join(vm.REPO, src)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 0


@pytest.mark.parametrize("src", [s for s in SOURCES if s.startswith("firmware/")])
def test_firmware_never_imports_machine(src):
    text = open(os.path.join(vm.REPO, src)).read()
    assert not re.search(r"^\s*(import machine|from machine\b)", text, re.M)
