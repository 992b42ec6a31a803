# The JSON documents the button sends to the association's platform (issue 9). Pure functions: the
# platform link queues them on flash and publishes them; docs/platform.md is the schema reference.
#
#   alert event  (topic alerts/<device>): one per alert listener call (triggered, sms, delivered,
#                dispatched, ended): alert id, kind, trigger, state, the positions known since the
#                trigger, and every contact's SMS status.
#   heartbeat    (topic status/<device>): battery, signal, registration, last fix, firmware version,
#                queue health; the last fix only where the association asked for it.
# Contacts are named by their slot index, never by number: the platform already knows who they are,
# and a phone number in a broker's retained messages is data that could leak.
import json
import time

from firmware.core import clock
from firmware.version import VERSION

SCHEMA = 1
_EPOCH_2000 = 946684800  # seconds from 1970 to 2000 (ports whose time.time() starts in 2000)
_UNIX_OFFSET = _EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0
MAX_POSITIONS = 5


def unix_time():
    """Seconds since 1970 UTC, or None while the clock was never set (GNSS or network)."""
    t = clock.utc_now()
    return None if t is None else int(t) + _UNIX_OFFSET


def position(fix):
    """A fix as the platform sees it (5 decimals, ~1 m), or None."""
    if fix is None:
        return None
    p = {"lat": round(fix.lat, 5), "lon": round(fix.lon, 5), "acc_m": int(fix.acc_m),
         "age_s": fix.age_s(), "src": getattr(fix, "source", "gnss")}
    utc = getattr(fix, "utc", None)
    if utc is not None:
        p["utc"] = int(utc) + _UNIX_OFFSET
    return p


def add_position(track, fix):
    """Append the fix to an alert's list of positions if it is a new one (bounded, oldest out)."""
    p = position(fix)
    if p is None:
        return track
    if track and track[-1]["lat"] == p["lat"] and track[-1]["lon"] == p["lon"] and \
            track[-1]["acc_m"] == p["acc_m"]:
        track[-1] = p  # same place: refresh its age only
        return track
    track.append(p)
    if len(track) > MAX_POSITIONS:
        track.pop(0)
    return track


def sms_status(recs):
    """Per-contact SMS status from the outbox records."""
    out = []
    for r in recs:
        e = {"c": r.get("c"), "st": r.get("st"), "att": r.get("att", 0)}
        if r.get("err"):
            e["err"] = r["err"]
        out.append(e)
    return out


def alert_event(device, event, alert_id, kind, state, trigger, positions, recs):
    """One alert event document (a dict; encode() makes the bytes)."""
    return {"v": SCHEMA, "type": "alert", "dev": device, "alert": alert_id, "event": event, "kind": kind,
            "trigger": trigger, "state": state, "pos": list(positions), "sms": sms_status(recs),
            "t": unix_time(), "fw": VERSION}


def evidence(device, rec, alert_id, index, head, final, signed=None):
    """An evidence commitment: the SHA-256 chain head of recording `rec` after chunk `index`. Each
    chunk's hash is in the next chunk's header, so this one value vouches for every chunk up to
    `index`; once the platform holds it, those chunks cannot be altered or replaced unnoticed.
    signed (issue 21): the 120-byte signed head record in hex (firmware/core/evidence_seal: the 56-byte
    message then the device key's Ed25519 signature), or None; sent as "sig" (the signature, 128 hex)
    and "did" (the 8-byte device id in the message, 16 hex), the rest of the message being the fields
    above (rec, chunks - 1, head, final)."""
    d = {"v": SCHEMA, "type": "evidence", "dev": device, "alert": alert_id, "rec": rec,
         "chunks": index + 1, "head": head, "final": bool(final), "t": unix_time(), "fw": VERSION}
    if signed is not None:
        d["sig"] = signed[112:]
        d["did"] = signed[16:32]
    return d


def heartbeat(device, battery, csq, registered, fix, queue_counts=None, alert_state=None, uptime_s=None,
              with_fix=True):
    """with_fix False (the link's default, issue 25): no "fix" key at all, the heartbeat says nothing
    of where she is; the association asks for it with the setting heartbeat_fix."""
    d = {"v": SCHEMA, "type": "heartbeat", "dev": device, "fw": VERSION, "bat": battery,
         "csq": csq if isinstance(csq, int) and 0 <= csq <= 31 else None,
         "dbm": -113 + 2 * csq if isinstance(csq, int) and 0 <= csq <= 31 else None,
         "reg": bool(registered), "t": unix_time()}
    if with_fix:
        d["fix"] = position(fix)
    if queue_counts is not None:
        d["queue"] = {"pending": queue_counts.get("pending", 0), "dropped": queue_counts.get("dropped", 0)}
    if alert_state is not None:
        d["alert_state"] = alert_state
    if uptime_s is not None:
        d["up_s"] = uptime_s
    return d


def encode(doc):
    return json.dumps(doc).encode()


def with_seq(data, seq):
    """The queued document with the queue's sequence number as its first key (the platform
    deduplicates on (dev, seq)); added at send time, so a queued event is written to flash once."""
    if data[:1] != b"{" or data[1:2] == b"}":
        raise ValueError("not a JSON object")
    return b'{"seq": %d, ' % seq + data[1:]
