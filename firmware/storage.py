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
    write_atomic(path, json.dumps(obj).encode())


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
