"""Test-side tools for sealed evidence, written from /work/notes/seal-spec.md (docs/evidence.md) with the
`cryptography` package: a second implementation of the sealer and of the head signer, independent from
both the device's (firmware/core/crypto) and the host's reader (PyNaCl). Used to make sealed, signed
recordings out of the simulator's plaintext chunks until the device writes them itself, and by the
tamper suite to forge the way someone holding the button (but not its key) could."""
import hashlib
import os
import shutil
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def ed25519_public(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(*RAW)


def sign_head(seed, device, rec, index, head, final):
    msg = struct.pack("<4sBBH8sII32s", b"ABHD", 1, 1 if final else 0, 0, device, rec, index, head)
    return msg + Ed25519PrivateKey.from_private_bytes(seed).sign(msg)


def envelope(device, rec, index, epk):
    return struct.pack("<4sBBH8sII32s8s", b"ABSE", 1, 0, 64, device, rec, index, epk, b"\0" * 8)


def recording_key(esk_bytes, association_pub):
    esk = X25519PrivateKey.from_private_bytes(esk_bytes)
    epk = esk.public_key().public_bytes(*RAW)
    shared = esk.exchange(X25519PublicKey.from_public_bytes(association_pub))
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + association_pub,
             info=b"alertbutton evidence seal v1").derive(shared)
    return k, epk


def seal_chunk(plain, key, epk, close_marker=False):
    """The .evs file of one plaintext chunk (header 100 | blocks 256 each | trailer 16)."""
    device, rec, index = plain[8:16], struct.unpack_from("<I", plain, 16)[0], struct.unpack_from("<I", plain, 24)[0]
    env = envelope(device, rec, index, epk)
    aead = ChaCha20Poly1305(key)

    def nonce(r):
        return struct.pack("<III", r, index, 0)
    out = [env, aead.encrypt(nonce(0), plain[:100], env)]
    body = plain[100:len(plain) - 16]
    for r in range(len(body) // 256):
        out.append(aead.encrypt(nonce(r + 1), body[256 * r:256 * r + 256], env))
    t = plain[len(plain) - 16:]
    if close_marker:
        out.append(struct.pack("<4sIB7s", b"ABCL", struct.unpack_from("<I", t, 4)[0], t[8], b"\0" * 7))
    else:
        out.append(aead.encrypt(nonce(0xFFFFFFFF), t, env))
    return b"".join(out)


def relink(chunks):
    """Chunks (bytes, in order) with each prev field rewritten to the SHA-256 of the one before."""
    out, prev = [], b"\0" * 32
    for c in chunks:
        b = bytearray(c)
        b[68:100] = prev
        out.append(bytes(b))
        prev = hashlib.sha256(bytes(b)).digest()
    return out


def set_field(chunk, offset, fmt, value):
    b = bytearray(chunk)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


def read_plain(rec_dir):
    names = sorted(n for n in os.listdir(rec_dir) if n.endswith(".evc"))
    return [open(os.path.join(rec_dir, n), "rb").read() for n in names]


def write_sealed(rec_dir, chunks, association_pub, seed, sign=None, close_last=False, heads=None):
    """Replace rec_dir's chunk files by sealed ones (one ephemeral key for the recording) and its heads
    file by signed heads of `sign` (default: every chunk; FINAL from each chunk's trailer), or by the
    bytes `heads` (a forger without the device key keeps, or cuts, the heads file he found)."""
    for n in os.listdir(rec_dir):
        if n.endswith((".evc", ".evs")) or n == "heads.abh":
            os.remove(os.path.join(rec_dir, n))
    key, epk = recording_key(os.urandom(32), association_pub)
    signed = []
    for i, c in enumerate(chunks):
        k = struct.unpack_from("<I", c, 24)[0]
        data = seal_chunk(c, key, epk, close_marker=close_last and i == len(chunks) - 1)
        with open(os.path.join(rec_dir, "c%04d.evs" % k), "wb") as f:
            f.write(data)
        if heads is None and (sign is None or k in sign):
            signed.append(sign_head(seed, c[8:16], struct.unpack_from("<I", c, 16)[0], k,
                                   hashlib.sha256(c).digest(), bool(c[-8] & 1)))
    with open(os.path.join(rec_dir, "heads.abh"), "wb") as f:
        f.write(b"".join(signed) if heads is None else heads)
    # the device's own `head` file (what the console's `exported` checks) follows the chunks
    import json
    last = chunks[-1]
    with open(os.path.join(rec_dir, "head"), "w") as f:
        json.dump({"index": len(chunks) - 1, "sha256": hashlib.sha256(last).hexdigest(),
                   "final": bool(last[-8] & 1)}, f)
    try:
        os.remove(os.path.join(rec_dir, "exported"))
    except OSError:
        pass


def sealed_flash(plain_flash, out, association_pub, seed, rec=1, chunks=None, **kw):
    """A copy of a plaintext flash directory whose recording `rec` is sealed and signed."""
    shutil.copytree(plain_flash, out)
    d = os.path.join(out, "ev", "r%05d" % rec)
    write_sealed(d, chunks if chunks is not None else read_plain(d), association_pub, seed, **kw)
    return d
