"""Host side of sealed evidence (docs/evidence.md, "Sealed chunk file"): the association's X25519 key
file, and unsealing a device's .evs file back into the plaintext chunk. The cryptography is PyNaCl's
(libsodium), not the device's; the byte layout is read with the device's own codec
(firmware/core/evidence_seal.py, as every host tool reads the device's formats). The interop proof is
tests/host/independent_verifier.py, written from docs/evidence.md alone, opening the same files.

    shared = X25519(association_secret, epk)       (refused when all zero)
    K      = HKDF-SHA256(ikm=shared, salt=epk || association_pub, info=INFO, L=32)
    record r of chunk i = ChaCha20-Poly1305-IETF(K, nonce = u32 r | u32 i | u32 0, ad = the 64-byte envelope)
"""
import binascii
import os
import struct

from alertbutton import fwimport  # noqa: F401  (firmware modules in CPython)
from firmware.core import evidence_seal  # noqa: E402  (the device's envelope parser: one reading of the format)
from firmware.core.crypto.hkdf import hkdf_sha256  # noqa: E402  (RFC 5869, the device's own: one HKDF)

ENV_SIZE = evidence_seal.ENVELOPE_SIZE
CLOSE_MAGIC = b"ABCL"
CLOSE_SIZE = 16
TAG = 16
HEADER_PLAIN = 100
BLOCK_PLAIN = 256
TRAILER_PLAIN = 16
TRAILER_RECORD = 0xFFFFFFFF
INFO = b"alertbutton evidence seal v1"
KEY_FILE_TITLE = "# alertbutton association X25519 key (SECRET: it opens every recording sealed to it)"


class SealError(ValueError):
    """A sealed file that cannot be opened; the message is a sentence for the report."""


# --- the association's key file --------------------------------------------------------------------------

def new_association_key(path):
    """Write a new key pair to path (mode 0600; never overwrites). Returns the public key (32 bytes)."""
    from nacl.public import PrivateKey
    sk = PrivateKey.generate()
    pub = bytes(sk.public_key)
    text = "%s\nsecret %s\npublic %s\n" % (KEY_FILE_TITLE, binascii.hexlify(bytes(sk)).decode(),
                                            binascii.hexlify(pub).decode())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # FileExistsError: the caller says what to do
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return pub


def load_association_key(path):
    """(secret, public) from a key file made by new_association_key; ValueError saying what is wrong."""
    from nacl.public import PrivateKey
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError("cannot read the association key %s (%s)" % (path, e))
    fields = dict(line.split(" ", 1) for line in lines if line and not line.startswith("#") and " " in line)
    try:
        secret = binascii.unhexlify(fields["secret"].strip())
        public = binascii.unhexlify(fields["public"].strip())
    except (KeyError, binascii.Error, ValueError):
        raise ValueError("%s is not an association key file (made by `alertbutton keys association new`)" % path)
    if len(secret) != 32 or bytes(PrivateKey(secret).public_key) != public:
        raise ValueError("%s is damaged: its public key does not belong to its secret key" % path)
    return secret, public


# --- unsealing -------------------------------------------------------------------------------------------

def parse_envelope(data):
    """The envelope's fields read by the device's own parser (firmware/core/evidence_seal.py: one
    reading of the format for the button and the host), in the host's terms: the device id as hex, the
    64 envelope bytes (every record's associated data) and SealError instead of ValueError."""
    try:
        env = evidence_seal.parse_envelope(data)
    except ValueError as e:
        raise SealError(str(e))
    return dict(env, device=binascii.hexlify(env["device"]).decode(), envelope=bytes(data[:ENV_SIZE]))


def recording_key(secret, public, epk):
    from nacl.bindings import crypto_scalarmult
    from nacl.exceptions import RuntimeError as NaclError
    try:
        shared = crypto_scalarmult(secret, epk)
    except NaclError:  # libsodium refuses an all-zero shared secret (a low-order epk)
        raise SealError("its ephemeral key is invalid (a low-order point): it was not sealed by a button")
    if shared == b"\0" * 32:
        raise SealError("its ephemeral key is invalid (a low-order point): it was not sealed by a button")
    return hkdf_sha256(shared, epk + public, INFO, 32)


def _open(key, record, index, data, ad):
    from nacl.bindings import crypto_aead_chacha20poly1305_ietf_decrypt
    from nacl.exceptions import CryptoError
    try:
        return crypto_aead_chacha20poly1305_ietf_decrypt(bytes(data), ad, struct.pack("<III", record, index, 0), key)
    except CryptoError:
        return None


def unseal(data, secret, public):
    """The plaintext chunk inside a sealed file, and what was found: {"device", "recording", "index",
    "closed_at_boot", "blocks"}. SealError (a sentence) if any record fails its authentication, the length
    is not one the format allows, or the key is not the one the file was sealed to."""
    env = parse_envelope(data)
    key = recording_key(secret, public, env["epk"])
    n = len(data)
    body = n - ENV_SIZE - (HEADER_PLAIN + TAG)
    if body < 0:
        raise SealError("it is cut short: no whole header record")
    rest = body % (BLOCK_PLAIN + TAG)
    if rest == TRAILER_PLAIN + TAG:
        end = "trailer"
    elif rest == CLOSE_SIZE:
        end = "close"
    elif rest == 0:
        end = "open"
    else:
        raise SealError("its length %d is not one the format allows (64 + 116 + 272 n + 32|16|0)" % n)
    blocks = (body - rest) // (BLOCK_PLAIN + TAG)
    ad, idx = env["envelope"], env["index"]
    pos = ENV_SIZE
    head = _open(key, 0, idx, data[pos:pos + HEADER_PLAIN + TAG], ad)
    if head is None:
        raise SealError("its envelope or header record was altered, or it is not sealed to this association's "
                        "key: the authentication tag does not match")
    out = [head]
    pos += HEADER_PLAIN + TAG
    for r in range(1, blocks + 1):
        b = _open(key, r, idx, data[pos:pos + BLOCK_PLAIN + TAG], ad)
        if b is None:
            raise SealError("audio block %d (record %d) was altered: its authentication tag does not match"
                            % (r - 1, r))
        out.append(b)
        pos += BLOCK_PLAIN + TAG
    info = {"device": env["device"], "recording": env["recording"], "index": idx, "blocks": blocks,
            "closed_at_boot": False, "open": end == "open"}
    if end == "trailer":
        t = _open(key, TRAILER_RECORD, idx, data[pos:], ad)
        if t is None:
            raise SealError("its trailer record (block count and FINAL flag) was altered: the authentication "
                            "tag does not match")
        out.append(t)
    elif end == "close":
        magic, nb, flags, zero = struct.unpack("<4sIB7s", data[pos:])
        if magic != CLOSE_MAGIC or nb != blocks or zero != b"\0" * 7:
            raise SealError("its close marker is malformed")
        # the plaintext trailer a chunk closed at boot has (docs/evidence.md): not authenticated
        out.append(struct.pack("<4sIBBHI", b"ABEN", nb, flags, 0, 0, 0))
        info["closed_at_boot"] = True
    plain = b"".join(out)
    if plain[8:16] != ad[8:16] or plain[16:20] != ad[16:20] or plain[24:28] != ad[20:24]:
        raise SealError("its envelope names another device, recording or chunk than its sealed header")
    return plain, info
