"""The tamper suite (issue 21 item 6). A real recording from the simulator, sealed to an association
key and signed with a device key by the test-side sealer (evidence_forge.py, `cryptography`), exported
with `alertbutton evidence export`. Then each forgery below, made on the export or (as someone holding
the button but not its key would) on the flash before the association exports it, must be refused
by `alertbutton evidence verify --device-key --association-key` with a sentence saying what happened,
and by the independent verifier written from docs/evidence.md (independent_verifier.py).

`pytest tests/host/test_evidence_tamper.py -s` prints the table (case -> verdict)."""
import hashlib
import os
import shutil
import struct
import sys
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from alertbutton import cli  # noqa: E402
from alertbutton.evidence import seal  # noqa: E402
import evidence_forge as F  # noqa: E402
import independent_verifier as V  # noqa: E402
from test_evidence_e2e import run_sim  # noqa: E402

DEV_B = b"BUTTON-B"
SEED_A, SEED_B = bytes(range(32)), bytes(range(100, 132))


def set_bytes(chunk, offset, value):
    b = bytearray(chunk)
    b[offset:offset + len(value)] = value
    return bytes(b)


def export(flash, out, ctx, extra=()):
    st = cli.main(["evidence", "export", "--flash", flash, "--out", out, "--quiet", "--no-mark",
                   "--association-key", ctx["assoc_file"]] + list(extra))
    assert st in (0, 1), st
    return out


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    t = tmp_path_factory.mktemp("tamper")
    run = run_sim(str(t / "run"))
    plain_flash = run.flash
    c = {"t": t, "assoc_file": str(t / "assoc.key"), "key_a": str(t / "a.pub")}
    assert cli.main(["keys", "association", "new", "--out", c["assoc_file"]]) == 0
    c["assoc"] = V.load_key_file(c["assoc_file"])
    (t / "a.pub").write_text(F.ed25519_public(SEED_A).hex())
    # the simulator seals its recording to its own association key: opened here, re-sealed below
    sim_key = seal.load_association_key(run.association_key)
    rd = os.path.join(plain_flash, "ev", "r00001")
    c["plain"] = [seal.unseal(open(os.path.join(rd, n), "rb").read(), *sim_key)[0]
                  for n in sorted(os.listdir(rd)) if n.endswith(".evs")]
    assert len(c["plain"]) >= 4
    # button A: recording 1 as recorded; recording 2 made from it (other audio: blocks reversed)
    fa = str(t / "flash_a")
    F.sealed_flash(plain_flash, fa, c["assoc"][1], SEED_A, chunks=c["plain"])
    rec2 = []
    for ch in c["plain"]:
        body = ch[100:-16]
        blocks = [body[i:i + 256] for i in range(0, len(body), 256)][::-1]
        rec2.append(ch[:16] + struct.pack("<I", 2) + ch[20:100] + b"".join(blocks) + ch[-16:])
    os.makedirs(os.path.join(fa, "ev", "r00002"))
    c["rec2"] = F.relink(rec2)
    F.write_sealed(os.path.join(fa, "ev", "r00002"), c["rec2"], c["assoc"][1], SEED_A)
    # button B: another device id, its own key
    fb = str(t / "flash_b")
    c["plain_b"] = F.relink([set_bytes(ch[:100] + ch[356:-16] + ch[100:356] + ch[-16:], 8, DEV_B)
                             for ch in c["plain"]])  # its audio: each chunk's blocks rotated by one
    F.sealed_flash(plain_flash, fb, c["assoc"][1], SEED_B, chunks=c["plain_b"])
    c["flash_a"], c["heads_a"] = fa, open(os.path.join(fa, "ev", "r00001", "heads.abh"), "rb").read()
    export(fa, str(t / "exp_a"), c, ["--device-key", c["key_a"]])
    export(fb, str(t / "exp_b"), c)
    dev_a = c["plain"][0][8:16].hex()
    c["bag1"] = t / "exp_a" / ("%s-r00001" % dev_a)
    c["bag2"] = t / "exp_a" / ("%s-r00002" % dev_a)
    c["bag_b"] = t / "exp_b" / ("%s-r00001" % DEV_B.hex())
    return c


def verify_cli(folder, ctx, capsys, extra=()):
    capsys.readouterr()
    st = cli.main(["evidence", "verify", str(folder), "--device-key", ctx["key_a"],
                   "--association-key", ctx["assoc_file"]] + list(extra))
    return st, capsys.readouterr().out


def test_untouched_exports_verify_with_both_verifiers(ctx, capsys):
    for bag in (ctx["bag1"], ctx["bag2"]):
        st, out = verify_cli(bag, ctx, capsys)
        assert st == 0, out
        assert "every chunk anchored" in out and "the end of the recording is proven" in out
        assert "claims of the device, not proofs" in out
        assert V.check(str(bag), bytes.fromhex(open(ctx["key_a"]).read()), ctx["assoc"]) == []
    # an SMS reference and a platform head of chunk 1 are accepted as anchors too (both verifiers)
    head1 = hashlib.sha256(ctx["plain"][1]).digest()
    sms = "1:" + __import__("base64").b32encode(head1).decode()[:13]
    st, out = verify_cli(ctx["bag1"], ctx, capsys, ["--anchor", sms, "--head", head1.hex()])
    assert st == 0 and "SMS reference %s" % sms in out
    assert V.check(str(ctx["bag1"]), anchors=[sms, head1.hex()]) == []


def test_anchors_given_for_a_folder_of_recordings(ctx, capsys):
    """One folder, two recordings: the heads of recording 1 anchor recording 1 and are only a note for
    recording 2; an anchor that matches no recording there is refused."""
    folder = ctx["bag1"].parent
    heads1 = str(ctx["bag1"] / "data" / "heads.abh")
    st, out = verify_cli(folder, ctx, capsys, ["--anchor", heads1])
    assert st == 0, out
    assert "not this recording's anchor" in out and "REFUSED" not in out
    st, out = verify_cli(folder, ctx, capsys, ["--head", "ab" * 32])
    assert st == 1 and "REFUSED: the head abababababababab... matches no recording in" in out


def test_a_sealed_recording_holds_no_plaintext(ctx):
    """What the button's flash holds for a sealed recording: no audio block, position or header in clear."""
    d = os.path.join(ctx["flash_a"], "ev", "r00001")
    blob = b"".join(open(os.path.join(d, n), "rb").read() for n in os.listdir(d) if n.endswith(".evs"))
    for ch in ctx["plain"]:
        assert ch[52:60] not in blob and ch[100:132] not in blob and b"ABEV" not in blob


def test_a_recording_closed_at_boot_is_reported_as_such(ctx, tmp_path, capsys):
    fl = tmp_path / "fl"
    shutil.copytree(ctx["flash_a"], fl)
    F.write_sealed(str(fl / "ev" / "r00001"), ctx["plain"], ctx["assoc"][1], SEED_A, close_last=True)
    export(str(fl), str(tmp_path / "x"), ctx, ["--rec", "1"])
    st, out = verify_cli(tmp_path / "x" / ctx["bag1"].name, ctx, capsys)
    assert "chunk %d was closed at boot after a power cut" % (len(ctx["plain"]) - 1) in out
    assert "its end marker is not" in out


# --- the cases ----------------------------------------------------------------------------------------

def flip(path, offset):
    b = bytearray(path.read_bytes())
    b[offset] ^= 0x04
    path.write_bytes(bytes(b))


def on_export(fn, rebag=False):
    """A case made on a copy of the export of recording 1 (rebag: then the bag's manifests recomputed,
    as a forger who knows BagIt would)."""
    def make(ctx, tmp):
        d = tmp / ctx["bag1"].name
        shutil.copytree(ctx["bag1"], d)
        fn(d, ctx)
        if rebag:
            import bagit
            bagit.Bag(str(d)).save(manifests=True)
        return d
    make.fn = fn
    return make


def on_flash(fn):
    """A case made on the button's flash by someone without its key, then exported by the association."""
    def make(ctx, tmp):
        fl = tmp / "flash"
        shutil.copytree(ctx["flash_a"], fl)
        shutil.rmtree(fl / "ev" / "r00002")
        chunks, heads = fn(list(ctx["plain"]), ctx)
        F.write_sealed(str(fl / "ev" / "r00001"), chunks, ctx["assoc"][1], None, heads=heads)
        export(str(fl), str(tmp / "x"), ctx)
        return tmp / "x" / ctx["bag1"].name
    return make


def sealed(d, k):
    return d / "data" / "sealed" / ("c%04d.evs" % k)


def plain(d, k):
    return d / "data" / "chunks" / ("c%04d.evc" % k)


def swap_files(d, a, b):
    for f in (sealed, plain):
        x, y = f(d, a).read_bytes(), f(d, b).read_bytes()
        f(d, a).write_bytes(y)
        f(d, b).write_bytes(x)


def splice(src_bag, k):
    def fn(d, ctx):
        shutil.copy(sealed(ctx[src_bag], k), sealed(d, k))
        shutil.copy(plain(ctx[src_bag], k), plain(d, k))
    return fn


def edit_report(d, ctx):
    p = d / "report.html"
    p.write_text(p.read_text().replace("45.76404", "45.77404"))


def edit_manifest(d, ctx):
    import json
    m = json.load(open(d / "manifest.json"))
    m["chunks"][1]["position"]["lat"] = 45.77404
    json.dump(m, open(d / "manifest.json", "w"), indent=1, sort_keys=True)


def reseal_last(d, ctx):
    """The last chunk's audio replaced (no later chunk links to it), re-sealed with the association's
    public key (which is no secret), its plaintext copy and the bag made to match."""
    k = len(ctx["plain"]) - 1
    c = ctx["plain"][k]
    forged = c[:100] + bytes(len(c) - 116) + c[-16:]
    key, epk = F.recording_key(os.urandom(32), ctx["assoc"][1])
    sealed(d, k).write_bytes(F.seal_chunk(forged, key, epk))
    plain(d, k).write_bytes(forged)


def rename_rec2(ctx, tmp):
    d = tmp / ctx["bag1"].name
    shutil.copytree(ctx["bag2"], d)
    return d


def relinked(fn):
    def forge(chunks, ctx):
        return F.relink(fn(chunks, ctx)), ctx["heads_a"]
    return forge


def replace_audio(chunks, ctx):
    c = chunks[1]
    chunks[1] = c[:100] + bytes(len(c) - 116) + c[-16:]  # the words of chunk 1 replaced by silence
    return chunks


def redate(chunks, ctx):
    return [F.set_field(c, 36, "<q", struct.unpack_from("<q", c, 36)[0] + 86400000) for c in chunks]


def relocate(chunks, ctx):
    return [F.set_field(c, 52, "<i", struct.unpack_from("<i", c, 52)[0] + 100000) for c in chunks]


def drop_tail(keep_heads):
    def forge(chunks, ctx):
        chunks = chunks[:-1]
        b = bytearray(chunks[-1])
        b[-8] |= 1  # FINAL on the one before: one bit
        chunks[-1] = bytes(b)
        n = len(ctx["heads_a"]) // 120
        return F.relink(chunks), ctx["heads_a"] if keep_heads else ctx["heads_a"][:120 * (n - 1)]
    return forge


def swap_relinked(chunks, ctx):
    a, b = chunks[1], chunks[2]
    chunks[1] = F.set_field(b, 24, "<I", 1)
    chunks[2] = F.set_field(a, 24, "<I", 2)
    return chunks


def splice_relinked(source):
    def fn(chunks, ctx):
        other = ctx[source][2]
        chunks[2] = chunks[2][:100] + other[100:]  # the header of chunk 2, the audio of the other one
        return chunks
    return fn


CASES = [
    ("one bit in a sealed file's envelope", on_export(lambda d, c: flip(sealed(d, 1), 10)), "sealed/c0001.evs was altered"),
    ("one bit in a sealed header record", on_export(lambda d, c: flip(sealed(d, 1), 64 + 40)), "header record was altered"),
    ("one bit in a sealed audio block", on_export(lambda d, c: flip(sealed(d, 1), 64 + 116 + 272 * 3 + 99)), "audio block 3"),
    ("one bit in a sealed trailer record", on_export(lambda d, c: flip(sealed(d, 2), -20)), "trailer record"),
    ("one bit in an authentication tag", on_export(lambda d, c: flip(sealed(d, 0), 64 + 116 - 1)), "authentication tag"),
    ("one bit in a chunk's header (its time)", on_export(lambda d, c: flip(plain(d, 1), 40)), "chunk 1"),
    ("one bit in a chunk's audio", on_export(lambda d, c: flip(plain(d, 2), 100 + 700)), "chunk 2"),
    ("one bit in the last chunk's trailer (FINAL)", on_export(lambda d, c: flip(plain(d, 3), -8)), "chunk 3"),
    ("one bit in a signed head", on_export(lambda d, c: flip(d / "data" / "heads.abh", 130)), "did not sign it"),
    ("last chunk's audio replaced and re-sealed", on_export(reseal_last), "sealed with another key"),
    ("chunk files swapped", on_export(lambda d, c: swap_files(d, 1, 2)), "reordered"),
    ("chunk spliced from another recording", on_export(splice("bag2", 2)), "chunk 2"),
    ("chunk spliced from another button", on_export(splice("bag_b", 2)), "chunk 2"),
    ("report.html edited (a position)", on_export(edit_report), "report.html does not match"),
    ("manifest.json edited (a position)", on_export(edit_manifest), "manifest modified: chunk 1 field 'position'"),
    ("recording 2's folder renamed as recording 1's", rename_rec2, "it was renamed"),
    ("another button's export shown with this button's key", lambda ctx, tmp: ctx["bag_b"], "did not sign it"),
    ("relinked forgery: chunk 1's audio replaced", on_flash(relinked(replace_audio)), "is not the chunk the signed head of chunk 1"),
    ("re-dated: every chunk a day later", on_flash(relinked(redate)), "is not the chunk the signed head of chunk 0"),
    ("relocated: every chunk 1.1 km away", on_flash(relinked(relocate)), "is not the chunk the signed head of chunk 0"),
    ("dropped tail, FINAL set, heads cut to match", on_flash(drop_tail(False)), "end of the recording is not proven"),
    ("dropped tail, FINAL set, heads kept", on_flash(drop_tail(True)), "which is not in the export"),
    ("chunks swapped and relinked", on_flash(relinked(swap_relinked)), "is not the chunk the signed head of chunk 1"),
    ("audio spliced from another recording, relinked", on_flash(relinked(splice_relinked("rec2"))),
     "is not the chunk the signed head of chunk 2"),
    ("audio spliced from another button, relinked", on_flash(relinked(splice_relinked("plain_b"))),
     "is not the chunk the signed head of chunk 2"),
]


def all_cases():
    """Each case; each one made on the export also with the bag's manifests recomputed afterwards."""
    for name, make, expect in CASES:
        yield name, make, expect
        if hasattr(make, "fn"):
            yield name + " + bag recomputed", on_export(make.fn, rebag=True), expect


def test_every_tampering_is_refused_by_both_verifiers(ctx, tmp_path, capsys):
    key_a = bytes.fromhex(open(ctx["key_a"]).read())
    rows, wrong = [], []
    for i, (name, make, expect) in enumerate(all_cases()):
        tmp = tmp_path / ("case%02d" % i)
        tmp.mkdir()
        d = make(ctx, tmp)
        st, out = verify_cli(d, ctx, capsys)
        sentences = [line[4:] for line in out.splitlines() if line.startswith("  - ")]
        indep = V.check(str(d), key_a, ctx["assoc"])
        hit = [s for s in sentences if expect in s]
        content = [p for p in indep if not p.startswith("bag:")]  # what a forger cannot recompute
        rows.append((name, "REFUSED" if st == 1 else "ACCEPTED (%d)" % st, (hit or sentences or ["-"])[0],
                     "REFUSED" if indep else "ACCEPTED", (content or indep or ["-"])[0]))
        if st != 1 or not hit or not indep or "Traceback" in out:
            wrong.append((name, st, expect, out[-1500:], indep))
    with capsys.disabled():
        print("\n\nTAMPER TABLE (alertbutton evidence verify --device-key --association-key | independent verifier)")
        for name, v1, why, v2, why2 in rows:
            print("- %s\n    verify:      %-9s %s\n    independent: %-9s %s" % (name, v1, why, v2, why2))
    assert not wrong, wrong


# --- the microphone's start-up silence (MIC_WARMUP) -----------------------------------------------------

def warmed(chunks, w, silent=True):
    """Chunk 1 as the recorder writes it when the alert started the microphone cold: header flag MIC_WARMUP,
    w in the trailer's u16 at offset 10, its first w blocks silent (256 zero bytes each); relinked."""
    c = bytearray(chunks[1])
    c[7] |= 0x08
    if silent:
        c[100:100 + 256 * w] = bytes(256 * w)
    struct.pack_into("<H", c, len(c) - 6, w)
    chunks[1] = bytes(c)
    return F.relink(chunks)


def export_chunks(ctx, tmp, chunks):
    fl = tmp / "fl"
    shutil.copytree(ctx["flash_a"], fl)
    shutil.rmtree(fl / "ev" / "r00002")
    F.write_sealed(str(fl / "ev" / "r00001"), chunks, ctx["assoc"][1], SEED_A)  # signed by button A
    export(str(fl), str(tmp / "x"), ctx)
    return tmp / "x" / ctx["bag1"].name


def test_the_microphone_s_start_up_is_told_by_both_verifiers(ctx, tmp_path, capsys):
    bag = export_chunks(ctx, tmp_path, warmed(list(ctx["plain"]), 9))
    st, out = verify_cli(bag, ctx, capsys)
    assert st == 0, out
    ms = 9 * 505 * 1000 // 8000
    assert ms == 568 and ("chunk 1: the first 568 ms are silence by hardware: the microphone was waking" in out)
    assert out.count("silence by hardware") == 1  # no other chunk
    key = bytes.fromhex(open(ctx["key_a"]).read())
    assert V.check(str(bag), key, ctx["assoc"]) == []
    f, _ = V.parse_chunk(plain(bag, 1).read_bytes())
    assert f["hflags"] & 0x08 and f["warmup"] == 9
    assert "silence by hardware" in (bag / "report.html").read_text()  # the export's verdict notes


def test_a_start_up_mark_over_sound_is_reported_by_both_verifiers(ctx, tmp_path, capsys):
    # the device's own word, signed, but its audio contradicts it: both verifiers say so
    bag = export_chunks(ctx, tmp_path, warmed(list(ctx["plain"]), 9, silent=False))
    st, out = verify_cli(bag, ctx, capsys)
    assert st == 1 and "chunk 1 says its first 568 ms are the microphone's start-up silence, but they hold sound" in out
    key = bytes.fromhex(open(ctx["key_a"]).read())
    assert V.check(str(bag), key, ctx["assoc"]) == ["c0001.evc: start-up blocks that are not silent"]
