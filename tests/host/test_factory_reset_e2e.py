"""Issue 19 item 3: a factory reset erases. The firmware runs on the simulated board with five contacts,
a wearer, a platform password, a GNSS fix and a microphone; an alert goes out (outbox, event log, last
fix, a recording, platform queue). Then `alertbutton factory-reset` over the console, and every byte of
every file on the simulated flash (a folder of the host: the VM's filesystem is not an image) is
searched for the old numbers (E.164, national, with spaces or dots, without '+', the last 9 digits,
the SMS semi-octets), the names (plain, JSON-escaped, UTF-16, GSM-7 packed at every bit offset), the
position and the credential. The same scan run before the reset must find them: it is not blind."""
import json
import os
import time

import pytest

from alertbutton import cli, vm
from alertbutton.sim.run import SimRun

WAV = os.path.join(vm.REPO, "tests", "data", "audio", "speechlike_8k.wav")
PIN = "2468"
CONTACTS = [("Sophie Marchetti", "+33612345601"), ("Karim Benalouane", "+33752345602"),
            ("Julie Payetrand", "+262692123404"), ("Nadia Okonkwova", "+590690123405"),
            ("Elodie Verhaegen", "+32470123406")]
WEARER = "Zoéline Varnier"
PASSWORD = "device-pass-Qx7"
LAT, LON = 45.76404, 4.83566


def _semi_octets(digits):
    d = digits + ("F" if len(digits) % 2 else "")
    return "".join(d[i + 1] + d[i] for i in range(0, len(d), 2))


def _pack7(text, shift):
    """GSM-7 packing of ASCII letters/spaces after `shift` leading bits; the interior bytes only
    (the first and last depend on the neighbouring characters)."""
    acc = nbits = 0
    acc_bits = shift
    out = bytearray()
    val = 0
    for ch in text:
        val |= (ord(ch) & 0x7F) << acc_bits
        acc_bits += 7
        while acc_bits >= 8:
            out.append(val & 0xFF)
            val >>= 8
            acc_bits -= 8
    del acc, nbits
    return bytes(out[1:])


def needles():
    """{bytes pattern: what it is} for every format an attacker would try."""
    out = {}

    def add(pattern, what):
        if isinstance(pattern, str):
            pattern = pattern.encode("utf-8")
        out[pattern] = what
        out[pattern.lower()] = what
        out[pattern.upper()] = what

    for name, number in CONTACTS:
        cc = "33" if number.startswith("+33") else number[1:4] if number[1:4] in ("262", "590") else "32"
        nsn = number[1 + len(cc):]
        national = "0" + nsn if cc in ("33", "262", "590") else "0" + nsn
        add(number, number)
        add(number[1:], number + " without +")
        add(national, number + " national")
        add(" ".join([national[:2]] + [national[i:i + 2] for i in range(2, len(national), 2)]), number + " spaced")
        add(".".join([national[:2]] + [national[i:i + 2] for i in range(2, len(national), 2)]), number + " dotted")
        add("+%s %s %s" % (cc, nsn[0], " ".join(nsn[i:i + 2] for i in range(1, len(nsn), 2))), number + " intl spaced")
        add(number[-9:], number + " last 9 digits")
        add(_semi_octets(number[1:]), number + " PDU semi-octets")
        add(bytes.fromhex(_semi_octets(number[1:])), number + " PDU semi-octets (binary)")
        for part in name.split():
            add(part, "name " + part)
            for shift in range(7):
                packed = _pack7(part, shift)
                if len(packed) >= 4:
                    add(packed.hex(), "name %s GSM-7 packed" % part)
    for part in WEARER.split():
        add(part, "wearer " + part)
        add(json.dumps(part)[1:-1], "wearer %s JSON-escaped" % part)
        add(part.encode("utf-16-be").hex(), "wearer %s UCS2" % part)
    add("%.4f" % LAT, "latitude")
    add("%.4f" % LON, "longitude")
    add(str(int(LAT * 1e5)), "latitude e5")
    add(PASSWORD, "platform password")
    return out


def scan(flash):
    """[(file, what)] for every needle found in any file under flash."""
    found = []
    pats = needles()
    for dirpath, _dirs, files in os.walk(flash):
        for f in files:
            path = os.path.join(dirpath, f)
            data = open(path, "rb").read()
            for pat, what in pats.items():
                if pat in data:
                    found.append((os.path.relpath(path, flash), what))
    return sorted(set(found))


def scenario():
    return {"wearer": WEARER, "contacts": [{"name": n, "number": x} for n, x in CONTACTS],
            "gnss": {"lat": LAT, "lon": LON, "acc_m": 9.0, "after_s": 0.3}, "last_fix": None,
            "modem": {"cmgs_latency_s": 0.1, "cmd_latency_s": 0.005},
            "audio": WAV, "audio_speed": 6,
            "config": {"contacts_pin": PIN, "evidence_prealert_s": 4, "evidence_record_s": 6,
                       "evidence_chunk_s": 3},
            # a platform that never answers: its password on flash, alert events queued there
            "platform": {"device": "ab-test-1", "transport": "mqtt", "link": "host", "heartbeat_s": 60,
                         "timeout_s": 2, "backoff_max_s": 2, "linger_s": 30,
                         "mqtt": {"host": "127.0.0.1", "port": 9, "user": "ab-test-1", "password": PASSWORD,
                                  "tls": False, "insecure_plaintext": True}},
            # contact 1 ends the alert (a reset is refused while one is in progress)
            "events": [{"t": 4.5, "gesture": "alert"}, {"t": 9.0, "sms": {"from": CONTACTS[0][1], "text": "STOP " + PIN}}],
            "duration_s": 60}


@pytest.fixture(scope="module")
def reset_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reset")
    run = SimRun(scenario(), str(out / "run"), echo=None)
    try:
        run.start()
        run.run_script(stop_when_done=True)
        run.wait_for(lambda r: any(e["event"] == "evidence_done" for e in r.events), 40, fail_on_exit=True)
        run.wait_for(lambda r: any(e["event"] == "state" and e.get("to") == "idle" for e in r.events), 30,
                     fail_on_exit=True)
        deadline = time.monotonic() + 30
        assert cli.main(["--port", run.console_port, "pin", "set", "--new-pin", PIN]) == 0
        before = scan(run.flash)
        with open(os.path.join(run.flash, "device.key"), "rb") as f:
            device_seed = f.read()  # issue 21: the device's signing key
        before_blobs = [(f, open(os.path.join(d, f), "rb").read()) for d, _s, fs in os.walk(run.flash) for f in fs]
        rc = None
        while time.monotonic() < deadline:
            rc = cli.main(["--port", run.console_port, "--json", "factory-reset", "--yes", "--pin", PIN])
            if rc == 0:
                break
            time.sleep(1.0)
        time.sleep(1.5)  # anything the firmware would still write after the reset
        assert run.supervise()
        after = scan(run.flash)
        files = sorted(os.path.relpath(os.path.join(d, f), run.flash) for d, _s, fs in os.walk(run.flash) for f in fs)
        blobs = [open(os.path.join(run.flash, f), "rb").read() for f in files]
        from alertbutton.evidence import seal
        assoc = seal.load_association_key(run.association_key)[1].hex().encode()
        yield {"rc": rc, "before": before, "after": after, "files": files, "run": run, "device_seed": device_seed,
               "seed_left": [f for f, b in zip(files, blobs) if device_seed in b],
               "assoc_before": [f for f, _ in before_blobs if assoc in _], "assoc_left": [f for f, b in zip(files, blobs) if assoc in b]}
    finally:
        run.stop()


def test_the_scan_finds_the_data_before_the_reset(reset_run):
    before = reset_run["before"]
    files = {f for f, _ in before}
    whats = {w for _, w in before}
    assert {"config.rec", "outbox.json", "events.log", "lastfix.json", "platform.json"} <= files, files
    assert any(f.startswith("pq/") for f in files), files  # the platform's queued alert events
    assert any(w.endswith("PDU semi-octets") for w in whats) and "platform password" in whats
    assert "latitude" in whats and any(w.startswith("wearer") for w in whats)


def test_nothing_personal_is_left_on_the_flash(reset_run):
    assert reset_run["rc"] == 0
    assert reset_run["after"] == [], reset_run["after"]
    # what stays: the new empty record and the simulated board's own files
    left = [f for f in reset_run["files"] if not f.startswith("sim_")]
    assert set(left) <= {"config.rec", "pinlock.rec", "events.log", "evidence/seq"}, reset_run["files"]


def test_the_device_key_and_the_association_key_are_erased(reset_run):
    """Issue 21: the device key's file is shredded with the rest; its bytes are nowhere on the flash."""
    assert len(reset_run["device_seed"]) == 32
    assert "device.key" not in reset_run["files"] and reset_run["seed_left"] == []
    assert reset_run["assoc_before"] and reset_run["assoc_left"] == []  # the settings' association key too


def test_the_button_says_not_configured(reset_run, capsys):
    run = reset_run["run"]
    capsys.readouterr()
    assert cli.main(["--port", run.console_port, "--json", "status"]) == 0
    h = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert h["configured"] is False and h["pin_set"] is False
    assert cli.main(["--port", run.console_port, "--json", "logs", "-n", "50"]) == 0
    text = capsys.readouterr().out
    assert not any(p.decode("utf-8", "replace") in text for p in needles() if len(p) >= 6), text
