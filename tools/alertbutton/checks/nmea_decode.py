"""`alertbutton nmea FILE`: one JSON fix per epoch of an NMEA log, decoded by firmware/core/nmea.py running
inside the MicroPython VM (the code that ships), not by CPython.

The log is streamed into the parser in fixed-size chunks, as UART reads would deliver it (lines that
start with '#' are log comments, as in gpsd's test logs, and are skipped; a "# Delay-Cookie: C" header
means the byte C marks write boundaries and is removed). Each output line is
{"time": ISO-8601 UTC or null, "lat": deg, "lon": deg, "mode": 1|2|3, "hdop": f, "sats": n}.
"""
import json
import os
import sys
import tempfile

from alertbutton import pystone, vm

ESP32_PYSTONES = 1660  # published figure for MicroPython on an ESP32 at 240 MHz

# Runs inside the VM: argv = [prog, path, chunk, verbose(0/1), bench_repeats]
VM_LOAD = r"""
def load(path):
    # gpsd test-log conventions: '#' lines are comments; "# Delay-Cookie: C" marks write boundaries
    # with the byte C inside the data, which is not part of what the receiver sent
    data = bytearray()
    cookie = -1
    with open(path, 'rb') as f:
        while True:
            line = f.readline()
            if not line:
                break
            if line[:1] == b'#':
                if line.startswith(b'# Delay-Cookie:') and len(line.split()) > 2:
                    cookie = line.split()[2][0]
            elif cookie >= 0:
                data.extend(bytes(c for c in line if c != cookie))
            else:
                data.extend(line)
    return data
"""

VM_MAIN = VM_LOAD + r"""
import sys, time
from firmware.core.nmea import NmeaParser




def num(v, fmt):
    return 'null' if v is None else fmt % v


def show(f, verbose):
    t = f.iso_time()
    s = '{"time": %s, "lat": %s, "lon": %s, "mode": %d, "hdop": %s, "sats": %s' % (
        'null' if t is None else '"' + t + '"', num(f.lat, '%.9f'), num(f.lon, '%.9f'), f.mode,
        num(f.hdop, '%.2f'), num(f.sats, '%d'))
    if verbose:
        s += ', "tod": %s, "day": %s, "q": %d, "stale": %s, "lat_e6": %s, "lon_e6": %s' % (
            num(f.tod_ms, '%d'), num(f.day, '%d'), f.quality, 'true' if f.stale else 'false',
            num(f.lat_e6, '%d'), num(f.lon_e6, '%d'))
    print(s + '}')


def counters(p):
    return ('{"counters": {"ok": %d, "badsum": %d, "nosum": %d, "malformed": %d, "unknown": %d, '
            '"overflow": %d, "errors": %d, "epochs": %d, "stale": %d}}') % (
        p.ok, p.badsum, p.nosum, p.malformed, p.unknown, p.overflow, p.errors, p.epochs, p.stale)


def main(argv):
    path = argv[1]
    chunk = int(argv[2])
    verbose = argv[3] == '1'
    bench = int(argv[4])
    data = load(path)
    mv = memoryview(data)
    n = len(data)
    if bench:
        import gc
        try:  # the shared pystone module, when present: the same VM run states its speed
            import pystone
            ps = pystone.main(20000)
        except ImportError:
            ps = 0
        p = NmeaParser()
        gc.collect()
        t0 = time.ticks_us()
        for _ in range(bench):
            for i in range(0, n, chunk):
                p.feed(mv[i:i + chunk])
        dt = time.ticks_diff(time.ticks_us(), t0)
        if ps:
            ps = (ps + pystone.main(20000)) / 2
        sent = p.ok + p.unknown + p.badsum + p.nosum + p.malformed + p.overflow
        print('{"bench": {"us": %d, "sentences": %d, "bytes": %d, "us_per_sentence": %.2f, '
              '"us_per_byte": %.3f, "vm_pystones": %d}}' % (dt, sent, n * bench, dt / max(1, sent),
                                                          dt / max(1, n * bench), ps))
        return
    p = NmeaParser(on_fix=lambda f: show(f, verbose))
    for i in range(0, n, chunk):
        p.feed(mv[i:i + chunk])
    p.flush()
    if verbose:
        print(counters(p))


main(sys.argv)
"""


def run_vm(path, chunk=64, verbose=False, bench=0, heapsize=None, timeout=300):
    """Run the firmware parser over a log in the VM. Returns (fixes, counters, proc): fixes is a list
    of dicts (one per epoch), counters a dict (verbose only) or None."""
    fd, script = tempfile.mkstemp(prefix="nmea_vm_", suffix=".py")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(VM_MAIN)
        proc = vm.run(script=script, args=(os.path.abspath(path), str(chunk), "1" if verbose else "0",
                                           str(bench)), heapsize=heapsize, timeout=timeout,
                      extra_path=(os.path.dirname(os.path.abspath(pystone.__file__)),))  # pystone.py
    finally:
        os.unlink(script)
    fixes, counters = [], None
    for line in proc.stdout.splitlines():
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        if "counters" in d:
            counters = d["counters"]
        elif "bench" in d:
            counters = d["bench"]
        else:
            fixes.append(d)
    return fixes, counters, proc


def add_arguments(parser):
    parser.add_argument("file", help="NMEA log (raw sentences; '#' comment lines skipped), or - for stdin")
    parser.add_argument("--chunk", type=int, default=64, help="bytes per feed() call, like UART reads")
    parser.add_argument("--verbose", action="store_true", help="add tod/day/quality fields and counters")
    parser.add_argument("--bench", type=int, default=0, metavar="N",
                        help="instead of fixes, feed the log N times and print µs per sentence in the VM "
                             "(and the VM's pystones/s, to scale to the ESP32: ~1,660 pystones/s)")


def run(args):
    path, tmp = args.file, None
    if path == "-":
        fd, tmp = tempfile.mkstemp(prefix="nmea_in_")
        with os.fdopen(fd, "wb") as f:
            f.write(sys.stdin.buffer.read())
        path = tmp
    try:
        if not os.path.isfile(path):
            print("no such file: %s" % path, file=sys.stderr)
            return 2
        fixes, counters, proc = run_vm(path, chunk=max(1, args.chunk), verbose=args.verbose, bench=args.bench)
    finally:
        if tmp:
            os.unlink(tmp)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
        return 1
    for line in proc.stdout.splitlines():  # the VM's own JSON lines, verbatim
        if line.startswith('{"time"'):
            print(line)
    if counters is not None:
        print(json.dumps(counters), file=sys.stderr if not args.bench else sys.stdout)
        if args.bench and counters.get("vm_pystones"):
            scale = counters["vm_pystones"] / ESP32_PYSTONES
            print("~%.2f ms per sentence on an ESP32 at 240 MHz (x%.0f: %d VM pystones/s vs %d)" % (
                counters["us_per_sentence"] * scale / 1000, scale, counters["vm_pystones"], ESP32_PYSTONES))
    return 0
