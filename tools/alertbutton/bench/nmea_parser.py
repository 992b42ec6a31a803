"""NMEA parser cost per sentence in ESP32 terms, side by side with peterhinch's as_GPS, in ONE VM run.

    python -m alertbutton.bench.nmea_parser [--as-gps PATH/as_GPS.py] [--repeat N] [LOG ...]

Both parsers get the same gpsd log excerpts (tests/data/nmea/*.log by default; '#' lines skipped,
gpsd's Delay-Cookie bytes removed) in the same MicroPython VM process, between two pystone runs:
  ours     firmware.core.nmea.NmeaParser.feed() on 64-byte chunks, as UART reads deliver them (framing,
           checksum and epoch logic included; one Fix object per epoch is its only allocation);
  as_GPS   AS_GPS(None)._update(line) awaited for each line already split and decoded as its own
           _run() does it (StreamReader.readline framing is C code in the VM and is not timed; the
           task it creates per line in _run() is not either: a cost in its favour). An exception
           escaping _update() (it only catches ValueError) is counted in "raised": in _run() it
           would end that line's task.
Figures: µs per input sentence line in the VM, once as one continuous run (garbage collections
included: they also mark the input lists held in RAM, which a device does not hold) and once with a
collection before each batch of 400 inputs, untimed; bytes allocated per line (gc.mem_alloc with
the collector disabled, in batches); and the ESP32 estimate t_esp32 = t_vm * pystones_vm / 1660 (the
published MicroPython figure for an ESP32 at 240 MHz; a scale for interpreted Python code, not a
measurement on the device).

as_GPS (MIT licence) is never part of this repository: pass the path of a copy you obtained. It is
copied into a temporary directory outside the repo for the run. Without it, only our figures are
printed, and the output says so.
"""
import argparse
import glob
import json
import os
import sys

from alertbutton import vm
from alertbutton.bench import vm_bench
from alertbutton.checks.nmea_decode import ESP32_PYSTONES, VM_LOAD

REPO = vm.REPO
DEFAULT_LOGS = os.path.join(REPO, "tests", "data", "nmea", "*.log")

# Runs inside the VM. argv: [prog, repeat, have_as_gps(0/1), log...]
VM_MAIN = VM_LOAD + r"""
import sys, time, gc
from firmware.core.nmea import NmeaParser




_BATCH = 400  # inputs per batch when allocations are counted or collections kept out of the timing


class Meter:
    # Per-batch hooks. mode "plain": nothing (one continuous run, collections included); "alloc":
    # bytes allocated with the collector disabled; "nogc": time of the batches only, a collection
    # before each one, untimed (a batch allocates less than the free heap, so none happens inside).

    def __init__(self, mode):
        self.mode = mode
        self.total = 0

    def begin(self):
        if self.mode == "alloc":
            gc.collect()
            gc.disable()
            self.m0 = gc.mem_alloc()
        elif self.mode == "nogc":
            gc.collect()
            self.t0 = time.ticks_us()

    def end(self):
        if self.mode == "alloc":
            self.total += gc.mem_alloc() - self.m0
            gc.enable()
        elif self.mode == "nogc":
            self.total += time.ticks_diff(time.ticks_us(), self.t0)


def ours_pass(chunks, mode="plain"):
    m = Meter(mode)
    p = NmeaParser()
    n = len(chunks)
    for k in range(0, n, _BATCH):
        m.begin()
        for i in range(k, min(k + _BATCH, n)):
            p.feed(chunks[i])
        m.end()
    p.flush()
    return p, m.total


def as_gps_pass(lines, mode="plain"):
    import asyncio
    from as_GPS import AS_GPS

    async def run():
        m = Meter(mode)
        g = AS_GPS(None)
        g.raised = 0
        n = len(lines)
        for k in range(0, n, _BATCH):
            m.begin()
            for i in range(k, min(k + _BATCH, n)):
                try:
                    s = lines[i].decode('utf8')
                except UnicodeError:
                    continue
                try:
                    await g._update(s)
                except Exception:  # in as_GPS's own _run() this ends the per-line task: counted
                    g.raised += 1
            m.end()
        return g, m.total
    return asyncio.run(run())


def timed(fn, repeat, *a):
    gc.collect()
    t0 = time.ticks_us()
    for _ in range(repeat):
        r = fn(*a)
    return r, time.ticks_diff(time.ticks_us(), t0)


def measure(fn, data, repeat):
    (obj, _), us = timed(fn, repeat, data)
    nogc = 0
    for _ in range(repeat):
        nogc += fn(data, "nogc")[1]
    return obj, {"us": us, "us_nogc": nogc, "alloc": fn(data, "alloc")[1]}


def main(argv):
    import pystone
    repeat = int(argv[1])
    have = argv[2] == '1'
    data = bytearray()
    for path in argv[3:]:
        data.extend(load(path))
    n = len(data)
    # the input is cut before timing, for both: 64-byte "UART reads" for ours, one "line" per
    # sentence for as_GPS as a line reader gives them (CR/LF split, empties dropped)
    chunks = [bytes(data[i:i + 64]) for i in range(0, n, 64)]
    lines = [ln for ln in bytes(data).replace(b'\r', b'\n').split(b'\n') if ln]
    ps0 = pystone.main(20000)
    p, r = measure(ours_pass, chunks, repeat)
    r.update({"ok": p.ok, "unknown": p.unknown, "badsum": p.badsum, "nosum": p.nosum,
              "malformed": p.malformed, "overflow": p.overflow, "errors": p.errors, "epochs": p.epochs})
    out = {"lines": len(lines), "bytes": n, "repeat": repeat, "ours": r}
    if have:
        g, r = measure(as_gps_pass, lines, repeat)
        r.update({"clean": g.clean_sentences, "parsed": g.parsed_sentences, "crc_fails": g.crc_fails,
                  "unsupported": g.unsupported_sentences, "raised": g.raised})
        out["as_gps"] = r
    out["pystones"] = (ps0 + pystone.main(20000)) // 2
    print('BENCH ' + repr(out).replace("'", '"').replace('True', 'true').replace('False', 'false'))


main(sys.argv)
"""


def run_bench(logs, as_gps=None, repeat=5, heapsize="16m", timeout=600):
    """Run both parsers over `logs` in one VM process. Returns the result dict (see VM_MAIN)."""
    return vm_bench.run(VM_MAIN, [repeat, "1" if as_gps else "0"] + [os.path.abspath(x) for x in logs],
                        modules={"as_GPS.py": as_gps} if as_gps else None, heapsize=heapsize, timeout=timeout)


def figures(r):
    """Per-line figures and the ESP32 estimate from a run_bench() result."""
    per = r["lines"] * r["repeat"]
    scale = r["pystones"] / ESP32_PYSTONES
    out = {}
    for k in ("ours", "as_gps"):
        if k in r:
            us = r[k]["us"] / per
            us2 = r[k]["us_nogc"] / per
            out[k] = {"vm_us_per_line": round(us, 2), "esp32_ms_per_line": round(us * scale / 1000, 3),
                      "vm_us_per_line_nogc": round(us2, 2),
                      "esp32_ms_per_line_nogc": round(us2 * scale / 1000, 3),
                      "alloc_bytes_per_line": round(r[k]["alloc"] / r["lines"], 1)}
    out["vm_pystones"] = r["pystones"]
    out["scale"] = round(scale, 1)
    return out


def add_arguments(ap):
    """For the `alertbutton` CLI (cli.COMMANDS): add_arguments(parser) / run(args)."""
    ap.add_argument("logs", nargs="*", help="NMEA logs (default: tests/data/nmea/*.log)")
    ap.add_argument("--as-gps", metavar="PATH", help="a copy of micropython-async v3/as_drivers/as_GPS/as_GPS.py")
    ap.add_argument("--repeat", type=int, default=5)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args):
    logs = args.logs or sorted(glob.glob(DEFAULT_LOGS))
    if args.as_gps and not os.path.isfile(args.as_gps):
        print("no such file: %s" % args.as_gps, file=sys.stderr)
        return 2
    r = run_bench(logs, args.as_gps, max(1, args.repeat))
    f = figures(r)
    print(json.dumps({"raw": r, "figures": f}))
    print("%d sentence lines (%d bytes) from %d logs, x%d; VM %d pystones/s -> ESP32 scale x%.1f" % (
        r["lines"], r["bytes"], len(logs), r["repeat"], r["pystones"], f["scale"]))
    rows = [("firmware/core/nmea.py", "ours")] + ([("as_GPS", "as_gps")] if "as_gps" in f else [])
    for name, k in rows:
        x = f[k]
        print("  %-17s %7.1f us/line in the VM (%.1f without collections)  ~%.3f ms/line on an ESP32 "
              "(%.3f)  %.1f bytes allocated/line" % (
                  name, x["vm_us_per_line"], x["vm_us_per_line_nogc"], x["esp32_ms_per_line"],
                  x["esp32_ms_per_line_nogc"], x["alloc_bytes_per_line"]))
    o = r["ours"]
    print("  ours: %d sentences decoded, %d other types, %d bad checksum, %d no checksum, %d malformed, "
          "%d too long, %d exceptions, %d epochs" % (o["ok"], o["unknown"], o["badsum"], o["nosum"],
                                                     o["malformed"], o["overflow"], o["errors"], o["epochs"]))
    if "as_gps" in r:
        a = r["as_gps"]
        print("  as_GPS: %d clean, %d parsed (%d of unsupported types), %d bad checksum, %d exceptions raised"
              % (a["clean"], a["parsed"], a["unsupported"], a["crc_fails"], a["raised"]))
    if "as_gps" not in f:
        print("  as_GPS: not provided (--as-gps PATH), no comparison made")
    return 0


if __name__ == "__main__":
    sys.exit(main())
