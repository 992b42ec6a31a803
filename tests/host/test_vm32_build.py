"""tools/vm32/build.sh (issue 17): the 32-bit VM is built once and cached; a missing source is refused
with a message that says what to do; the patched ticks start works."""
import os
import subprocess
import time

import pytest

from alertbutton import vm

BUILD = os.path.join(vm.REPO, "tools", "vm32", "build.sh")


def test_a_missing_source_is_refused_with_what_to_do(tmp_path):
    env = dict(os.environ, MICROPYTHON_SRC=str(tmp_path / "nowhere.tar.xz"))
    p = subprocess.run([BUILD, str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "MICROPYTHON_SRC" in p.stderr and "does not exist" in p.stderr and "micropython-1.28.0.tar.xz" in p.stderr, p.stderr
    assert not (tmp_path / "out" / "micropython").exists()


def test_the_cached_build_is_reused_and_is_32_bit():
    if not os.path.exists(vm.VM32_EXE):
        pytest.skip("the 32-bit VM is not built here (./run.sh test builds it)")
    t = time.monotonic()
    p = subprocess.run([BUILD], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == vm.VM32_EXE
    assert time.monotonic() - t < 10, "a cached build must not rebuild"
    facts = vm.vm_facts(vm.VM32_EXE)
    assert facts["bits"] == 32 and facts["mpy_arch"] == "x86" and not facts["ssl"]


def test_the_ticks_start_patch():
    if not os.path.exists(vm.VM32_EXE):
        pytest.skip("the 32-bit VM is not built here (./run.sh test builds it)")
    code = "import time\nprint(time.ticks_ms(), time.ticks_us(), time.ticks_add(0, -1))"
    env = dict(os.environ, MICROPY_TICKS_MS_START=str(2 ** 30 - 5000), MICROPY_TICKS_US_START="123")
    out = subprocess.run([vm.VM32_EXE, "-c", code], env=env, capture_output=True, text=True, timeout=30).stdout.split()
    ms, us, last = int(out[0]), int(out[1]), int(out[2])
    assert 2 ** 30 - 5000 <= ms < 2 ** 30 - 4000, ms  # read within the first second
    assert 123 <= us < 1000123, us
    assert last == 2 ** 30 - 1  # ticks wrap at 2**30, as on the ESP32
    # unset, the clock is unchanged: the host's monotonic ms modulo 2**30
    before = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000)
    plain = int(subprocess.run([vm.VM32_EXE, "-c", code], capture_output=True, text=True, timeout=30).stdout.split()[0])
    after = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000)
    assert (plain - before) % 2 ** 30 <= after - before + 1, (before, plain, after)
