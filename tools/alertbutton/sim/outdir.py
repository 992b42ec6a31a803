"""The simulator's output folder: it never deletes what it did not write (issue 19).

A run writes a marker file into the folder it uses. A later run may clear that folder only if it holds
the marker and nothing but what a run writes; any other non-empty folder (or a file) is refused with a
message saying what to do, and nothing is deleted.
"""
import os
import shutil

MARKER = ".alertbutton-sim"
WRITTEN = {MARKER, "association.key", "sms.jsonl", "events.jsonl", "firmware.log", "console_port", "flash", "mpy"}


class OutDirError(Exception):
    pass


def prepare(path):
    """Make `path` an empty folder for a run's outputs; raise OutDirError (nothing deleted) if it is a
    file, or a non-empty folder that a run did not make or that holds something a run did not write."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutDirError("--out %s is a file, not a folder: give a new or empty folder" % path)
    entries = sorted(os.listdir(path)) if os.path.isdir(path) else []
    if entries:
        if MARKER not in entries:
            raise OutDirError("--out %s is not empty (%s) and was not made by alertbutton sim: give a new or "
                              "empty folder; nothing was deleted" % (path, _few(entries)))
        foreign = [e for e in entries if e not in WRITTEN]
        if foreign:
            raise OutDirError("--out %s holds files a simulator run did not write (%s): move them or give "
                              "another folder; nothing was deleted" % (path, _few(foreign)))
        for e in entries:
            p = os.path.join(path, e)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.remove(p)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, MARKER), "w") as f:
        f.write("written by alertbutton sim; a later run may replace this folder's contents\n")
    return path


def _few(names, n=5):
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")
