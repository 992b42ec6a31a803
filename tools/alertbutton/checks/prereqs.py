"""What the test suite needs outside Python, and getting it when this machine allows (issue 19).

The MQTT tests start a real broker: Debian's mosquitto, its clients and openssl. `./run.sh test` calls
`python -m alertbutton.checks.prereqs --install` first: as root with apt-get it installs them; otherwise
it prints which tests will be skipped and why (the suite's last lines repeat it).

    python -m alertbutton.checks.prereqs [--install]    exit 0 when nothing is missing, else 1
"""
import argparse
import os
import shutil
import subprocess
import sys

BROKER_TOOLS = ("mosquitto", "mosquitto_sub", "mosquitto_pub", "mosquitto_passwd", "openssl")
DEBIAN_PACKAGES = ("mosquitto", "mosquitto-clients", "openssl")
INSTALL_HINT = "apt-get install " + " ".join(DEBIAN_PACKAGES)


SBIN = ("/usr/sbin", "/usr/bin")  # mosquitto lives in /usr/sbin, often not on a user's PATH


def tool(name, which=shutil.which, dirs=SBIN):
    """Path of a broker tool, or None."""
    for p in [which(name)] + [d + "/" + name for d in dirs]:
        if p and os.path.exists(p):
            return p
    return None


def missing(which=shutil.which, dirs=SBIN):
    """Names of the broker tools that are not installed."""
    return [n for n in BROKER_TOOLS if tool(n, which, dirs) is None]


def ensure(install=True, euid=None, run=subprocess.run, which=shutil.which, dirs=SBIN, out=None):
    """Install the missing broker tools from Debian when allowed and possible (root, apt-get); return
    what is still missing, having said on `out` which tests that skips and why."""
    out = out or sys.stdout
    miss = missing(which, dirs)
    if not miss:
        return []
    euid = os.geteuid() if euid is None else euid
    why = None
    if not install:
        why = "not asked to install"
    elif euid != 0:
        why = "not root, so not installed here"
    elif which("apt-get") is None:
        why = "no apt-get on this machine"
    else:
        print("installing %s from Debian (missing: %s)" % (", ".join(DEBIAN_PACKAGES), ", ".join(miss)),
              file=out, flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = run(["apt-get", "update", "-qq"], env=env)
        if r.returncode == 0:
            r = run(["apt-get", "install", "-y", "-qq"] + list(DEBIAN_PACKAGES), env=env)
        miss = missing(which, dirs)
        if miss:
            why = "apt-get failed (exit %d)" % r.returncode if r.returncode else "still missing after apt-get"
    if miss:
        print("the MQTT broker tests will be SKIPPED: missing %s (%s); to run them: %s"
              % (", ".join(miss), why, INSTALL_HINT), file=out, flush=True)
    return miss


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--install", action="store_true", help="install what is missing when root with apt-get")
    args = ap.parse_args(argv)
    return 1 if ensure(install=args.install) else 0


if __name__ == "__main__":
    sys.exit(main())
