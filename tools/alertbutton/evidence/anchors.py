"""Anchors: values kept outside an export that vouch for its chunks (docs/evidence.md, "Anchors").
A head of chunk k (hex), a signed head record (120 bytes: checked with PyNaCl against the device's
registered Ed25519 key), a file of them (the export's heads.abh), or the short reference the follow-up
SMS carries (`k:BASE32`, the first 65 bits of head_k). Each is turned into an Anchor whose `index`
(or None: any chunk) and `matches(sha_bytes)` say which chunk it names."""
import base64
import binascii
import os
import re
import struct

HEAD_MAGIC = b"ABHD"
HEAD_VERSION = 1
HEAD_FMT = "<4sBBH8sII32s"
HEAD_MSG = 56
HEAD_RECORD = 120
HF_FINAL = 1
SMS_CHARS = 13  # 13 base32 characters = 65 bits


class Anchor:
    def __init__(self, kind, index, head=None, prefix=None, final=False, device=None, recording=None,
                 signed=None, source=""):
        self.kind = kind  # "head", "sms", "signed"
        self.index = index  # chunk index it names (None for a bare head: any chunk)
        self.head = head  # 32 bytes (head, signed)
        self.prefix = prefix  # base32 prefix (sms)
        self.final = final
        self.device = device
        self.recording = recording
        self.signed = signed  # None, True (verified) or a sentence saying why not
        self.source = source

    def matches(self, sha):
        if self.kind == "sms":
            return sms_prefix(sha) == self.prefix
        return sha == self.head

    def describe(self):
        if self.kind == "sms":
            return "SMS reference %d:%s" % (self.index, self.prefix)
        if self.kind == "signed":
            return "signed head of chunk %d%s (%s)" % (self.index, ", FINAL" if self.final else "", self.source)
        return "head %s..." % binascii.hexlify(self.head).decode()[:16]


def sms_prefix(sha):
    return base64.b32encode(sha).decode()[:SMS_CHARS]


def sms_reference(index, sha):
    return "%d:%s" % (index, sms_prefix(sha))


def signed_message(device, rec, index, head, final):
    return struct.pack(HEAD_FMT, HEAD_MAGIC, HEAD_VERSION, HF_FINAL if final else 0, 0, device, rec, index, head)


def parse_signed(record, device_key=None, source="record"):
    """An Anchor from one 120-byte signed head record; its .signed says whether device_key verified it."""
    if len(record) != HEAD_RECORD:
        raise ValueError("a signed head record is 120 bytes, this one %d" % len(record))
    magic, ver, flags, res, dev, rec, index, head = struct.unpack(HEAD_FMT, record[:HEAD_MSG])
    if magic != HEAD_MAGIC or ver != HEAD_VERSION:
        raise ValueError("not a signed head record (no ABHD version 1)")
    a = Anchor("signed", index, head=head, final=bool(flags & HF_FINAL), device=binascii.hexlify(dev).decode(),
               recording=rec, source=source)
    if device_key is None:
        a.signed = "its signature was not checked: give the button's registered key with --device-key"
    else:
        from nacl.exceptions import BadSignatureError
        from nacl.signing import VerifyKey
        try:
            VerifyKey(device_key).verify(bytes(record[:HEAD_MSG]), bytes(record[HEAD_MSG:]))
            a.signed = True
        except BadSignatureError:
            a.signed = ("its signature does not verify with the device key given: this button did not sign it "
                        "(it was forged, altered, or comes from another button)")
    return a


def parse_heads_file(data, device_key=None, source="heads.abh"):
    if len(data) % HEAD_RECORD:
        raise ValueError("%s is %d bytes, not a whole number of 120-byte signed head records (cut or altered)"
                         % (source, len(data)))
    return [parse_signed(data[i:i + HEAD_RECORD], device_key, "%s record %d" % (source, i // HEAD_RECORD))
            for i in range(0, len(data), HEAD_RECORD)]


def parse(text, device_key=None):
    """Anchors from one --anchor value: a file (signed records, or lines of the forms below), hex of a head
    (64) or of a signed record (240), or an SMS reference k:BASE32. ValueError says what to give."""
    if os.path.isfile(text):
        with open(text, "rb") as f:
            data = f.read()
        if data[:4] == HEAD_MAGIC:
            return parse_heads_file(data, device_key, os.path.basename(text))
        try:
            lines = data.decode("ascii").split()
        except UnicodeDecodeError:
            raise ValueError("%s holds neither signed head records nor text anchors" % text)
        return [a for line in lines for a in parse(line, device_key)]
    t = text.strip()
    m = re.match(r"^(\d+):([A-Za-z2-7]+)$", t)
    if m:
        if len(m.group(2)) != SMS_CHARS:
            raise ValueError("an SMS reference is INDEX:%d base32 characters, %r has %d" %
                             (SMS_CHARS, t, len(m.group(2))))
        return [Anchor("sms", int(m.group(1)), prefix=m.group(2).upper(), source="SMS")]
    if re.match(r"^[0-9a-fA-F]+$", t):
        if len(t) == 64:
            return [Anchor("head", None, head=binascii.unhexlify(t), source="head")]
        if len(t) == 2 * HEAD_RECORD:
            return [parse_signed(binascii.unhexlify(t), device_key, "hex record")]
    raise ValueError("%r is not an anchor: give a chunk head (64 hex digits), a signed head record (240 hex "
                     "digits, or a file of them such as heads.abh) or an SMS reference INDEX:BASE32" % t[:80])


def load_device_key(text):
    """--device-key: 64 hex digits, or a file holding them (or the 32 raw bytes)."""
    if os.path.isfile(text):
        with open(text, "rb") as f:
            data = f.read()
        if len(data) == 32:
            return data
        text = data.decode("ascii", "replace").strip()
    t = text.strip()
    if not re.match(r"^[0-9a-fA-F]{64}$", t):
        raise ValueError("--device-key wants the button's Ed25519 public key: 64 hex digits, or a file holding "
                         "them (as recorded by the association at provisioning)")
    return binascii.unhexlify(t)
