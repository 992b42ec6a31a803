"""`alertbutton evidence list|export|verify|bench`: the button's sound evidence on the host.

    alertbutton evidence list   --port PORT [--pin PIN] | --flash DIR
    alertbutton evidence export --port PORT [--pin PIN] | --flash DIR  --out DIR [--rec N ...]
                                [--association-key FILE] [--device-key KEY]
    alertbutton evidence verify DIR [--anchor A ...] [--head SHA256 ...] [--device-key KEY]
                                [--association-key FILE] [--manifest-sha SHA256]
    alertbutton evidence bench  [--seconds S]

--port talks to the button's technician console (`AB1 evidence ...`, PIN required); --flash reads a
flash directory directly (the simulated board's OUT/flash after `alertbutton sim`).

An export writes, per recording, a BagIt bag DIR/<device id>-rNNNNN (never into an existing folder):
data/chunks/*.evc (the plaintext chunks: the device's files, or opened from its sealed files with the
association key), data/sealed/*.evs and data/heads.abh (the device's sealed files and signed heads,
byte for byte), data/audio/*.wav and data/recording.wav, manifest.json and report.html (tag files).
`verify` re-derives everything from the chunks, opens the sealed files, checks the signed heads and any
anchor given (seal.py, anchors.py), and says which chunks each anchor covers. Chunk parsing and ADPCM
decoding are the firmware's own modules; the sealed format and signatures are read with PyNaCl from
the spec (docs/evidence.md), independently of the device's code.

Exit status: 0 done / verified with every chunk anchored, 1 problems found (or the device refused),
2 usage, 3 no device, 6 verified intact but not every chunk anchored."""
import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import time
import wave

import bagit

from alertbutton import pystone, vm
from alertbutton.evidence import anchors as anchor_mod, seal
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
    """A flash directory (the simulated board's), read with the firmware's own Store; sealed chunk files
    (.evs) and the signed heads file are read directly (the host reads them from the spec)."""

    def __init__(self, flash_dir):
        root = os.path.join(flash_dir, ev.ROOT)
        if not os.path.isdir(root):
            raise EvidenceError("no evidence in %s (no %s/ directory)" % (flash_dir, ev.ROOT), 2)
        self.store = ev.Store(root=root)
        self.name = "flash %s" % flash_dir

    def list(self):
        out = self.store.list()
        for r in out:
            if not r["chunks"]:
                sealed = self._sealed(r["rec"])
                r["chunks"], r["bytes"] = len(sealed), sum(c["size"] for c in sealed)
        return out

    def _sealed(self, rec):
        d = self.store.path(rec)
        names = sorted(n for n in os.listdir(d) if n.startswith("c") and n.endswith(".evs"))
        return [{"index": int(n[1:5]), "file": n, "size": os.path.getsize(os.path.join(d, n))} for n in names]

    def chunks(self, rec):
        return self.store.chunks(rec) or self._sealed(rec)

    def read(self, rec, index, offset, n):
        sealed = self.store.path(rec, "c%04d.evs" % index)
        if not os.path.exists(sealed):
            return self.store.read(rec, index, offset, n)
        with open(sealed, "rb") as f:
            f.seek(offset)
            return f.read(n)

    def heads(self, rec):
        try:
            with open(self.store.path(rec, "heads.abh"), "rb") as f:
                return f.read()
        except OSError:
            return None

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
        r = self.call("evidence chunks %d" % rec)
        self._heads_bytes = getattr(self, "_heads_bytes", {})
        self._heads_bytes[rec] = r.get("heads_bytes")  # None: a firmware without signed heads
        return r["chunks"]

    def read(self, rec, index, offset, n):
        import base64
        return base64.b64decode(self.call("evidence read %d %d %d %d" % (rec, index, offset, n))["data"])

    def heads(self, rec):
        """The signed heads file, read like a chunk (`evidence read REC -1 OFFSET N`); None when the
        button has none for this recording (older firmware, or no chunk closed)."""
        size = getattr(self, "_heads_bytes", {}).get(rec)
        if size is None:
            size = self.call("evidence chunks %d" % rec).get("heads_bytes")
        if not size:
            return None
        buf = bytearray()
        while len(buf) < size:
            piece = self.read(rec, -1, len(buf), min(PIECE, size - len(buf)))
            if not piece:
                break
            buf += piece
        if len(buf) != size:
            raise EvidenceError("the signed heads of recording %d: read %d of %d bytes" % (rec, len(buf), size))
        return bytes(buf)

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

def chunk_entry(name, data, p, prefix=""):
    samples = ima_adpcm.decode(ev.audio(data), p["block_bytes"])
    e = {"index": p["index"], "file": prefix + "chunks/" + name, "bytes": len(data), "sha256": p["sha256"],
         "prev_sha256": p["prev_sha256"], "alert": p["alert"], "prealert": p["prealert"], "final": p["final"],
         "interrupted": p["interrupted"], "gap": p["gap"], "lost_blocks": p["lost_blocks"],
         "flash_full": p["flash_full"], "start_utc": iso(p["start_utc_ms"]), "start_utc_ms": p["start_utc_ms"],
         "offset_ms": p["offset_ms"], "start_ticks_ms": p["start_ticks_ms"], "samples": p["samples"],
         "duration_s": round(p["samples"] / float(p["sample_rate"]), 3), "sample_rate": p["sample_rate"],
         "codec": p["codec"], "position": p["position"],
         "map": map_links(p["position"]) if p["position"] else None,
         "wav": prefix + "audio/" + name[:-4] + ".wav"}
    return e, samples


def build_manifest(names, datas, exported_from=None, device_listing=None, prefix=""):
    """(manifest, per-chunk samples) for the chunk files in chain order."""
    entries, audio = [], []
    for name, data in zip(names, datas):
        p = ev.parse(data)
        e, samples = chunk_entry(name, data, p, prefix)
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
# manifest fields that nothing in the chunks can check (the report says so)
NOT_VERIFIED = ("exported_at", "exported_from", "device_listing", "export_verdict")


# --- export --------------------------------------------------------------------------------------------

def folder_name(device_hex, rec):
    return "%s-r%05d" % (device_hex, rec)


def read_recording(src, rec, progress=True):
    """[(name, bytes)] of the recording's closed chunk files, as the device holds them."""
    chunks = src.chunks(rec)
    if not chunks:
        raise EvidenceError("recording %d has no closed chunk yet" % rec)
    bar = Progress(sum(c["size"] for c in chunks), "recording %d" % rec) if progress else None
    out = []
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
        out.append((c["file"], bytes(buf)))
    if bar:
        bar.end()
    return out


def unseal_all(files, rec, association):
    """Plaintext chunks [(name.evc, bytes)] from sealed files [(name.evs, bytes)] with the association key."""
    if association is None:
        raise EvidenceError("recording %d is sealed to the association: give --association-key FILE (the key "
                            "made by `alertbutton keys association new`)" % rec, 2)
    out = []
    for name, data in files:
        try:
            plain, _info = seal.unseal(data, association[0], association[1])
        except seal.SealError as e:
            raise EvidenceError("recording %d, %s cannot be opened: %s" % (rec, name, e))
        out.append((name[:-4] + ".evc", plain))
    return out


def export_recording(src, rec, out_dir, progress=True, mark=True, partial=False, listing=None, association=None,
                     device_key=None):
    """Export one recording as a BagIt bag OUT/<device>-rNNNNN; returns (directory, problems found by
    verifying the result). An existing folder is never written into."""
    files = read_recording(src, rec, progress)
    sealed = [f for f in files if f[0].endswith(".evs")]
    if sealed and len(sealed) != len(files):
        raise EvidenceError("recording %d mixes sealed and plaintext chunk files: export it with a firmware "
                            "that knows both" % rec)
    plain = unseal_all(sealed, rec, association) if sealed else files
    try:
        first = ev.parse(plain[0][1])
    except ValueError as e:
        raise EvidenceError("recording %d: its first chunk is not a valid chunk (%s)" % (rec, e))
    name = folder_name(first["device"], rec)
    final_dir = os.path.join(out_dir, name)
    if os.path.lexists(final_dir):
        raise EvidenceError("%s already exists: an export is never written into. Check it with `alertbutton "
                            "evidence verify %s`, or give another --out for a second copy" % (final_dir, final_dir), 2)
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + name + ".partial-", dir=out_dir)
    try:
        problems = _write_bag(tmp, src, rec, files, plain, sealed, listing, association, device_key)
        if os.path.lexists(final_dir):
            raise EvidenceError("%s appeared during the export: nothing was written into it; the export is left "
                                "in %s" % (final_dir, tmp))
        os.rename(tmp, final_dir)
    except BaseException:
        if os.path.isdir(tmp) and not os.path.lexists(final_dir):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    problems = examine(final_dir, association=association, device_key=device_key)["problems"]
    m = load_manifest(final_dir)
    if not m["complete"] and not partial:
        sys.stderr.write("warning: recording %d has no final chunk yet (still recording, or interrupted)\n" % rec)
    if mark and not problems and m["complete"]:  # only what verified, as written in its final place
        if not src.mark_exported(rec, m["chain_head"]):
            problems.append("the device did not confirm the chain head %s: it was NOT marked exported" % m["chain_head"])
    return final_dir, problems


def _write_bag(d, src, rec, files, plain, sealed, listing, association, device_key):
    for sub in ("chunks", "audio") + (("sealed",) if sealed else ()):
        os.makedirs(os.path.join(d, sub))
    for n, data in plain:
        with open(os.path.join(d, "chunks", n), "wb") as f:
            f.write(data)
    for n, data in sealed:
        with open(os.path.join(d, "sealed", n), "wb") as f:
            f.write(data)
    heads = getattr(src, "heads", lambda r: None)(rec)
    if heads is not None:
        with open(os.path.join(d, "heads.abh"), "wb") as f:
            f.write(heads)
    m, audio = build_manifest([n for n, _ in plain], [b for _, b in plain], src.name, listing, prefix="data/")
    rate = m["chunks"][0]["sample_rate"]
    for e, samples in zip(m["chunks"], audio):
        write_wav(os.path.join(d, e["wav"][5:]), samples, rate)
    write_wav(os.path.join(d, "recording.wav"), [s for a in audio for s in a], rate)
    bagit.make_bag(d, {"Source-Organization": "alertbutton evidence export",
                       "External-Description": "Sound evidence of device %s, recording %d (chunks/ are the "
                                               "device's files; see report.html and docs/evidence.md)"
                                               % (m["device_id"], rec)}, checksums=["sha256"])
    for e in m["chunks"]:
        e["wav_sha256"] = sha256_file(os.path.join(d, e["wav"]))
        if sealed:
            e["sealed"] = "data/sealed/" + e["file"].rsplit("/", 1)[1][:-4] + ".evs"
            e["sealed_sha256"] = sha256_file(os.path.join(d, e["sealed"]))
    m["recording_wav"] = {"file": "data/recording.wav", "sha256": sha256_file(os.path.join(d, "data", "recording.wav"))}
    m["heads_file"] = ({"file": "data/heads.abh", "sha256": sha256_file(os.path.join(d, "data", "heads.abh"))}
                       if heads is not None else None)
    m["sealed"] = bool(sealed)
    m["not_verified"] = list(NOT_VERIFIED)
    m["export_verdict"] = []
    write_manifest(d, m)
    r = examine(d, association=association, device_key=device_key, check_report=False, check_bag=False)
    m["export_verdict"] = {k: r[k] for k in ("problems", "coverage", "claims", "notes")}
    write_manifest(d, m)
    with open(os.path.join(d, "report.html"), "w") as f:
        f.write(report_html(m, sha256_file(os.path.join(d, "manifest.json"))))
    bagit.Bag(d).save()  # the tag manifest now covers manifest.json and report.html
    return r["problems"]


def write_manifest(d, m):
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(m, f, indent=1, sort_keys=True)


def load_manifest(d):
    with open(os.path.join(d, "manifest.json")) as f:
        return json.load(f)


# --- verify --------------------------------------------------------------------------------------------

def verify(d, head=None, manifest_sha=None, **kw):
    """Problems (list of sentences) with the export in directory d; [] when everything checks.
    head / manifest_sha: values written down at export time (report.html shows both)."""
    return examine(d, head=head, manifest_sha=manifest_sha, **kw)["problems"]


def _chain_and_manifest(d, head, manifest_sha):
    """The chain and manifest checks: (problems, state) where state has the parsed chunks."""
    problems = []
    bag = os.path.exists(os.path.join(d, "bagit.txt")) or os.path.isdir(os.path.join(d, "data"))
    prefix = "data/" if bag else ""
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
        if m.get("format") != FORMAT or not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError("unknown format")
    except (OSError, ValueError, KeyError, TypeError) as e:
        return ["manifest.json missing or unreadable (%s): the export cannot be checked" % e], None
    cdir = os.path.join(d, prefix + "chunks")
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
        want, samples = chunk_entry(name, data[name], parsed[name], prefix)
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
    rpath = os.path.join(d, prefix + "recording.wav")
    if os.path.exists(rpath) and rw.get("sha256") != sha256_file(rpath):
        problems.append("recording.wav was modified (its SHA-256 differs from the manifest)")
    if bag and rw.get("file") != prefix + "recording.wav":
        problems.append("manifest modified: recording_wav names %r" % rw.get("file"))
    if bag:
        all_audio = []
        for n in chain:
            if parsed.get(n):
                all_audio += ima_adpcm.decode(ev.audio(data[n]), parsed[n]["block_bytes"])
        try:
            got, _rate = read_wav(rpath)
            if got != all_audio:
                problems.append("recording.wav does not match the chunks' audio (modified)")
        except (OSError, ValueError, EOFError, wave.Error):
            problems.append("recording.wav is missing or unreadable")
    state = {"m": m, "bag": bag, "prefix": prefix, "files": files, "data": data, "parsed": parsed, "sha": sha,
             "chain": chain}
    return _unique(problems), state


CHUNK_KEYS = set(DERIVED) | {"file", "wav_sha256", "sealed", "sealed_sha256"}
TOP_KEYS = {"format", "device_id", "recording", "alerts", "chunks", "chain_head", "complete", "duration_s",
            "recording_wav", "heads_file", "sealed"} | set(NOT_VERIFIED) | {"not_verified"}


def examine(d, anchors=(), device_key=None, association=None, head=None, manifest_sha=None, check_report=True,
            check_bag=True, shared_anchors=False):
    """Everything `verify` can say about the export in d: {"problems": sentences (empty: nothing wrong),
    "coverage": what each anchor covers and what is unanchored, "claims": what the device asserts without
    proof (times, positions), "notes": what was not checked and why, "covered": highest chunk index
    covered by an anchor (-1: none), "last": last chunk index, "matched": the given anchors that match}.
    shared_anchors: the anchors are given for a folder of several recordings, so one that does not
    match this recording is a note here (the caller checks that each matched some recording)."""
    problems, st = _chain_and_manifest(d, head, manifest_sha)
    out = {"problems": problems, "coverage": [], "claims": [], "notes": [], "covered": -1, "last": -1, "matched": []}
    if st is None:
        return out
    m, prefix = st["m"], st["prefix"]
    parsed, sha, data = st["parsed"], st["sha"], st["data"]
    by_index = {}
    for n in st["files"]:
        if parsed.get(n):
            by_index.setdefault(parsed[n]["index"], n)
    last = max(by_index) if by_index else -1
    out["last"] = last
    # chunks 0..intact are all there and each links to the one before
    intact, prev = -1, ZERO
    for k in range(last + 1):
        n = by_index.get(k)
        if n is None or parsed[n]["prev_sha256"] != prev:
            break
        intact, prev = k, sha[n]
    dev, rec = m.get("device_id"), m.get("recording")

    _check_fields(m, st, problems)
    name = os.path.basename(os.path.normpath(d))
    if re.match(r"^[0-9a-f]{16}-r\d{5}$", name) and isinstance(rec, int) and name != folder_name(str(dev), rec):
        problems.append("the folder is named %s but holds device %s recording %s: it was renamed (it is not the "
                        "recording its name says)" % (name, dev, rec))
    _check_sealed(d, m, st, by_index, association, problems, out["notes"])
    found = list(anchors)
    hf = m.get("heads_file")
    hpath = os.path.join(d, prefix + "heads.abh")
    if os.path.exists(hpath):
        with open(hpath, "rb") as f:
            hdata = f.read()
        if not hf or hf.get("sha256") != hashlib.sha256(hdata).hexdigest():
            problems.append("heads.abh differs from the one exported (its SHA-256 is not the manifest's)")
        try:
            found += anchor_mod.parse_heads_file(hdata, device_key, "heads.abh")
        except ValueError as e:
            problems.append(str(e))
        if device_key is None:
            out["notes"].append("heads.abh holds signed heads; their signatures were NOT checked: give the button's "
                                "registered key with --device-key")
    elif hf:
        problems.append("heads.abh (the button's signed heads) was removed from the export")

    best, covered, given = {}, -1, list(anchors)
    final_signed = False

    def mismatch(a, sentence):
        if shared_anchors and a in given:
            out["notes"].append("not this recording's anchor: " + sentence)
        else:
            problems.append(sentence)
    for a in found:
        what = a.describe()
        if a.kind == "signed":
            if a.signed is not True:
                if device_key is not None:
                    problems.append("%s: %s." % (what, a.signed))
                continue
            if (a.device, a.recording) != (dev, rec):
                mismatch(a, "%s belongs to device %s recording %d, not to this export (device %s recording %s): "
                            "it vouches for nothing here" % (what, a.device, a.recording, dev, rec))
                continue
        if a.index is None:
            hit = [k for k, n in by_index.items() if a.matches(bytes.fromhex(sha[n]))]
            if not hit:
                mismatch(a, "%s matches no chunk of this export: the chunk it vouches for was altered or removed "
                            "(or the anchor is from another recording)" % what)
                continue
            k = hit[0]
        else:
            k = a.index
            n = by_index.get(k)
            if n is None:
                mismatch(a, "%s names chunk %d, which is not in the export: that chunk (and any after it) was "
                            "removed" % (what, k))
                continue
            if not a.matches(bytes.fromhex(sha[n])):
                mismatch(a, "chunk %d (%s) is not the chunk the %s vouches for: it was altered after its head "
                            "left the button" % (k, "chunks/" + n, what))
                continue
        if k > intact:
            problems.append("%s matches chunk %d, but the chain from chunk 0 to it is broken (see above): it "
                            "covers nothing before the break" % (what, k))
            continue
        if a.kind == "signed" and a.final:
            if k != last:
                problems.append("the button signed chunk %d as its FINAL chunk, but the export has chunks after it "
                                "(up to %d): they were added" % (k, last))
            else:
                final_signed = True
        if a in given:
            out["matched"].append(a)
        if a in given:  # each anchor given on the command line is reported; of the heads file, the best
            out["coverage"].append("chunks 0..%d are covered by the %s: none of them can have been changed since "
                                   "it left the button" % (k, what))
        elif k > best.get("k", -1):
            best = {"k": k, "what": what}
        covered = max(covered, k)
    out["covered"] = covered
    if best:
        out["coverage"].append("chunks 0..%d are covered by the %s: none of them can have been changed since it "
                               "left the button" % (best["k"], best["what"]))
    if last >= 0 and covered < last:
        out["coverage"].append("chunks %d..%d are NOT anchored: nothing kept outside this export vouches for them, "
                               "so whoever held the button or the export could have rewritten them consistently"
                               % (covered + 1, last))
    if device_key is not None and last >= 0 and not final_signed:
        problems.append("the end of the recording is not proven: no head signed by the button marks chunk %d as its "
                        "last chunk, so chunks after it may have been removed and the FINAL flag set on this one"
                        % last)
    if device_key is not None and final_signed:
        out["coverage"].append("the end of the recording is proven: the button signed chunk %d as its last" % last)
    for k in sorted(by_index):
        p = parsed[by_index[k]]
        t = ("its clock said %s" % iso(p["start_utc_ms"])) if p["start_utc_ms"] is not None else "no clock time"
        pos = p["position"]
        w = ("GNSS said %.5f, %.5f (+/-%d m)" % (pos["lat"], pos["lon"], pos["acc_m"])) if pos else "no position"
        out["claims"].append("chunk %d: %s; %s" % (k, t, w))
        note = _warmup_note(k, p, data[by_index[k]], problems)
        if note:
            out["notes"].append(note)
    if out["claims"]:
        out["notes"].append("times and positions are claims of the device, not proofs: an anchor or signature "
                            "proves the button wrote them, not that its clock or GNSS were right")
    if check_report:
        _check_report(d, m, problems)
    if check_bag:
        _check_bag(d, st, problems)
    out["problems"] = _unique(problems)
    return out


def _warmup_note(k, p, chunk, problems):
    """What chunk k says of the microphone's start-up silence (MIC_WARMUP, docs/evidence.md), checked
    against its audio: a sentence for the notes, or None."""
    w = p["mic_warmup_blocks"]
    if not p["mic_warmup"]:
        if w:
            problems.append("chunk %d counts %d start-up blocks in its trailer but its header has no MIC_WARMUP flag: "
                            "the chunk is inconsistent" % (k, w))
        return None
    if w > p["blocks"]:
        problems.append("chunk %d counts %d start-up blocks but holds %d: the chunk is inconsistent" % (k, w, p["blocks"]))
        return None
    if w == 0:  # closed at boot: the trailer rebuilt from the close marker has no count
        return ("chunk %d starts with silence by hardware (the microphone was waking); its length was not recorded: "
                "the chunk was closed at boot" % k)
    ms = w * p["block_samples"] * 1000 // p["sample_rate"]
    if any(ima_adpcm.decode(ev.audio(chunk)[:w * p["block_bytes"]], p["block_bytes"])):
        problems.append("chunk %d says its first %d ms are the microphone's start-up silence, but they hold sound"
                        % (k, ms))
    return ("chunk %d: the first %d ms are silence by hardware: the microphone was waking (it had been powered "
            "down)" % (k, ms))


def _check_fields(m, st, problems):
    for k in sorted(set(m) - TOP_KEYS):
        problems.append("manifest modified: field %r was added (nothing in the export vouches for it)" % k)
    if st["bag"] and m.get("not_verified") != list(NOT_VERIFIED):
        problems.append("manifest modified: its list of unverified fields says %r" % (m.get("not_verified"),))
    for e in m["chunks"]:
        extra = sorted(set(e) - CHUNK_KEYS) if isinstance(e, dict) else []
        for k in extra:
            problems.append("manifest modified: chunk %s field %r was added" % (e.get("index"), k))


def _check_sealed(d, m, st, by_index, association, problems, notes):
    sdir = os.path.join(d, st["prefix"] + "sealed")
    names = sorted(n for n in os.listdir(sdir) if n.endswith(".evs")) if os.path.isdir(sdir) else []
    if not names and not m.get("sealed"):
        return
    if m.get("sealed") and not names:
        problems.append("the sealed files (the device's own files) were removed from the export")
        return
    listed = {os.path.basename(str(e.get("sealed"))): e for e in m["chunks"]}
    epks = {}
    for n in names:
        if n not in listed:
            problems.append("sealed/%s was added: the manifest does not list it" % n)
            continue
        with open(os.path.join(sdir, n), "rb") as f:
            raw = f.read()
        epks.setdefault(raw[24:56], []).append(n)
        if hashlib.sha256(raw).hexdigest() != listed[n].get("sealed_sha256"):
            problems.append("sealed/%s differs from the file exported (its SHA-256 is not the manifest's)" % n)
        if association is None:
            continue
        try:
            plain, info = seal.unseal(raw, association[0], association[1])
        except seal.SealError as e:
            problems.append("sealed/%s was altered or is not the button's: %s" % (n, e))
            continue
        k = info["index"]
        c = by_index.get(k)
        if c is None or st["data"][c] != plain:
            problems.append("chunks/c%04d.evc is not what sealed/%s holds: one of the two was replaced" % (k, n))
        if info["closed_at_boot"]:
            notes.append("chunk %d was closed at boot after a power cut: its %d blocks are authenticated, its end "
                         "marker is not" % (k, info["blocks"]))
    if len(epks) > 1:  # the button seals a whole recording with one ephemeral key
        odd = sorted(epks.values(), key=len)[0]
        problems.append("sealed/%s %s sealed with another key than the rest of the recording: re-sealed after "
                        "the recording (by anyone who knows the association's public key)"
                        % (", sealed/".join(odd), "was" if len(odd) == 1 else "were"))
    for e in m["chunks"]:
        if e.get("sealed") and os.path.basename(e["sealed"]) not in names:
            problems.append("%s (the device's sealed file of chunk %s) was removed" % (e["sealed"], e.get("index")))
    if association is None:
        notes.append("the sealed files were not opened (no --association-key): the plaintext chunks were checked "
                     "on their own")


def _check_report(d, m, problems):
    path = os.path.join(d, "report.html")
    if not os.path.exists(path):
        if os.path.exists(os.path.join(d, "bagit.txt")):
            problems.append("report.html was removed")
        return
    if not os.path.isdir(os.path.join(d, "data")):
        return  # an export older than the bag format: its report was not written from the manifest alone
    with open(path, "rb") as f:
        got = f.read()
    try:
        want = report_html(m, sha256_file(os.path.join(d, "manifest.json"))).encode()
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        want = None  # a manifest edited out of shape (named above)
    if got != want:
        problems.append("report.html does not match manifest.json: one of them was modified after the export, so "
                        "what the report shows a reader cannot be trusted")


def _check_bag(d, st, problems):
    if not st["bag"]:
        return
    tags = {}
    try:
        with open(os.path.join(d, "tagmanifest-sha256.txt"), encoding="utf-8") as f:
            for line in f.read().splitlines():
                parts = line.split(None, 1)
                if len(parts) == 2:
                    tags[parts[1].strip()] = parts[0].lower()
    except (OSError, UnicodeDecodeError):
        pass
    for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest.json", "report.html"):
        path = os.path.join(d, name)
        if os.path.exists(path) and tags.get(name) != sha256_file(path):
            problems.append("%s is not covered by the bag's tag manifest (tagmanifest-sha256.txt): it, or the tag "
                            "manifest, was altered after the export" % name)
    import logging
    logging.getLogger("bagit").setLevel(logging.ERROR)  # its findings are turned into sentences below
    try:
        bagit.Bag(d).validate()
    except bagit.BagValidationError as e:
        for x in getattr(e, "details", None) or [e]:
            path = getattr(x, "path", None)
            if isinstance(x, bagit.ChecksumMismatch):
                problems.append("%s was modified: its SHA-256 is not the one in the bag's manifest" % path)
            elif isinstance(x, bagit.FileMissing):
                problems.append("%s was removed: the bag's manifest lists it" % path)
            elif isinstance(x, bagit.UnexpectedFile):
                problems.append("%s was added: the bag's manifest does not list it" % path)
            else:
                problems.append("the BagIt packaging is damaged: %s" % x)
    except bagit.BagError as e:
        problems.append("the BagIt packaging is damaged: %s" % e)


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
            s.add_argument("--association-key", help="the association's secret key file (opens sealed recordings)")
            s.add_argument("--device-key", help="the button's registered Ed25519 public key (hex or file): checks "
                                                "its signed heads at export")
    s = sub.add_parser("verify", help="check an exported recording (or a directory of them) and say what anchors it")
    s.add_argument("dir")
    s.add_argument("--anchor", action="append", default=[],
                   help="a value kept outside the export (repeatable): a chunk head (64 hex), a signed head record "
                        "(240 hex, or a file of them such as heads.abh), an SMS reference INDEX:BASE32")
    s.add_argument("--head", action="append", default=[], help="a chunk head SHA-256 (hex) kept at export time or "
                                                               "by the platform: same as --anchor")
    s.add_argument("--device-key", help="the button's registered Ed25519 public key (64 hex, or a file)")
    s.add_argument("--association-key", help="the association's secret key file: opens and checks the sealed files")
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
    association = load_association(args.association_key)
    device_key = load_key(args.device_key)
    bad = refused = 0
    for r in wanted:
        if r.get("active"):
            print("recording %d is still being recorded: skipped (export it when it ends)" % r["rec"])
            continue
        try:
            d, problems = export_recording(src, r["rec"], args.out, progress=not args.quiet, mark=not args.no_mark,
                                           listing=r, association=association, device_key=device_key)
        except EvidenceError as e:
            if e.status != 2:
                raise
            print("recording %d: NOT exported: %s" % (r["rec"], e), file=sys.stderr)
            refused += 1
            continue
        head = load_manifest(d)["chain_head"]
        print("recording %d -> %s (chain head %s)" % (r["rec"], d, head))
        for p in problems:
            print("  PROBLEM: %s" % p)
        bad += bool(problems)
    return 1 if bad else (2 if refused else 0)


def load_association(path):
    if not path:
        return None
    try:
        return seal.load_association_key(path)
    except ValueError as e:
        raise EvidenceError(str(e), 2)


def load_key(text):
    if not text:
        return None
    try:
        return anchor_mod.load_device_key(text)
    except ValueError as e:
        raise EvidenceError(str(e), 2)


def recording_dirs(d):
    if os.path.exists(os.path.join(d, "manifest.json")):
        return [d]
    return sorted(os.path.join(d, n) for n in os.listdir(d) if os.path.exists(os.path.join(d, n, "manifest.json")))


def cmd_verify(args):
    """Exit 0: nothing wrong and every chunk anchored; 1: problems; 6: nothing wrong found, but not every
    chunk is anchored (the chain alone cannot show a consistent rewrite)."""
    if not os.path.isdir(args.dir):
        raise EvidenceError("%s is not a directory" % args.dir, 2)
    dirs = recording_dirs(args.dir)
    if not dirs:
        print("%s: no manifest.json found" % args.dir)
        return 1
    device_key = load_key(args.device_key)
    association = load_association(args.association_key)
    found = []
    for text in args.anchor + args.head:
        try:
            found += anchor_mod.parse(text, device_key)
        except ValueError as e:
            raise EvidenceError(str(e), 2)
    status = 0
    matched = []
    for d in dirs:
        r = examine(d, found, device_key, association, manifest_sha=args.manifest_sha, shared_anchors=len(dirs) > 1)
        matched += r["matched"]
        try:
            m = load_manifest(d)
        except (OSError, ValueError):
            m = {}
        if r["problems"]:
            status = 1
            print("%s: REFUSED, %d problem(s):" % (d, len(r["problems"])))
            for p in r["problems"]:
                print("  - %s" % p)
        elif r["covered"] < r["last"]:
            status = max(status, 6)
            print("%s: INTACT BUT NOT FULLY ANCHORED: %d chunks, %.1f s, chain head %s" %
                  (d, len(m.get("chunks", [])), m.get("duration_s", 0), m.get("chain_head")))
        else:
            print("%s: OK, %d chunks, %.1f s, every chunk anchored, chain head %s" %
                  (d, len(m.get("chunks", [])), m.get("duration_s", 0), m.get("chain_head")))
        for x in r["coverage"]:
            print("  anchor: %s" % x)
        for x in r["notes"]:
            print("  note: %s" % x)
        for x in r["claims"]:
            print("  device claims: %s" % x)
    for a in found:
        if len(dirs) > 1 and a not in matched:
            status = 1
            print("REFUSED: the %s matches no recording in %s: what it vouches for was altered or removed, or it "
                  "belongs to a recording that is not here" % (a.describe(), args.dir))
    return status
