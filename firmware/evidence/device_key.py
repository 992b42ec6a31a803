# The device key (issue 21): an Ed25519 seed made on the button itself at provisioning (os.urandom),
# kept in its own file, never sent anywhere. It signs the chain heads of the recordings (heads.abh, the
# platform's evidence events), so a head can be attributed to this button; the association records its
# public key (`alertbutton keys device`). A factory reset erases the file (firmware/settings/erase.py
# removes every data file) and the RAM copy (console _forget); the next boot makes a new key, which the
# association must record again. On real hardware, flash encryption + secure boot keep it from being
# read off a seized button (docs/evidence-sealing.md).
import os

from firmware.system import storage

PATH = "device.key"
SEED_BYTES = 32


def _read(path):
    """(seed or None, whether a file was there)."""
    try:
        with open(path, "rb") as f:
            seed = f.read()
    except OSError:
        return None, False
    return (seed if len(seed) == SEED_BYTES else None), True


def load(path=PATH):
    """The 32-byte seed, or None if there is none (or the file is damaged: see load_or_create)."""
    return _read(path)[0]


def load_or_create(path=PATH, log=None, urandom=os.urandom):
    """The seed, created (and logged) when the button has none. A damaged file (wrong length) is
    replaced: its heads could not be signed anyway, and the association sees a new public key."""
    seed, existed = _read(path)
    if seed is not None:
        return seed
    seed = bytes(urandom(SEED_BYTES))
    storage.write_atomic(path, seed)
    if log is not None:
        log("device_key_created", replaced_damaged=existed)
    return seed


def public_key(seed):
    from firmware.core.crypto import ed25519
    return ed25519.public_key(seed)


def signer(seed):
    """A Signer for this device's seed."""
    return Signer(seed)


class Signer:
    """sign(message) -> the 64-byte Ed25519 signature by this device; steps(message): the same in
    pieces (a generator yielding None between pieces, then the signature), for a task that must not
    hold the loop. ed25519 is imported at the first signature, not at boot."""

    def __init__(self, seed):
        self.seed = seed

    def steps(self, msg):
        from firmware.core.crypto import ed25519
        return ed25519.sign_steps(self.seed, msg)

    def __call__(self, msg):
        from firmware.core.crypto import ed25519
        return ed25519.sign(self.seed, msg)
