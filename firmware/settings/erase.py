# Factory reset, the flash part (issue 19): every file that may hold a number, a name, a position, a
# recording, a credential or a log is overwritten and removed -- whatever its name, so a file added by
# a later feature is erased too. Kept: the code (*.py, *.mpy and the code folders), board.json (the
# board's hardware options) and what the caller names (the new configuration record, the simulated
# board's wiring). Folders are emptied, not removed: the stores that own them keep working.
import os

from firmware.system import storage

CODE_DIRS = ("firmware", "drivers", "boards", "lib")
KEEP = ("board.json",)


def _kept(name, keep):
    return name in keep or name in KEEP or name.endswith(".py") or name.endswith(".mpy")


CHECKOUT = (".git", "pyproject.toml")  # a developer's checkout, never a button's flash


def erase_data(root=".", keep=(), top=True):
    """Shred every data file under root (the flash's top folder) except the kept ones; returns (files
    removed, errors). OSError when root is a source checkout (a VM run in the repository by mistake)."""
    names = sorted(os.listdir(root))
    if top:
        for n in CHECKOUT:
            if n in names:
                raise OSError(1, "refusing to erase a source checkout (found %s)" % n)
    removed = 0
    errors = []
    for name in names:
        path = name if root == "." else root + "/" + name
        if _is_dir(path):
            if top and name in CODE_DIRS:
                continue
            n, e = erase_data(path, (), False)
            removed += n
            errors += e
            if not top:  # a sub-folder of a store (a recording): gone; top-level folders stay
                try:
                    os.rmdir(path)
                except OSError as ex:
                    errors.append("%s: %r" % (path, ex))
        elif not _kept(name, keep if top else ()):
            try:
                storage.shred(path)
                removed += 1
            except OSError as ex:
                errors.append("%s: %r" % (path, ex))
    return removed, errors


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False
