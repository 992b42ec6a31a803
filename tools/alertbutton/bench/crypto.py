"""`alertbutton bench crypto`: the cost of the device's hand-written crypto (firmware/core/crypto/) in
ESP32 terms, measured in ONE MicroPython VM run between two pystone runs (as bench-nmea does):

  seal_into   ChaCha20-Poly1305 of one 256-byte IMA-ADPCM block with the 64-byte envelope as AD (the
              recorder's record), viper, and its plain-Python twin for comparison; the heap it
              allocates per call (gc.mem_alloc with the collector disabled);
  x25519      one X25519, and the recording key as issue 21 makes it (epk = X25519(esk, 9), shared =
              X25519(esk, association), K = HKDF-SHA256): once per recording;
  sign        one Ed25519 signature of a 56-byte head message: once per chunk (the first one after boot
              also expands the key); SHA-512 per block;
  steps       the longest piece between two yields of sign_steps() and x25519_steps(), the forms an
              asyncio task uses so that the audio never waits on them.

Each time is the best of several runs and the VM's pystones the best of four (two before, two after),
so that other processes on the machine weigh as little as they can. ESP32 estimate:
t_esp32 = t_vm * pystones_vm / 1660 (the project's figure for MicroPython on an ESP32
at 240 MHz). The scale is made for interpreted code; for viper (native) code it overstates the ESP32
time (a desktop core gains less on native code than on the interpreter's), so the seal figure is an
upper bound. --mpy runs the .mpy tree `alertbutton deploy` ships (mpy-cross for the VM's arch).
ALERTBUTTON_VM=32 runs the 32-bit VM (the ESP32's word size: small ints end at 2**30)."""
import json
import tempfile

from alertbutton import vm
from alertbutton.bench import vm_bench
from alertbutton.checks.nmea_decode import ESP32_PYSTONES

SAMPLE_RATE = 8000
BLOCK_SAMPLES = 505  # firmware.core.ima_adpcm.BLOCK_SAMPLES: one 256-byte block
BLOCKS_PER_S = SAMPLE_RATE / BLOCK_SAMPLES  # 15.84 blocks/s while recording
BLOCKS_PER_CHUNK = 159  # firmware/core/evidence_chunk: one signed head per chunk

# Runs inside the VM. argv: [prog, seal repeats, sign repeats]
VM_MAIN = r"""
import sys, time, gc
import pystone
from firmware.core.crypto import chacha20poly1305 as C, x25519 as X, ed25519 as E, hkdf as H
from firmware.core.crypto.sha512 import sha512


def best_us(fn, repeat):
    best = None
    for _ in range(repeat):
        t = time.ticks_us()
        fn()
        dt = time.ticks_diff(time.ticks_us(), t)
        best = dt if best is None or dt < best else best
    return best


def seal_us(plain, n, n_alloc):
    s = C.Sealer(bytes(range(32)), plain)
    src = bytearray(range(256))
    ad = bytes(64)
    out = bytearray(272)
    nonce = bytearray(12)
    s.seal_into(nonce, src, 256, ad, out)

    per = max(1, n // 20)  # 20 short batches: the best one is the least disturbed by other processes

    def batch():
        for i in range(per):
            nonce[0] = i & 255
            s.seal_into(nonce, src, 256, ad, out)
    gc.collect()
    us = best_us(batch, 20) / per
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for i in range(n_alloc):
        s.seal_into(nonce, src, 256, ad, out)
    alloc = (gc.mem_alloc() - a) / n_alloc
    gc.enable()
    return us, alloc


def longest_step_us(gen):
    # the longest time between two yields of a stepped generator (what blocks an asyncio loop)
    worst = 0
    t = time.ticks_us()
    for _ in gen:
        now = time.ticks_us()
        worst = max(worst, time.ticks_diff(now, t))
        t = now
    return worst


def recording_key():
    esk = bytes(range(1, 33))
    epk = X.public_key(esk)
    shared = X.x25519(esk, ASSOC)
    H.hkdf_sha256(shared, epk + ASSOC, b"alertbutton evidence seal v1", 32)


ASSOC = X.public_key(bytes(range(100, 132)))


def main(argv):
    n, reps = int(argv[1]), int(argv[2])
    ps0 = max(pystone.main(20000) for _ in range(2))
    r = {}
    r["seal_us"], r["seal_alloc"] = seal_us(False, n, n)
    r["seal_plain_us"], r["seal_plain_alloc"] = seal_us(True, 20, 1)
    seed = bytes(range(32))
    head = bytes(56)
    r["x25519_us"] = best_us(lambda: X.x25519(seed, ASSOC), reps)
    r["recording_key_us"] = best_us(recording_key, reps)
    gc.collect()  # the plain twins left garbage: keep its collection out of the one-off timing
    r["sign_first_us"] = best_us(lambda: E.sign(seed, head), 1)  # expands the key
    r["sign_us"] = best_us(lambda: E.sign(seed, head), reps)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    E.sign(seed, head)
    r["sign_alloc"] = gc.mem_alloc() - a  # big-int garbage, collected later
    gc.enable()
    r["sha512_block_us"] = best_us(lambda: sha512(bytes(1280)), reps) / 10
    r["sign_step_us"] = min(longest_step_us(E.sign_steps(seed, head, 16)) for _ in range(reps))
    r["x25519_step_us"] = min(longest_step_us(X.x25519_steps(seed, ASSOC, 32)) for _ in range(reps))
    r["pystones"] = max(ps0, max(pystone.main(20000) for _ in range(2)))
    print("BENCH " + repr(r).replace("'", '"'))


main(sys.argv)
"""


def run_bench(seal_repeat=400, sign_repeat=5, mpy=False, timeout=900):
    """Run VM_MAIN once; returns the raw figures (dict, times in µs of the VM)."""
    if not mpy:
        return vm_bench.run(VM_MAIN, [seal_repeat, sign_repeat], heapsize="8m", timeout=timeout)
    from alertbutton.device import deploy
    with tempfile.TemporaryDirectory(prefix="bench_crypto_") as tmp:
        deploy.build_tree(tmp)
        return vm_bench.run(VM_MAIN, [seal_repeat, sign_repeat], heapsize="8m", timeout=timeout, device_root=tmp)


def figures(r):
    """ESP32 estimates (ms) and core shares from a run_bench() result."""
    scale = r["pystones"] / ESP32_PYSTONES
    ms = {k[:-3]: r[k] * scale / 1000.0 for k in r if k.endswith("_us")}
    chunk_s = BLOCKS_PER_CHUNK / BLOCKS_PER_S
    return {"scale": scale, "esp32_ms": ms,
            "seal_core_percent": ms["seal"] * BLOCKS_PER_S / 10.0,  # ms per s -> % of one core
            "seal_plain_core_percent": ms["seal_plain"] * BLOCKS_PER_S / 10.0,
            "sign_core_percent": ms["sign"] / chunk_s / 10.0,
            "chunk_s": chunk_s}


def report(r, f, label):
    ms = f["esp32_ms"]
    lines = [
        "crypto cost on the %s%s: VM %d pystones/s -> ESP32 (%d pystones/s) scale x%.1f" % (
            vm.vm_label(), label, r["pystones"], ESP32_PYSTONES, f["scale"]),
        "  ChaCha20-Poly1305 seal_into, 256-byte block + 64-byte AD: %.0f us in the VM, ~%.2f ms on an ESP32 "
        "= %.2f %% of one core at %.2f blocks/s (8 kHz IMA-ADPCM, %d samples/block); heap per call: %d bytes"
        % (r["seal_us"], ms["seal"], f["seal_core_percent"], BLOCKS_PER_S, BLOCK_SAMPLES, r["seal_alloc"]),
        "    (plain-Python twin: %.0f us, ~%.1f ms = %.1f %% of a core, %d bytes per call)" % (
            r["seal_plain_us"], ms["seal_plain"], f["seal_plain_core_percent"], r["seal_plain_alloc"]),
        "  X25519 once: %.1f ms in the VM, ~%.0f ms on an ESP32; the recording key (2 X25519 + HKDF), once "
        "per recording: ~%.0f ms" % (r["x25519_us"] / 1000, ms["x25519"], ms["recording_key"]),
        "  Ed25519 sign of a 56-byte head: %.1f ms in the VM, ~%.0f ms on an ESP32 = %.1f %% of a core at one "
        "head per chunk (%.1f s); the first after boot ~%.0f ms; %d KB of big-int garbage per signature; "
        "SHA-512 ~%.1f ms per 128-byte block" % (
            r["sign_us"] / 1000, ms["sign"], f["sign_core_percent"], f["chunk_s"], ms["sign_first"],
            r["sign_alloc"] / 1024, ms["sha512_block"]),
        "  longest blocking piece: Ed25519 sign_steps(every=16) ~%.0f ms, x25519_steps(every=32) ~%.0f ms on an "
        "ESP32 (the microphone's DMA buffer holds 256 ms)" % (ms["sign_step"], ms["x25519_step"]),
    ]
    return "\n".join(lines)


def add_arguments(p):
    """For `alertbutton bench` (bench/alert.py): options of `bench crypto`."""
    p.add_argument("--mpy", action="store_true", help="bench crypto: run the .mpy files `deploy` ships")
    p.add_argument("--seal-repeat", type=int, default=400, help="bench crypto: 256-byte blocks sealed")
    p.add_argument("--sign-repeat", type=int, default=5, help="bench crypto: best of N for X25519/Ed25519")


def run(args):
    r = run_bench(max(1, args.seal_repeat), max(1, args.sign_repeat), mpy=args.mpy)
    f = figures(r)
    print(json.dumps({"raw": r, "figures": f}))
    print(report(r, f, ", from .mpy" if args.mpy else ", from sources"))
    return 0
