# Small-file storage on the device filesystem (LittleFS). Writes go to a temporary file that is then
# renamed over the old one: a power cut leaves either the old or the new file, never a torn one.
import json
import os


def read_json(path):
    """The decoded file, or None if it is missing or unreadable (the caller decides the fallback)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        _dump(obj, f)
    os.rename(tmp, path)


def _dump(obj, f, top=True):
    """json.dump(obj, f) written one top-level member (and one item of a top-level list) at a time.
    The whole text is never one string: an alert's outbox with its follow-ups is ~4 KB of JSON, which
    json.dumps() would build in one contiguous piece in the middle of the alert (the allocation that
    failed first in a tight heap, alertbutton bench heap). The text is json.dumps()'s own. json.dump()
    to the file would write token by token: ten times slower, on the SMS path."""
    if top and isinstance(obj, dict):
        f.write("{")
        sep = ""
        for k in obj:
            f.write(sep)
            f.write(json.dumps(k))
            f.write(": ")
            _dump(obj[k], f, False)
            sep = ", "
        f.write("}")
    elif isinstance(obj, list):
        f.write("[")
        sep = ""
        for x in obj:
            f.write(sep)
            f.write(json.dumps(x))
            sep = ", "
        f.write("]")
    else:
        f.write(json.dumps(obj))


def append_lines(path, lines, max_bytes=65536):
    """Append to a log file, rotating to path+'.1' when it grows past max_bytes."""
    try:
        if os.stat(path)[6] > max_bytes:
            os.rename(path, path + ".1")
    except OSError:
        pass
    with open(path, "a") as f:
        for line in lines:
            f.write(line)
            f.write("\n")


def shred(path):
    """Overwrite a file with zeros, then remove it (factory reset). On a host or FAT filesystem the old
    bytes are gone; LittleFS writes the zeros to new blocks (copy on write), so the old blocks stay
    until reused: only flash encryption makes them unreadable (docs/technician.md). False if missing."""
    try:
        n = os.stat(path)[6]
    except OSError:
        return False
    try:
        z = bytes(512)
        with open(path, "r+b") as f:
            while n > 0:
                f.write(z if n >= 512 else z[:n])
                n -= 512
    except OSError:
        pass  # read-only or damaged: removing it is still the point
    os.remove(path)
    return True
