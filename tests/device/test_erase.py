# firmware/settings/erase.py in the VM (cwd: a fresh folder standing for the button's flash).
import os

from firmware.settings import erase
from firmware.system import storage


def _w(path, data=b"+33612345601 Sophie"):
    with open(path, "wb") as f:
        f.write(data)


def _folder(name):
    os.mkdir(name)
    os.chdir(name)


def test_every_data_file_goes_code_and_board_options_stay():
    _folder("flash1")
    for d in ("firmware", "ev", "ev/r00001", "pq", "lib"):
        os.mkdir(d)
    for p in ("main.py", "boot.py", "firmware/app.mpy", "lib/x.txt", "board.json", "config.rec",
              "config.rec.bak", "events.log", "events.log.1", "outbox.json", "lastfix.json", "platform.json",
              "platform_ca.der", "ev/seq", "ev/r00001/c0000.evc", "pq/000001a1", "some_future_file.dat"):
        _w(p)
    removed, errors = erase.erase_data(".", ("config.rec",))
    assert errors == [], errors
    assert sorted(os.listdir()) == ["board.json", "boot.py", "config.rec", "ev", "firmware", "lib", "main.py", "pq"]
    assert os.listdir("ev") == [] and os.listdir("pq") == [] and os.listdir("lib") == ["x.txt"]
    assert removed == 11, removed
    os.chdir("..")


def test_shred_overwrites_before_removing():
    _w("secret.json", b"x" * 1300)
    f = open("secret.json", "r+b")  # a second handle still sees the bytes shred wrote
    assert storage.shred("secret.json") is True
    assert f.read() in (b"\0" * 1300, b"")  # zeros on a host filesystem (LittleFS: see storage.shred)
    f.close()
    assert "secret.json" not in os.listdir() and storage.shred("secret.json") is False


def test_a_source_checkout_is_never_erased():
    _folder("checkout")
    _w("pyproject.toml", b"[project]")
    _w("README.md", b"keep me")
    try:
        erase.erase_data(".")
        raise AssertionError("erased a checkout")
    except OSError:
        pass
    assert open("README.md").read() == "keep me"
    os.chdir("..")
