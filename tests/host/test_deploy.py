"""`alertbutton deploy` against the MicroPython VM's REPL on a pty (the VM board), through mpremote:
compiled files copied, stale files removed, the configuration kept byte for byte, `mpremote mip
install` run against a local index built here from stub files (no internet, and no micropython-lib
code in this repository), the version read back, and the deployed .mpy firmware then booted in a
fresh VM from that flash alone, where it still has the contacts."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from alertbutton import cli, vm
from alertbutton.device.deploy import DeployError, VmBoard, deploy, local_version

DATA = os.path.join(vm.REPO, "tests", "data", "config")
STUB = "# test stub for the deploy test, not micropython-lib\nSTUB = %r\n"


def make_index(root):
    """A micropython-lib style index (package/<mpy>/<name>/latest.json + file/<h2>/<short hash>)."""
    pkgs = {"umqtt.simple": {"umqtt/simple.py": STUB % "umqtt"},
            "requests": {"requests/__init__.py": STUB % "requests"}}
    for name, files in pkgs.items():
        hashes = []
        for path, content in files.items():
            h = hashlib.sha256(content.encode()).hexdigest()[:8]
            os.makedirs(os.path.join(root, "file", h[:2]), exist_ok=True)
            with open(os.path.join(root, "file", h[:2], h), "w") as f:
                f.write(content)
            hashes.append([path, h])
        d = os.path.join(root, "package", "6", name)
        os.makedirs(d)
        with open(os.path.join(d, "latest.json"), "w") as f:
            json.dump({"hashes": hashes, "version": "0.0-stub"}, f)
    return root


@pytest.fixture
def board(tmp_path):
    flash = tmp_path / "flash"
    os.makedirs(flash / "firmware")
    # the state of a button in service: its config, PIN lockout, last fix and log...
    shutil.copy(os.path.join(DATA, "config_v2.rec"), flash / "config.rec")
    (flash / "pinlock.rec").write_bytes(b"ABpl-not-touched")
    (flash / "lastfix.json").write_text('{"lat": 48.8, "lon": 2.3, "acc_m": 20, "utc": 1, "source": "gnss"}')
    (flash / "events.log").write_text('{"ms": 1, "event": "boot"}\n')
    # ...and an older firmware: a .py that would shadow the new .mpy, a module that no longer exists
    (flash / "firmware" / "app.py").write_text("raise ImportError('old firmware')\n")
    (flash / "firmware" / "gone.py").write_text("x = 1\n")
    (flash / "firmware" / "alert.mpy").write_bytes(b"M\x06")  # the flat tree before issue 18: now a package
    b = VmBoard(str(flash))
    yield b
    b.stop()


def snapshot(flash, names):
    return {n: (flash / n).read_bytes() for n in names}


def test_deploy_to_the_vm_board(board, tmp_path):
    flash = tmp_path / "flash"
    kept = ["config.rec", "pinlock.rec", "lastfix.json", "events.log"]
    before = snapshot(flash, kept)
    index = make_index(str(tmp_path / "index"))
    lines = []
    rep = deploy(board.port, mip_index=index, echo=lines.append, progress_stream=open(os.devnull, "w"))
    text = "\n".join(lines)
    arch = vm.vm_facts()["mpy_arch"]  # the VM board's own architecture (x64 or x86), as a board's
    assert "arch %s" % arch in text and "mpy-cross -march=%s" % arch in text, text
    assert rep["version"] == local_version() and rep["mip"] == "installed" and rep["restart"] == "skipped"
    # every device file is there, compiled except the two run by name; stale files are gone
    # (rep["files"] is the tree as deploy read it: others may add files to the tree meanwhile)
    assert {"boot.py", "main.py", "firmware/app.mpy", "firmware/console/commands.mpy", "drivers/modem/base.mpy",
            "boards/esp32_a7670e.mpy"} <= set(rep["files"])
    for dst in rep["files"]:
        assert dst in ("boot.py", "main.py") or dst.endswith(".mpy"), dst
        assert (flash / dst).exists(), dst
        if dst.endswith(".mpy"):
            assert (flash / dst).read_bytes()[:1] == b"M"  # .mpy header
            assert not (flash / (dst[:-4] + ".py")).exists(), dst
    assert sorted(rep["removed"]) == ["firmware/alert.mpy", "firmware/app.py", "firmware/gone.py"]
    assert not list(flash.rglob("*.new"))
    # the configuration and the rest of the button's state: byte for byte
    assert snapshot(flash, kept) == before and sorted(rep["kept"]) == sorted(kept)
    # mip installed the (stub) packages into the board's lib
    assert (flash / "lib" / "umqtt" / "simple.py").read_text() == STUB % "umqtt"
    assert (flash / "lib" / "requests" / "__init__.py").exists()

    # a second deploy copies nothing
    lines2 = []
    rep2 = deploy(board.port, skip_mip=True, echo=lines2.append, progress_stream=open(os.devnull, "w"))
    assert rep2["copied"] == [] and rep2["removed"] == [] and rep2["mip"] == "skipped"
    assert any("SKIPPED" in ln for ln in lines2)

    # the deployed firmware, and only it (the repo is not on the path), runs and keeps the contacts
    board.stop()
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([vm.SIMLIB, str(flash), ".frozen"]))
    code = ("import sys\nfrom firmware import app, version\nfrom firmware.console import commands\n"
            "from firmware.settings import config as settings\n"
            "assert settings.__file__.endswith('.mpy'), settings.__file__\n"
            "c = settings.load()\nprint(version.VERSION, c['config_source'], len(c['contacts']), c['slots'][2]['number'])\n")
    p = subprocess.run([vm.micropython_exe(), "-c", code], cwd=str(flash), env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split() == [local_version(), "main", "4", "+262692123456"]


def test_deploy_errors(tmp_path):
    with pytest.raises(DeployError, match="no device"):
        deploy(str(tmp_path / "ttyUSB7"), skip_mip=True, echo=lambda *a: None)
    assert cli.main(["--port", str(tmp_path / "ttyUSB7"), "deploy", "--skip-mip"]) == 3  # no device: 3, as documented (issue 19)


def test_mip_failure_is_reported_with_the_way_out(board, tmp_path):
    empty = tmp_path / "empty-index"
    empty.mkdir()
    with pytest.raises(DeployError, match="--skip-mip"):
        deploy(board.port, mip_index=str(empty), echo=lambda *a: None, progress_stream=open(os.devnull, "w"))
