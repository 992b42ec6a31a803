# The technician console waits for its technician (issue 17). Until the first byte arrives on the
# console's stream only this task runs: firmware/console/commands.py and what it imports (preview, pin_lock,
# console_platform: ~19 KB of heap) are loaded by that byte, so a button nobody connects to (the
# wearer's, during an alert) never holds them. Seen from the serial line nothing changes: the
# "console" event and the banner come at boot, and the bytes read here are the console's first input.
import asyncio

from firmware.version import VERSION

PROTO = "AB1"

# The USB port is locked (issue 19): while the firmware runs, Ctrl-C does not reach a REPL (mpremote
# cannot stop the firmware to read or erase the flash); the port speaks only the console protocol.
# `AB1 maintenance <PIN>` opens the REPL for a limited time (firmware/console/commands.py).
try:
    from micropython import kbd_intr as _kbd_intr
except ImportError:  # a port built without it
    _kbd_intr = None


def repl(open_):
    """Let Ctrl-C (3) interrupt the firmware, or not (-1). False when this build cannot choose."""
    if _kbd_intr is None:
        return False
    _kbd_intr(3 if open_ else -1)
    return True


def one_line(s):
    """s made fit for one answer line (CR and LF become spaces)."""
    return s.replace("\r", " ").replace("\n", " ")


def banner_lines(cfg):
    """What the console says when it starts: its protocol and version, then what needs a technician."""
    out = ["%s READY %s" % (PROTO, VERSION)]
    if not cfg["configured"]:
        out.append("NOT CONFIGURED")
    for p in cfg.get("config_problems") or []:
        out.append("CONFIG PROBLEM %s" % one_line(p))
    return out


def ends(stream):
    """(rx, tx, read size) of a console stream: a pollable stream read 256 bytes at a time, or the
    board's (stdin, stdout) pair, whose read(n) blocks for n bytes (read one at a time)."""
    if isinstance(stream, (tuple, list)):
        return stream[0], stream[1], 1
    return stream, stream, 256


def write_line(tx, text):
    try:
        tx.write((text + "\r\n").encode())
    except OSError:
        pass  # nobody listening: the firmware goes on


def make_console(app, stream):
    """The console with its optional command sets (AB1 platform ..., issue 9)."""
    from firmware.console.commands import Console
    console = Console(app, stream)
    try:
        from firmware.console import platform_cmds as console_platform
        console_platform.register(console)
    except ImportError:
        pass
    return console


async def run(app, stream, make=make_console, reader=None):
    """Announce the console, wait for the first bytes, then hand them to the console made then.
    make, reader: a console factory and a stream reader of the caller's (tests)."""
    rx, tx, chunk = ends(stream)
    cfg = app.cfg
    repl(False)
    app.log("console", source=cfg.get("config_source"), problems=len(cfg.get("config_problems") or []))
    for line in banner_lines(cfg):
        write_line(tx, line)
    reader = reader or asyncio.StreamReader(rx)
    while True:
        data = await reader.read(chunk)
        if not data:
            await asyncio.sleep_ms(50)
            continue
        try:
            console = make(app, stream)
        except ImportError:
            return  # a build without the console
        except Exception as e:  # no memory for it now (during an alert): the next line tries again
            app.log("console_unavailable", err=repr(e))
            continue
        await console.run(reader, data)
