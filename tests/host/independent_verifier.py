"""An independent verifier of evidence exports, written from docs/evidence.md ("The formats, byte by
byte" and "The export") alone, with PyNaCl, hashlib and struct. It imports nothing of the project: if
it and `alertbutton evidence verify` agree on the same exports, the format is documented well enough
for an outsider, and neither implementation hides a mistake the other shares.

check(folder, device_pub=None, association=None, anchors=()) -> list of problems ([] = nothing found).
association: (secret32, public32); anchors: strings, a head (64 hex) or an SMS reference "k:BASE32"."""
import base64
import hashlib
import hmac
import json
import os
import re
import struct

from nacl.bindings import crypto_aead_chacha20poly1305_ietf_decrypt, crypto_scalarmult
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

ZERO = b"\0" * 32


def read(path):
    with open(path, "rb") as f:
        return f.read()


def parse_chunk(b):
    """(fields, problem): the plaintext chunk's fields by the offsets of the docs."""
    if len(b) < 116 or (len(b) - 116) % 256:
        return None, "its length %d is not 116 + 256 n" % len(b)
    if b[0:4] != b"ABEV" or b[4] != 1 or b[5] != 100 or b[6] != 1 or b[-16:-12] != b"ABEN":
        return None, "its header or trailer magic/version is wrong"
    n = struct.unpack_from("<I", b, len(b) - 12)[0]
    if n != (len(b) - 116) // 256:
        return None, "its trailer counts %d blocks, the file holds %d" % (n, (len(b) - 116) // 256)
    f = {"device": b[8:16], "rec": struct.unpack_from("<I", b, 16)[0], "index": struct.unpack_from("<I", b, 24)[0],
         "hflags": b[7], "utc_ms": struct.unpack_from("<q", b, 36)[0],
         "lat": struct.unpack_from("<i", b, 52)[0], "lon": struct.unpack_from("<i", b, 56)[0],
         "prev": b[68:100], "tflags": b[-8], "head": hashlib.sha256(b).digest(),
         "warmup": struct.unpack_from("<H", b, len(b) - 6)[0], "blocks": n}
    return f, None


def warmup_problem(f, b):
    """MIC_WARMUP (header flag 0x08): the trailer's u16 at offset 10 counts the first blocks, each a silent
    block (256 zero bytes); without the flag the count is 0."""
    w = f["warmup"]
    if not f["hflags"] & 8:
        return "a start-up count without the MIC_WARMUP flag" if w else None
    if w > f["blocks"]:
        return "a start-up count above its block count"
    if any(b[100:100 + 256 * w]):
        return "start-up blocks that are not silent"
    return None


def hkdf(ikm, salt, info, n):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    t, out, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def open_sealed(b, secret, public):
    """(plaintext chunk, problem)."""
    if len(b) < 180 or b[0:4] != b"ABSE" or b[4] != 1 or struct.unpack_from("<H", b, 6)[0] != 64:
        return None, "no valid envelope"
    env, epk, index = b[:64], b[24:56], struct.unpack_from("<I", b, 20)[0]
    shared = crypto_scalarmult(secret, epk)
    if shared == ZERO:
        return None, "all-zero shared secret"
    key = hkdf(shared, epk + public, b"alertbutton evidence seal v1", 32)
    rest = (len(b) - 180) % 272
    if rest not in (0, 16, 32):
        return None, "length not 64 + 116 + 272 n + 32|16|0"
    n = (len(b) - 180 - rest) // 272

    def dec(r, data):
        return crypto_aead_chacha20poly1305_ietf_decrypt(data, env, struct.pack("<III", r, index, 0), key)
    try:
        out = [dec(0, b[64:180])]
        for r in range(1, n + 1):
            out.append(dec(r, b[180 + 272 * (r - 1):180 + 272 * r]))
        end = b[180 + 272 * n:]
        if rest == 32:
            out.append(dec(0xFFFFFFFF, end))
        elif rest == 16:
            if end[0:4] != b"ABCL":
                return None, "bad close marker"
            out.append(b"ABEN" + end[4:8] + end[8:9] + b"\0" * 7)
    except CryptoError:
        return None, "an authentication tag does not match"
    plain = b"".join(out)
    if plain[8:16] != b[8:16] or plain[16:20] != b[16:20] or plain[24:28] != b[20:24]:
        return None, "envelope and header disagree"
    return plain, None


def check_bag(folder):
    problems = []
    for mf in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        p = os.path.join(folder, mf)
        if not os.path.exists(p):
            problems.append("%s missing" % mf)
            continue
        listed = set()
        for line in open(p, encoding="utf-8").read().splitlines():
            digest, name = line.split(None, 1)
            listed.add(name)
            fp = os.path.join(folder, name)
            if not os.path.exists(fp) or hashlib.sha256(read(fp)).hexdigest() != digest:
                problems.append("bag: %s differs from %s" % (name, mf))
        if mf == "manifest-sha256.txt":
            for root, _dirs, files in os.walk(os.path.join(folder, "data")):
                for n in files:
                    rel = os.path.relpath(os.path.join(root, n), folder)
                    if rel not in listed:
                        problems.append("bag: %s is not listed" % rel)
    return problems


def check(folder, device_pub=None, association=None, anchors=()):
    problems = check_bag(folder)
    cdir = os.path.join(folder, "data", "chunks")
    names = sorted(os.listdir(cdir))
    chunks, raw = {}, {}
    for n in names:
        b = read(os.path.join(cdir, n))
        f, err = parse_chunk(b)
        if err:
            problems.append("%s: %s" % (n, err))
            continue
        bad = warmup_problem(f, b)
        if bad:
            problems.append("%s: %s" % (n, bad))
        if n != "c%04d.evc" % f["index"]:
            problems.append("%s holds chunk %d" % (n, f["index"]))
        chunks[f["index"]], raw[f["index"]] = f, b
    if not chunks:
        return problems + ["no chunk"]
    last = max(chunks)
    prev = ZERO
    for k in range(last + 1):
        if k not in chunks:
            problems.append("chunk %d missing" % k)
            break
        c = chunks[k]
        if c["prev"] != prev:
            problems.append("chunk %d does not link to chunk %d" % (k, k - 1))
        if (c["device"], c["rec"]) != (chunks[0]["device"], chunks[0]["rec"]):
            problems.append("chunk %d is of another device or recording" % k)
        prev = c["head"]
    want = "%s-r%05d" % (chunks[0]["device"].hex(), chunks[0]["rec"])
    if os.path.basename(os.path.normpath(folder)) != want:
        problems.append("the folder's name is not %s" % want)
    if not chunks[last]["tflags"] & 1:
        problems.append("the last chunk is not FINAL")

    sdir = os.path.join(folder, "data", "sealed")
    if os.path.isdir(sdir):
        epks = {read(os.path.join(sdir, n))[24:56] for n in os.listdir(sdir)}
        if len(epks) > 1:
            problems.append("sealed files of one recording with different ephemeral keys")
    if association and os.path.isdir(sdir):
        for n in sorted(os.listdir(sdir)):
            plain, err = open_sealed(read(os.path.join(sdir, n)), *association)
            k = int(n[1:5])
            if err:
                problems.append("sealed %s: %s" % (n, err))
            elif raw.get(k) != plain:
                problems.append("sealed %s differs from chunks/c%04d.evc" % (n, k))

    hpath = os.path.join(folder, "data", "heads.abh")
    final_signed = False
    if device_pub is not None:
        hb = read(hpath) if os.path.exists(hpath) else b""
        if len(hb) % 120:
            problems.append("heads.abh is not whole 120-byte records")
        for i in range(0, len(hb) - len(hb) % 120, 120):
            r = hb[i:i + 120]
            try:
                VerifyKey(device_pub).verify(r[:56], r[56:])
            except BadSignatureError:
                problems.append("heads.abh record %d: bad signature" % (i // 120))
                continue
            if r[0:4] != b"ABHD" or r[4] != 1:
                problems.append("heads.abh record %d: not ABHD v1" % (i // 120))
                continue
            dev, rec, k = r[8:16], struct.unpack_from("<I", r, 16)[0], struct.unpack_from("<I", r, 20)[0]
            if (dev, rec) != (chunks[0]["device"], chunks[0]["rec"]):
                problems.append("heads.abh record %d: another device or recording" % (i // 120))
            elif k not in chunks or chunks[k]["head"] != r[24:56]:
                problems.append("heads.abh record %d: chunk %d does not match its signed head" % (i // 120, k))
            elif r[5] & 1:
                if k != last:
                    problems.append("chunk %d signed FINAL but chunks follow it" % k)
                final_signed = True
        if not final_signed:
            problems.append("no signed FINAL head for the last chunk %d" % last)

    for a in anchors:
        m = re.match(r"^(\d+):([A-Z2-7]{13})$", a)
        if m:
            k = int(m.group(1))
            if k not in chunks or base64.b32encode(chunks[k]["head"]).decode()[:13] != m.group(2):
                problems.append("SMS reference %s does not match chunk %d" % (a, k))
        elif not any(c["head"].hex() == a.lower() for c in chunks.values()):
            problems.append("head %s... matches no chunk" % a[:16])

    problems += check_manifest_and_report(folder, chunks)
    return problems


def check_manifest_and_report(folder, chunks):
    """What the manifest and the report show must be what the chunks say (the fields a reader relies on)."""
    problems = []
    try:
        m = json.load(open(os.path.join(folder, "manifest.json")))
    except (OSError, ValueError):
        return ["manifest.json unreadable"]
    first = chunks[min(chunks)]
    if m.get("device_id") != first["device"].hex() or m.get("recording") != first["rec"]:
        problems.append("manifest: device or recording differs from the chunks")
    if m.get("chain_head") != chunks[max(chunks)]["head"].hex():
        problems.append("manifest: chain_head is not the last chunk's head")
    for e in m.get("chunks", []):
        c = chunks.get(e.get("index"))
        if c is None or e.get("sha256") != c["head"].hex() or e.get("prev_sha256") != c["prev"].hex():
            problems.append("manifest: chunk %s hashes differ" % e.get("index"))
            continue
        want_pos = ({"lat": c["lat"] / 1e7, "lon": c["lon"] / 1e7} if c["hflags"] & 4 else None)
        got = e.get("position")
        if (want_pos is None) != (got is None) or (got and (got.get("lat"), got.get("lon")) != (want_pos["lat"], want_pos["lon"])):
            problems.append("manifest: chunk %s position differs" % e.get("index"))
        if e.get("start_utc_ms") != (c["utc_ms"] if c["hflags"] & 2 else None):
            problems.append("manifest: chunk %s time differs" % e.get("index"))
    try:
        html = open(os.path.join(folder, "report.html"), encoding="utf-8").read()
    except OSError:
        return problems + ["report.html missing"]
    # every position and every 64-hex hash the report shows must be one of the chunks'
    coords = {"%.5f, %.5f" % (c["lat"] / 1e7, c["lon"] / 1e7) for c in chunks.values() if c["hflags"] & 4}
    for shown in re.findall(r"-?\d+\.\d{5}, -?\d+\.\d{5}", html):
        if shown not in coords:
            problems.append("report.html shows a position (%s) no chunk holds" % shown)
    hashes = {c["head"].hex() for c in chunks.values()} | {c["prev"].hex() for c in chunks.values()}
    hashes.add(hashlib.sha256(read(os.path.join(folder, "manifest.json"))).hexdigest())
    for shown in re.findall(r"\b[0-9a-f]{64}\b", html):
        if shown not in hashes:
            problems.append("report.html shows a hash (%s...) that is not the chunks' or the manifest's" % shown[:16])
    for c in chunks.values():
        if c["hflags"] & 2:
            import datetime
            t = datetime.datetime.fromtimestamp(c["utc_ms"] / 1000.0, datetime.timezone.utc)
            if t.strftime("%Y-%m-%dT%H:%M:%S") not in html:
                problems.append("report.html does not show chunk %d's time" % c["index"])
    return problems


def load_key_file(path):
    """The association key file (docs/evidence.md: lines `secret HEX` and `public HEX`)."""
    f = dict(line.split(" ", 1) for line in open(path).read().splitlines() if line and not line.startswith("#"))
    return bytes.fromhex(f["secret"].strip()), bytes.fromhex(f["public"].strip())
