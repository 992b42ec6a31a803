"""Compare firmware/core/nmea.py (run inside the MicroPython VM) with gpsd's decoding of its regression logs.

For every LOG with a LOG.chk: the VM parser prints one fix per epoch; gpsd's .chk holds the accepted
sentences interleaved with the TPV reports they triggered. Both sides are reduced to epochs keyed by
the UTC time of day of their sentences:
- gpsd: a TPV belongs to the time of the last GGA/RMC/GLL/ZDA sentence before it in the .chk (none
  if that field was empty; the TPV's own "time" only when no such sentence came yet, since gpsd
  omits it without a fix or date and freezes it while RMC says V). Consecutive TPVs with the same key form one epoch and the LAST one (gpsd's final word on
  that epoch) is the reference; mode-0 TPVs ("unknown") are ignored.
- ours: one fix per epoch; consecutive fixes with the same key are merged the same way.
The two key sequences are aligned (difflib, in order, so repeated or backward times are handled),
and each aligned pair is compared: same mode; for mode >= 2, lat/lon within TOL_DEG and, when gpsd gives
a time, the same instant, or the same instant plus a whole number of 1024-week GPS rollovers (gpsd
"corrects" old receivers' dates against its build date; we report what the receiver said).
Why the remaining differences exist is explained per log in tests/data/nmea/README.md.

    python -m alertbutton.checks.gpsd [DIR or LOG ...] [--chunk N] [--cpython] [--details]
"""
import argparse
import datetime
import difflib
import glob
import json
import os
import sys
import types

from alertbutton import vm

TOL_DEG = 1e-5
ROLLOVER_S = 1024 * 7 * 86400
SHARED = os.path.join(vm.SHARED, "data", "nmea")
_TIMED = ("GGA", "RMC", "GLL", "ZDA")


def _tod_ms(field):
    """hhmmss[.sss] -> ms of the day, None if empty/malformed (comparison-side reading of the .chk)."""
    if len(field) < 6 or not field[:6].isdigit():
        return None
    ms = 0
    if len(field) > 7 and field[6] == "." and field[7:].isdigit():
        ms = int((field[7:] + "000")[:3])
    return ((int(field[:2]) * 60 + int(field[2:4])) * 60 + int(field[4:6])) * 1000 + ms


def _sentence_tod(line):
    """(True, tod or None) for a GGA/RMC/GLL/ZDA sentence, (False, None) for any other line."""
    body = line.strip().lstrip("$").split("*")[0]
    fields = body.split(",")
    kind = fields[0][2:] if len(fields[0]) == 5 else ""
    if kind not in _TIMED:
        return False, None
    k = 5 if kind == "GLL" else 1
    return True, (_tod_ms(fields[k]) if len(fields) > k else None)


def _parse_iso(s):
    return datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


def gpsd_epochs(chk_path):
    """[(key, tpv dict)] in .chk order, one per epoch (last TPV of each run of equal keys)."""
    out = []
    ctx = None
    with open(chk_path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("$"):
                timed, tod = _sentence_tod(line)
                if timed:
                    ctx = tod
            elif line.startswith('{"class":"TPV"'):
                try:
                    tpv = json.loads(line)
                except ValueError:
                    continue
                if not tpv.get("mode"):
                    continue
                key = ctx
                if key is None and "time" in tpv:  # time from a sentence we do not read (GNS, ...)
                    t = _parse_iso(tpv["time"])
                    key = ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000
                if out and out[-1][0] == key:
                    out[-1] = (key, tpv)
                else:
                    out.append((key, tpv))
    return out


def our_epochs(fixes):
    out = []
    for f in fixes:
        key = f.get("tod")
        if out and out[-1][0] == key:
            out[-1] = (key, f)
        else:
            out.append((key, f))
    return out


def compare_pair(g, m):
    """'' when our fix m agrees with gpsd's TPV g, else a short reason; second value: rollover used."""
    if g["mode"] != m["mode"]:
        return "mode %d vs gpsd %d" % (m["mode"], g["mode"]), False
    if g["mode"] >= 2 and "lat" in g:
        if m["lat"] is None or abs(m["lat"] - g["lat"]) > TOL_DEG or abs(m["lon"] - g["lon"]) > TOL_DEG:
            return "position %s,%s vs gpsd %s,%s" % (m["lat"], m["lon"], g["lat"], g["lon"]), False
    rollover = False
    if "time" in g and g["mode"] >= 2:  # without a fix gpsd may repeat an old time
        if m["time"] is None:
            return "no date vs gpsd %s" % g["time"], False
        dt = (_parse_iso(g["time"]) - _parse_iso(m["time"])).total_seconds()
        if abs(dt) > 0.0005:
            weeks = round(dt / ROLLOVER_S)
            if weeks == 0 or abs(dt - weeks * ROLLOVER_S) > 0.0005:
                return "time %s vs gpsd %s" % (m["time"], g["time"]), False
            rollover = True
    return "", rollover


def compare(gps, ours):
    """Align and compare; returns a result dict with counts and the list of differences."""
    sm = difflib.SequenceMatcher(None, [k for k, _ in gps], [k for k, _ in ours], autojunk=False)
    res = {"epochs": len(gps), "matched": 0, "mismatched": 0, "missing": 0, "extra": 0, "rollover": 0,
           "diffs": []}
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            for (key, g), (_, m) in zip(gps[i1:i2], ours[j1:j2]):
                why, rollover = compare_pair(g, m)
                if why:
                    res["mismatched"] += 1
                    res["diffs"].append(("mismatch", key, why))
                else:
                    res["matched"] += 1
                    res["rollover"] += rollover
        else:
            for key, g in gps[i1:i2]:
                res["missing"] += 1
                res["diffs"].append(("missing", key, "gpsd mode %d" % g["mode"]))
            for j in range(j1, j2):
                key, m = ours[j]
                res["extra"] += 1
                tail = " (end of log: flush() of an epoch gpsd never reported)" if j == len(ours) - 1 else ""
                res["diffs"].append(("extra", key, "mode %d%s" % (m["mode"], tail)))
    return res


def run_cpython(log_path, chunk):
    """Same parser under CPython (fast cross-check only; the VM is the reference)."""
    if "micropython" not in sys.modules:
        try:
            import micropython  # noqa: F401
        except ImportError:
            shim = types.ModuleType("micropython")
            shim.const = lambda x: x
            sys.modules["micropython"] = shim
    repo = vm.REPO
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from firmware.core.nmea import NmeaParser

    fixes = []

    def on_fix(f):
        fixes.append({"time": f.iso_time(), "lat": f.lat, "lon": f.lon, "mode": f.mode, "hdop": f.hdop,
                      "sats": f.sats, "tod": f.tod_ms})

    p = NmeaParser(on_fix=on_fix)
    with open(log_path, "rb") as f:
        lines = f.readlines()
    data = b"".join(line for line in lines if not line.startswith(b"#"))
    for line in lines:  # same log conventions as the VM loader in nmea_decode.VM_MAIN
        if line.startswith(b"# Delay-Cookie:") and len(line.split()) > 2:
            data = data.replace(line.split()[2][:1], b"")
    for i in range(0, len(data), chunk):
        p.feed(data[i:i + chunk])
    p.flush()
    counters = {k: getattr(p, k) for k in ("ok", "badsum", "nosum", "malformed", "unknown", "overflow",
                                           "errors", "epochs", "stale")}
    return fixes, counters


def check_log(log_path, chunk=64, cpython=False):
    """Result dict for one log (see compare()), plus 'crashes' and the parser 'counters'."""
    crashes = 0
    if cpython:
        try:
            fixes, counters = run_cpython(log_path, chunk)
        except Exception as e:  # a crash is a result to report, not a reason to stop the table
            fixes, counters, crashes = [], {"exception": repr(e)}, 1
    else:
        from alertbutton.checks import nmea_decode

        fixes, counters, proc = nmea_decode.run_vm(log_path, chunk=chunk, verbose=True)
        if proc.returncode != 0 or counters is None:
            crashes = 1
            counters = {"vm": (proc.stdout + proc.stderr)[-500:]}
    if counters and counters.get("errors"):
        crashes += counters["errors"]
    res = compare(gpsd_epochs(log_path + ".chk"), our_epochs(fixes))
    res["crashes"] = crashes
    res["counters"] = counters
    res["log"] = os.path.basename(log_path)
    return res


def find_logs(paths):
    logs = []
    for p in paths:
        if os.path.isdir(p):
            logs += sorted(glob.glob(os.path.join(p, "*.log")))
        else:
            logs.append(p)
    return [p for p in logs if os.path.exists(p + ".chk")]


def table(results, out=sys.stdout, details=False):
    cols = ("epochs", "matched", "mismatched", "missing", "extra", "crashes", "rollover")
    out.write("%-38s %s\n" % ("log", " ".join("%10s" % c for c in cols)))
    tot = dict.fromkeys(cols, 0)
    for r in results:
        out.write("%-38s %s\n" % (r["log"], " ".join("%10d" % r[c] for c in cols)))
        for c in cols:
            tot[c] += r[c]
        if details:
            for kind, key, why in r["diffs"]:
                tod = "-" if key is None else "%02d:%02d:%06.3f" % (key // 3600000, key // 60000 % 60,
                                                                   key % 60000 / 1000)
                out.write("    %-8s %s %s\n" % (kind, tod, why))
    out.write("%-38s %s\n" % ("TOTAL (%d logs)" % len(results), " ".join("%10d" % tot[c] for c in cols)))
    rate = tot["matched"] / tot["epochs"] if tot["epochs"] else 0.0
    out.write("match rate %.2f%% (%d/%d gpsd epochs), %d extra epochs, %d crashes\n"
              % (100 * rate, tot["matched"], tot["epochs"], tot["extra"], tot["crashes"]))
    return tot, rate


def make_excerpt(log_path, out_dir, first, count):
    """Write out_dir/NAME.log with the log's '#' header and its data lines [first, first+count), and
    NAME.log.chk with gpsd's output for exactly those sentences (gpsd's lines are matched to the log's
    in order; it leaves out sentences it rejected), keeping only sentences and the compared keys of
    TPV reports (class, mode, time, lat, lon). Returns the two paths."""
    with open(log_path, "rb") as f:
        lines = f.readlines()
    header = []
    for line in lines:
        if not line.startswith(b"#"):
            break
        header.append(line)
    data = [line for line in lines if not line.startswith(b"#")]
    with open(log_path + ".chk", "rb") as f:
        chk = f.readlines()
    # chk index of the first line that belongs to each data line (gpsd's echo, else where it would be)
    pos, at = [], 0
    for line in data:
        pos.append(at)
        want = line.strip()
        j = at
        while j < len(chk) and not chk[j][:1] in (b"$", b"!"):
            j += 1
        if j < len(chk) and chk[j].strip() == want:
            at = j + 1
            while at < len(chk) and not chk[at][:1] in (b"$", b"!"):  # its reports follow it
                at += 1
    pos.append(len(chk))
    last = min(first + count, len(data))
    # reports emitted before the first kept sentence belong to the part left out
    start = pos[first]
    while start < len(chk) and not chk[start][:1] in (b"$", b"!"):
        start += 1
    name = os.path.basename(log_path)
    note = b"# Excerpt: data lines %d-%d of gpsd test/daemon/%s (gpsd regression log, BSD-2-Clause)\n" % (
        first + 1, last, name.encode())
    out_log = os.path.join(out_dir, name)
    with open(out_log, "wb") as f:
        f.writelines(header + [note] + data[first:last])
    with open(out_log + ".chk", "wb") as f:  # sentences and TPV reports (only the compared keys)
        for x in chk[start:pos[last]]:
            if x[:1] in (b"$", b"!"):
                f.write(x)
            elif x.startswith(b'{"class":"TPV"'):
                tpv = json.loads(x)
                keep = {k: tpv[k] for k in ("class", "mode", "time", "lat", "lon") if k in tpv}
                f.write(json.dumps(keep, separators=(",", ":")).encode() + b"\n")
    return out_log, out_log + ".chk"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", default=[SHARED], help="directories or .log files (need LOG.chk)")
    ap.add_argument("--chunk", type=int, default=64, help="bytes per feed() call")
    ap.add_argument("--cpython", action="store_true", help="run the parser in CPython (fast cross-check)")
    ap.add_argument("--details", action="store_true", help="list every differing epoch")
    args = ap.parse_args(argv)
    logs = find_logs(args.paths)
    if not logs:
        print("no .log with a .chk found in %s" % args.paths, file=sys.stderr)
        return 2
    results = [check_log(p, args.chunk, args.cpython) for p in logs]
    tot, _rate = table(results, details=args.details)
    return 1 if tot["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
