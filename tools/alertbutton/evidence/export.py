"""`alertbutton evidence list|export|verify|bench`: the button's sound evidence on the host.

    alertbutton evidence list   --port PORT [--pin PIN] | --flash DIR
    alertbutton evidence export --port PORT [--pin PIN] | --flash DIR  --out DIR [--rec N ...]
    alertbutton evidence verify DIR [--head SHA256]
    alertbutton evidence bench  [--seconds S]

--port talks to the button's technician console (`AB1 evidence ...`, PIN required); --flash reads a
flash directory directly (the simulated board's OUT/flash after `alertbutton sim`).

An export writes, per recording, DIR/rNNNNN/: chunks/*.evc (the device's files, byte for byte: the
evidence), audio/*.wav (each chunk decoded to 16-bit PCM), recording.wav (all of it), manifest.json and
report.html (report.py: timeline, positions with map links, hashes). `verify` re-derives everything
from the chunk files and names any chunk that was modified, removed, reordered or inserted, and any
manifest or WAV that no longer matches. Chunk parsing and ADPCM decoding are the firmware's own modules.

Exit status: 0 done / verified, 1 problems found (or the device refused), 2 usage, 3 no device."""
import argparse
import datetime
import hashlib
import json
import os
import struct
import sys
import time
import wave

from alertbutton import pystone, vm
from alertbutton.evidence.report import report_html

if vm.REPO not in sys.path:
    sys.path.insert(0, vm.REPO)

from firmware.evidence import store as ev  # noqa: E402
from firmware.core import ima_adpcm  # noqa: E402

FORMAT = "alertbutton-evidence/1"
PIECE = 1024  # bytes per console read (its answer line stays under the console's 2048 bytes)
ZERO = "0" * 64
ESP32_PYSTONES = 1660  # MicroPython on an ESP32 at 240 MHz (published figure used across the project)


class EvidenceError(Exception):
    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


# --- where the chunks come from ----------------------------------------------------------------------

class FlashSource:
    """A flash directory (the simulated board's), read with the firmware's own Store."""

    def __init__(self, flash_dir):
        root = os.path.join(flash_dir, ev.ROOT)
        if not os.path.isdir(root):
            raise EvidenceError("no evidence in %s (no %s/ directory)" % (flash_dir, ev.ROOT), 2)
        self.store = ev.Store(root=root)
        self.name = "flash %s" % flash_dir

    def list(self):
        return self.store.list()

    def chunks(self, rec):
        return self.store.chunks(rec)

    def read(self, rec, index, offset, n):
        return self.store.read(rec, index, offset, n)

    def mark_exported(self, rec, head):
        return self.store.mark_exported(rec, head)

    def close(self):
        pass


class ConsoleSource:
    """The button's technician console over its serial port (firmware/console/commands.py, `AB1 evidence`)."""

    def __init__(self, port, pin=None, timeout=5.0, keep_unlocked=False):
        try:
            from alertbutton.device.technician import Device, DeviceError
        except ImportError as e:
            raise EvidenceError("the console client is unavailable: %s" % e, 2)
        from alertbutton.device.technician import _ask
        self._err = DeviceError
        self.name = "port %s" % port
        self.keep_unlocked = keep_unlocked
        try:
            self.dev = Device(port, timeout=timeout)
            pin = pin or os.environ.get("ALERTBUTTON_PIN")
            if pin is None:
                pin = _ask("Technician PIN: ")  # no terminal: says to give --pin
            self.dev.call("unlock " + pin)
        except DeviceError as e:
            raise EvidenceError(str(e), e.status)

    def call(self, cmd):
        try:
            return self.dev.call(cmd)
        except self._err as e:
            raise EvidenceError("%s: %s" % (cmd.split()[1] if " " in cmd else cmd, e), e.status)

    def list(self):
        return self.call("evidence list")["recordings"]

    def chunks(self, rec):
        return self.call("evidence chunks %d" % rec)["chunks"]

    def read(self, rec, index, offset, n):
        import base64
        return base64.b64decode(self.call("evidence read %d %d %d %d" % (rec, index, offset, n))["data"])

    def mark_exported(self, rec, head):
        return bool(self.call("evidence exported %d %s" % (rec, head)).get("ok"))

    def close(self):
        try:
            if not self.keep_unlocked:  # what this command unlocked is locked again (issue 19)
                self.dev.call("lock")
        except self._err:
            pass
        self.dev.close()


def open_source(args):
    """--flash DIR, or the button on --port (before or after the command) or $ALERTBUTTON_PORT."""
    port = getattr(args, "port", None)
    flash = getattr(args, "flash", None)
    if port and flash:
        raise EvidenceError("give either --port PORT (the button) or --flash DIR (a simulated board's flash)", 2)
    if flash:
        return FlashSource(flash)
    port = port or os.environ.get("ALERTBUTTON_PORT")
    if not port:
        raise EvidenceError("no button given: --port PORT (or $ALERTBUTTON_PORT), or --flash DIR (a simulated "
                            "board's flash)", 2)
    return ConsoleSource(port, getattr(args, "pin", None), keep_unlocked=getattr(args, "keep_unlocked", False))


# --- formatting helpers --------------------------------------------------------------------------------

def iso(ms):
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def map_links(pos):
    lat, lon = "%.5f" % pos["lat"], "%.5f" % pos["lon"]
    return {"osm": "https://www.openstreetmap.org/?mlat=%s&mlon=%s#map=17/%s/%s" % (lat, lon, lat, lon),
            "google": "https://maps.google.com/?q=%s,%s" % (lat, lon)}


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_wav(path, samples, rate):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<%dh" % len(samples), *samples))


def read_wav(path):
    with wave.open(path, "rb") as w:
        n = w.getnframes()
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("not 16-bit mono")
        return list(struct.unpack("<%dh" % n, w.readframes(n))), w.getframerate()


class Progress:
    def __init__(self, total, label, stream=sys.stderr, width=30):
        self.total = max(1, total)
        self.label = label
        self.stream = stream
        self.width = width
        self.done = 0
        self._last = 0.0

    def add(self, n):
        self.done += n
        if not self.stream.isatty():  # a log file gets one line at the end, not hundreds of redraws
            return
        now = time.monotonic()
        if now - self._last > 0.1 or self.done >= self.total:
            self._last = now
            f = min(1.0, self.done / self.total)
            bar = "#" * int(f * self.width) + "." * (self.width - int(f * self.width))
            self.stream.write("\r%s [%s] %3d%% %d/%d KB" % (self.label, bar, f * 100, self.done // 1024,
                                                              self.total // 1024))
            self.stream.flush()

    def end(self):
        if not self.stream.isatty():
            self.stream.write("%s: %d KB read\n" % (self.label, self.done // 1024))
        else:
            self.stream.write("\n")
        self.stream.flush()


# --- the manifest: everything in it is derived from the chunk files --------------------------------------

def chunk_entry(name, data, p):
    samples = ima_adpcm.decode(ev.audio(data), p["block_bytes"])
    e = {"index": p["index"], "file": "chunks/" + name, "bytes": len(data), "sha256": p["sha256"],
         "prev_sha256": p["prev_sha256"], "alert": p["alert"], "prealert": p["prealert"], "final": p["final"],
         "interrupted": p["interrupted"], "gap": p["gap"], "lost_blocks": p["lost_blocks"],
         "flash_full": p["flash_full"], "start_utc": iso(p["start_utc_ms"]), "start_utc_ms": p["start_utc_ms"],
         "offset_ms": p["offset_ms"], "start_ticks_ms": p["start_ticks_ms"], "samples": p["samples"],
         "duration_s": round(p["samples"] / float(p["sample_rate"]), 3), "sample_rate": p["sample_rate"],
         "codec": p["codec"], "position": p["position"],
         "map": map_links(p["position"]) if p["position"] else None,
         "wav": "audio/" + name[:-4] + ".wav"}
    return e, samples


def build_manifest(names, datas, exported_from=None, device_listing=None):
    """(manifest, per-chunk samples) for the chunk files in chain order."""
    entries, audio = [], []
    for name, data in zip(names, datas):
        p = ev.parse(data)
        e, samples = chunk_entry(name, data, p)
        entries.append(e)
        audio.append(samples)
    first = ev.parse(datas[0]) if datas else None
    m = {"format": FORMAT, "device_id": first["device"] if first else None,
         "recording": first["recording"] if first else None,
         "alerts": sorted(set(e["alert"] for e in entries)),
         "chunks": entries, "chain_head": entries[-1]["sha256"] if entries else None,
         "complete": bool(entries) and entries[-1]["final"],
         "duration_s": round(sum(e["duration_s"] for e in entries), 3),
         "exported_at": iso(int(time.time() * 1000)), "exported_from": exported_from,
         "device_listing": device_listing}
    return m, audio


DERIVED = ("index", "bytes", "sha256", "prev_sha256", "alert", "prealert", "final", "interrupted", "gap",
           "lost_blocks", "flash_full", "start_utc", "start_utc_ms", "offset_ms", "start_ticks_ms", "samples",
           "duration_s", "sample_rate", "codec", "position", "map", "wav")


# --- export --------------------------------------------------------------------------------------------

def fresh_dir(out_dir, name):
    """A new folder out_dir/name, or name-2, name-3... when an earlier export is there: an export never
    writes into another (its manifest's SHA-256, written down then, must still verify)."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise EvidenceError("--out %s is a file: give a folder (it is created if missing)" % out_dir, 2)
    os.makedirs(out_dir, exist_ok=True)
    for k in range(1, 10000):
        d = os.path.join(out_dir, name if k == 1 else "%s-%d" % (name, k))
        try:
            os.mkdir(d)
            return d
        except FileExistsError:
            continue
    raise EvidenceError("%s: 9999 exports of %s already: give another --out" % (out_dir, name), 2)


def export_recording(src, rec, out_dir, progress=True, mark=True, partial=False, listing=None):
    """Export one recording; returns (directory, problems found by verifying the result)."""
    chunks = src.chunks(rec)
    if not chunks:
        raise EvidenceError("recording %d has no closed chunk yet" % rec)
    d = fresh_dir(out_dir, "r%05d" % rec)
    os.makedirs(os.path.join(d, "chunks"))
    os.makedirs(os.path.join(d, "audio"))
    bar = Progress(sum(c["size"] for c in chunks), "recording %d" % rec) if progress else None
    names, datas = [], []
    for c in chunks:
        buf = bytearray()
        while len(buf) < c["size"]:
            piece = src.read(rec, c["index"], len(buf), min(PIECE, c["size"] - len(buf)))
            if not piece:
                break
            buf += piece
            if bar:
                bar.add(len(piece))
        if len(buf) != c["size"]:
            raise EvidenceError("chunk %d of recording %d: read %d of %d bytes" % (c["index"], rec, len(buf), c["size"]))
        with open(os.path.join(d, "chunks", c["file"]), "wb") as f:
            f.write(buf)
        names.append(c["file"])
        datas.append(bytes(buf))
    if bar:
        bar.end()
    m, audio = build_manifest(names, datas, src.name, listing)
    if not m["complete"] and not partial:
        sys.stderr.write("warning: recording %d has no final chunk yet (still recording, or interrupted)\n" % rec)
    rate = m["chunks"][0]["sample_rate"]
    for e, samples in zip(m["chunks"], audio):
        write_wav(os.path.join(d, e["wav"]), samples, rate)
        e["wav_sha256"] = sha256_file(os.path.join(d, e["wav"]))
    write_wav(os.path.join(d, "recording.wav"), [s for a in audio for s in a], rate)
    m["recording_wav"] = {"file": "recording.wav", "sha256": sha256_file(os.path.join(d, "recording.wav"))}
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(m, f, indent=1, sort_keys=True)
    problems = verify(d)
    with open(os.path.join(d, "report.html"), "w") as f:
        f.write(report_html(m, problems, sha256_file(os.path.join(d, "manifest.json"))))
    if mark and not problems and m["complete"]:
        m_ok = src.mark_exported(rec, m["chain_head"])
        if not m_ok:
            problems.append("the device did not confirm the chain head %s: it was NOT marked exported" % m["chain_head"])
    return d, problems


# --- verify --------------------------------------------------------------------------------------------

def verify(d, head=None, manifest_sha=None):
    """Problems (list of sentences) with the export in directory d; [] when everything checks.
    head / manifest_sha: values written down at export time (report.html shows both)."""
    problems = []
    if manifest_sha:
        try:
            if sha256_file(os.path.join(d, "manifest.json")) != manifest_sha.lower():
                problems.append("manifest modified: its SHA-256 is not the one written down at export")
        except OSError:
            pass
    try:
        with open(os.path.join(d, "manifest.json")) as f:
            m = json.load(f)
        entries = m["chunks"]
        if m.get("format") != FORMAT or not isinstance(entries, list):
            raise ValueError("unknown format")
    except (OSError, ValueError, KeyError, TypeError) as e:
        return ["manifest.json missing or unreadable (%s): the export cannot be checked" % e]
    cdir = os.path.join(d, "chunks")
    files = sorted(n for n in (os.listdir(cdir) if os.path.isdir(cdir) else []) if n.endswith(".evc"))
    data, parsed, sha = {}, {}, {}
    for n in files:
        with open(os.path.join(cdir, n), "rb") as f:
            data[n] = f.read()
        sha[n] = hashlib.sha256(data[n]).hexdigest()
        try:
            parsed[n] = ev.parse(data[n])
        except ValueError as e:
            parsed[n] = None
            problems.append("chunks/%s is modified or damaged: not a valid chunk (%s)" % (n, e))
    by_sha = {sha[n]: n for n in files}
    listed = {}
    for k, e in enumerate(entries):
        name = os.path.basename(str(e.get("file", "")))
        listed[name] = e
        if name not in data:
            problems.append("chunk %s (chunks/%s) was removed: the file is missing" % (e.get("index", k), name))
    for n in files:
        if n not in listed:
            what = "chunk %d" % parsed[n]["index"] if parsed.get(n) else "a file"
            problems.append("chunks/%s (%s) was inserted: it is not in the manifest" % (n, what))

    # Walk the hash chain backwards from its anchor: the kept head, else the manifest's.
    anchor = head or m.get("chain_head")
    if head and m.get("chain_head") != head:
        problems.append("manifest modified: its chain_head %s differs from the head kept at export %s" %
                        (str(m.get("chain_head"))[:16], head[:16]))
    chain, seen = [], set()
    cur = by_sha.get(anchor)
    if cur is None:
        problems.append("the last chunk (SHA-256 %s...) was modified or removed: no file has that hash" %
                        str(anchor)[:16])
        good = [n for n in files if parsed.get(n)]
        cur = max(good, key=lambda n: parsed[n]["index"]) if good else None
    while cur is not None and cur not in seen:
        seen.add(cur)
        chain.append(cur)
        p = parsed.get(cur)
        if p is None or p["prev_sha256"] == ZERO:
            break
        nxt = by_sha.get(p["prev_sha256"])
        if nxt is None:
            want = p["index"] - 1
            same = [n for n in files if parsed.get(n) and parsed[n]["index"] == want and n not in seen]
            if same:
                problems.append("chunk %d (chunks/%s) was modified: its SHA-256 is %s..., chunk %d (chunks/%s) "
                                "recorded %s..." % (want, same[0], sha[same[0]][:16], p["index"], cur,
                                                    p["prev_sha256"][:16]))
                nxt = same[0]
            else:
                problems.append("chunk %d was removed: chunk %d (chunks/%s) links to SHA-256 %s... that no file has"
                                % (want, p["index"], cur, p["prev_sha256"][:16]))
                lower = [n for n in files if parsed.get(n) and parsed[n]["index"] < want and n not in seen]
                nxt = max(lower, key=lambda n: parsed[n]["index"]) if lower else None
        cur = nxt
    chain.reverse()
    if chain and parsed.get(chain[0]) and (parsed[chain[0]]["index"] != 0 or parsed[chain[0]]["prev_sha256"] != ZERO):
        problems.append("the chain does not start at chunk 0: chunks before chunk %d (chunks/%s) were removed" %
                        (parsed[chain[0]]["index"], chain[0]))
    on_chain = set(chain)
    for n in files:
        if n not in on_chain and n in listed and parsed.get(n) and sha[n] == listed[n].get("sha256"):
            problems.append("chunks/%s (chunk %d) was inserted: it is not linked into the hash chain" %
                            (n, parsed[n]["index"]))
    first = parsed.get(chain[0]) if chain else None
    for n in chain:
        p = parsed.get(n)
        if p is None or first is None:
            continue
        if n != "c%04d.evc" % p["index"]:
            problems.append("chunks were reordered: chunks/%s holds chunk %d" % (n, p["index"]))
        if (p["device"], p["recording"]) != (first["device"], first["recording"]):
            problems.append("chunks/%s (chunk %d) was inserted: it belongs to device %s recording %d" %
                            (n, p["index"], p["device"], p["recording"]))
    if chain and parsed.get(chain[-1]) and not parsed[chain[-1]]["final"]:
        problems.append("the recording ends without its final chunk after chunk %d (chunks/%s): later chunks were "
                        "removed, or it was exported before the recording ended" % (parsed[chain[-1]]["index"], chain[-1]))

    # The manifest must say exactly what the chunk files say.
    if [e.get("index") for e in entries] != list(range(len(entries))):
        problems.append("manifest modified: its chunks are not listed in order 0..%d (%s)" %
                        (len(entries) - 1, [e.get("index") for e in entries]))
    if chain and m.get("chain_head") != sha[chain[-1]] and not head:
        problems.append("manifest modified: chain_head is not the hash of the last chunk")
    for e in entries:
        name = os.path.basename(str(e.get("file", "")))
        if name not in data or parsed.get(name) is None:
            continue
        if sha[name] != e.get("sha256"):
            other = [x for x in entries if x.get("sha256") == sha[name]]
            if other:
                problems.append("chunks were reordered: chunks/%s has the content of chunk %s" % (name, other[0].get("index")))
            else:
                problems.append("chunk %s (chunks/%s) was modified: its SHA-256 is %s..., the manifest says %s..." %
                                (e.get("index"), name, sha[name][:16], str(e.get("sha256"))[:16]))
            continue
        want, samples = chunk_entry(name, data[name], parsed[name])
        for k in DERIVED:
            if e.get(k) != want[k]:
                problems.append("manifest modified: chunk %s field %r says %r, the chunk says %r" %
                                (e.get("index"), k, e.get(k), want[k]))
        wav = os.path.join(d, want["wav"])
        try:
            got, rate = read_wav(wav)
            if got != samples or rate != want["sample_rate"]:
                problems.append("%s does not match chunk %s (modified)" % (want["wav"], e.get("index")))
            elif e.get("wav_sha256") != sha256_file(wav):
                problems.append("manifest modified: chunk %s field 'wav_sha256' is not the hash of %s" %
                                (e.get("index"), want["wav"]))
        except (OSError, ValueError, EOFError, wave.Error):
            problems.append("%s is missing or unreadable" % want["wav"])
    if first:
        ok = [e for e in entries if parsed.get(os.path.basename(str(e.get("file", ""))))]
        derived = {"device_id": first["device"], "recording": first["recording"],
                   "alerts": sorted(set(parsed[n]["alert"] for n in chain if parsed.get(n))),
                   "complete": bool(chain) and bool(parsed.get(chain[-1])) and parsed[chain[-1]]["final"],
                   "duration_s": round(sum(e.get("duration_s", 0) for e in ok), 3)}
        for k in ("device_id", "recording", "alerts", "complete", "duration_s"):
            if m.get(k) != derived[k]:
                problems.append("manifest modified: %s says %r, the chunks say %r" % (k, m.get(k), derived[k]))
    rw = m.get("recording_wav") or {}
    if os.path.exists(os.path.join(d, "recording.wav")) and rw.get("sha256") != sha256_file(os.path.join(d, "recording.wav")):
        problems.append("recording.wav was modified (its SHA-256 differs from the manifest)")
    return _unique(problems)


def _unique(items):
    out = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


# --- bench: encoder cost in the VM, with the VM's pystones in the same run ---------------------------------

BENCH_CODE = r"""
import sys, time, math
from array import array
from firmware.core import ima_adpcm as A
from drivers.inmp441 import _to_pcm16
secs = float(sys.argv[1])
nb = int(secs * 8000) // 505 + 1
pcm = bytearray(array("h", (int(9000 * math.sin(i * 0.031) + 3000 * math.sin(i * 0.37)) for i in range(505))))
raw = bytearray(505 * 4)
out = bytearray(256)
st = A.new_state()
enc = conv = None
for rep in range(5):
    t = time.ticks_us()
    for b in range(nb):
        st[1] = 0
        st[2] = 0
        A.encode_block(pcm, out, st)
    dt = time.ticks_diff(time.ticks_us(), t)
    enc = dt if enc is None or dt < enc else enc
    t = time.ticks_us()
    for b in range(nb):
        _to_pcm16(raw, pcm, 505, 14)
    dt = time.ticks_diff(time.ticks_us(), t)
    conv = dt if conv is None or dt < conv else conv
try:
    import pystone
    ps = max(pystone.main(20000) for _ in range(3))
except ImportError:
    ps = 0
print("BENCH", enc, nb, ps, conv)
"""


def bench(seconds=10.0):
    here = os.path.dirname(os.path.abspath(pystone.__file__))  # pystone.py, imported by BENCH_CODE
    p = vm.run(code=BENCH_CODE, args=(str(seconds),), extra_path=(here,), timeout=300)
    line = [x for x in p.stdout.splitlines() if x.startswith("BENCH ")]
    if not line:
        raise EvidenceError("bench failed in the VM: %s" % (p.stdout + p.stderr)[-500:])
    us, nb, ps, conv = (float(v) for v in line[0].split()[1:])
    audio_s = nb * ima_adpcm.BLOCK_SAMPLES / 8000.0
    r = {"vm_us_per_audio_s": us / audio_s, "vm_convert_us_per_audio_s": conv / audio_s, "blocks": int(nb),
         "audio_s": round(audio_s, 2), "vm_pystones": ps}
    if ps:
        scale = ps / ESP32_PYSTONES
        r["esp32_ms_per_audio_s"] = us / audio_s * scale / 1000.0
        r["esp32_core_percent"] = r["esp32_ms_per_audio_s"] / 10.0
        r["esp32_convert_core_percent"] = conv / audio_s * scale / 1000.0 / 10.0
    return r


# --- CLI ------------------------------------------------------------------------------------------------

def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    for name, help_text in (("list", "the recordings on the button"), ("export", "copy recordings to a directory")):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("--port", default=argparse.SUPPRESS,
                       help="the button's serial port (technician console; or the global --port, or $ALERTBUTTON_PORT)")
        s.add_argument("--pin", help="technician PIN (else $ALERTBUTTON_PIN, else asked)")
        s.add_argument("--flash", help="a flash directory instead of a device (e.g. OUT/flash of `alertbutton sim`)")
        if name == "export":
            s.add_argument("--out", required=True, help="output directory")
            s.add_argument("--rec", type=int, action="append", help="only this recording (repeatable)")
            s.add_argument("--no-mark", action="store_true", help="do not mark the recordings exported on the device")
            s.add_argument("--quiet", action="store_true", help="no progress bar")
    s = sub.add_parser("verify", help="check an exported recording (or a directory of them)")
    s.add_argument("dir")
    s.add_argument("--head", help="the chain head SHA-256 written down at export time")
    s.add_argument("--manifest-sha", help="the manifest.json SHA-256 written down at export time")
    s = sub.add_parser("bench", help="IMA-ADPCM encoder cost in the VM, scaled to an ESP32 by pystones")
    s.add_argument("--seconds", type=float, default=10.0)


def run(args):
    try:
        if args.action == "verify":
            return cmd_verify(args)
        if args.action == "bench":
            r = bench(args.seconds)
            print(json.dumps(r))
            if "esp32_core_percent" in r:
                print("IMA-ADPCM encoder: %.1f us per second of 8 kHz audio in the VM (%d pystones/s); "
                      "~%.1f ms/s on an ESP32 at 240 MHz (%d pystones/s) = %.2f%% of one core (target <= 5%%); "
                      "mic 32->16-bit conversion %.2f%% more" %
                      (r["vm_us_per_audio_s"], r["vm_pystones"], r["esp32_ms_per_audio_s"], ESP32_PYSTONES,
                       r["esp32_core_percent"], r["esp32_convert_core_percent"]))
            return 0
        if args.action not in ("list", "export"):
            print("usage: alertbutton evidence list|export|verify|bench (see --help)", file=sys.stderr)
            return 2
        src = open_source(args)
        try:
            recs = src.list()
            if args.action == "list":
                return cmd_list(recs)
            return cmd_export(src, recs, args)
        finally:
            src.close()
    except EvidenceError as e:
        print("error: %s" % e, file=sys.stderr)
        return e.status


def cmd_list(recs):
    if not recs:
        print("no recordings")
        return 0
    print("rec  chunks   bytes  start (UTC)               state      exported  head")
    for r in recs:
        state = "recording" if r.get("active") else ("complete" if r.get("final") else "UNFINISHED")
        print("%3d  %6d  %6d  %-24s  %-9s  %-8s  %s" % (r["rec"], r["chunks"], r["bytes"],
                                                      iso(r.get("start_utc_ms")) or "-", state,
                                                      "yes" if r.get("exported") else "no", (r.get("head") or "-")[:16]))
    return 0


def cmd_export(src, recs, args):
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise EvidenceError("--out %s is a file: give a folder (it is created if missing)" % args.out, 2)
    wanted = [r for r in recs if not args.rec or r["rec"] in args.rec]
    if args.rec:
        missing = set(args.rec) - set(r["rec"] for r in wanted)
        if missing:
            raise EvidenceError("no recording %s on %s" % (sorted(missing), src.name), 2)
    if not wanted:
        print("no recordings to export")
        return 0
    bad = 0
    for r in wanted:
        if r.get("active"):
            print("recording %d is still being recorded: skipped (export it when it ends)" % r["rec"])
            continue
        d, problems = export_recording(src, r["rec"], args.out, progress=not args.quiet, mark=not args.no_mark,
                                       listing=r)
        with open(os.path.join(d, "manifest.json")) as f:
            head = json.load(f)["chain_head"]
        print("recording %d -> %s (chain head %s)" % (r["rec"], d, head))
        for p in problems:
            print("  PROBLEM: %s" % p)
        bad += bool(problems)
    return 1 if bad else 0


def recording_dirs(d):
    if os.path.exists(os.path.join(d, "manifest.json")):
        return [d]
    return sorted(os.path.join(d, n) for n in os.listdir(d) if os.path.exists(os.path.join(d, n, "manifest.json")))


def cmd_verify(args):
    if not os.path.isdir(args.dir):
        raise EvidenceError("%s is not a directory" % args.dir, 2)
    dirs = recording_dirs(args.dir)
    if not dirs:
        print("%s: no manifest.json found" % args.dir)
        return 1
    bad = 0
    for d in dirs:
        problems = verify(d, args.head, args.manifest_sha)
        if problems:
            bad += 1
            print("%s: %d PROBLEM(S)" % (d, len(problems)))
            for p in problems:
                print("  - %s" % p)
        else:
            with open(os.path.join(d, "manifest.json")) as f:
                m = json.load(f)
            print("%s: OK, %d chunks, %.1f s, chain head %s" % (d, len(m["chunks"]), m["duration_s"], m["chain_head"]))
    return 1 if bad else 0
