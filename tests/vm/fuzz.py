# Fuzzing inside the MicroPython VM: the AT line engine, the +CDS status-report decoder, the NMEA
# parser, the console and the config loader each take N random and mutated inputs built from real
# traffic. An uncaught exception (or, for decoders, any exception other than the documented
# ValueError) counts as a failure. Usage: micropython fuzz.py N [target ...]; prints one JSON line.
import json
import random
import sys
import time

SEED_AT = (b"\r\n*ATREADY: 1\r\n", b"\r\n+CPIN: READY\r\n", b"\r\nSMS DONE\r\n", b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n",
           b"\r\n> ", b"\r\n+CMGS: 17\r\n\r\nOK\r\n", b"\r\n+CMS ERROR: 500\r\n", b"\r\n+CMTI: \"SM\",3\r\n",
           b"\r\n+CDS: 25\r\n07913306092010F0062A0B913316325406F16211625102314062116251024140" + b"00\r\n",
           b"\r\n+CGNSSINFO: 3,08,04,03,48.856610,N,2.352220,E,261126,143002.8,35.0,0.0,0.0,1.9,1.2,1.5\r\n",
           b"\r\nERROR\r\n", b"\r\n+CME ERROR: SIM not inserted\r\n", b"\r\nRING\r\n", b"\r\n+CEREG: 0,1\r\n")
SEED_CDS = "07913306092010F0062A0B913316325406F1" + "62116251023140" + "62116251024140" + "00"
SEED_NMEA = (b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n",
             b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n",
             b"$GNGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39\r\n",
             b"$GPGLL,4916.45,N,12311.12,W,225444,A,*1D\r\n", b"$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48\r\n")


def mutate(rng, data):
    b = bytes(data)
    for _ in range(1 + rng.getrandbits(2)):
        op = rng.getrandbits(3)
        if not b:
            b = random_bytes(rng, rng.getrandbits(4))
            continue
        i = rng.getrandbits(16) % len(b)
        if op == 0:
            b = b[:i] + bytes((rng.getrandbits(8),)) + b[i + 1:]
        elif op == 1:
            b = b[:i] + b[i + 1 + rng.getrandbits(3):]
        elif op == 2:
            b = b[:i] + random_bytes(rng, 1 + rng.getrandbits(3)) + b[i:]
        elif op == 3:
            b = b[:i] + b[:rng.getrandbits(16) % len(b)] + b[i:]
        elif op == 4:
            b = b[:i]
        elif op == 5:
            b = b[:i] + bytes((b[i] ^ (1 << rng.getrandbits(3)),)) + b[i + 1:]
        elif op == 6:
            b = b[:i] + b",,,," + b[i:]
        else:
            b = b[:i] + b"\r\n" + b[i:]
    return b


def random_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def fuzz_at(rng, n):
    import asyncio
    from drivers.modem.at_channel import AtChannel

    class Null:
        def write(self, b):
            return len(b)

    ch = AtChannel(Null())
    ch.on_urc(b"+CMTI:", lambda ln: None)
    ch.on_urc(b"+CDS:", lambda a, b: None, lines=2)
    ch.on_urc(b"+CPIN:", lambda ln: ln.endswith(b"READY"))
    bad = 0
    for k in range(n):
        if k % 7 == 0:  # sometimes a command is in progress, sometimes waiting for the prompt
            ch._cmd = (b"AT+CSQ", b"AT+CMGS=20", None)[k % 3]
            ch._expect = (b"+CSQ:", b"+CMGS:", None)[k % 3]
            ch._lines = []
            ch._final = None
            ch._done = asyncio.Event()
            ch._prompt = asyncio.Event()
            ch._want_prompt = k % 3 == 1
        data = mutate(rng, SEED_AT[rng.getrandbits(8) % len(SEED_AT)]) if k % 4 else random_bytes(rng, 1 + k % 97)
        try:
            ch._feed(bytearray(data), len(data))
        except Exception as e:
            bad += 1
    return bad


def fuzz_cds(rng, n):
    from firmware.core.sms_status import decode_status_report
    bad = 0
    hexd = "0123456789ABCDEF"
    for k in range(n):
        if k % 3 == 0:
            s = "".join(hexd[rng.getrandbits(4)] for _ in range(rng.getrandbits(7)))
        else:
            s = mutate(rng, SEED_CDS.encode()) if k % 3 == 1 else \
                SEED_CDS[:rng.getrandbits(6)] + "".join(hexd[rng.getrandbits(4)] for _ in range(rng.getrandbits(5)))
        try:
            decode_status_report(s)
        except ValueError:
            pass
        except Exception:
            bad += 1
    return bad


def fuzz_nmea(rng, n):
    from firmware.core.nmea import NmeaParser
    p = NmeaParser(on_fix=lambda f: None)
    bad = 0
    for k in range(n):
        data = mutate(rng, SEED_NMEA[rng.getrandbits(8) % len(SEED_NMEA)]) if k % 5 else random_bytes(rng, 1 + k % 83)
        try:
            p.feed(bytearray(data))
        except Exception:
            bad += 1
    return bad


def fuzz_config(rng, n):
    import os
    from firmware.settings import config_store, config as settings
    good = config_store.pack(settings.MAGIC, settings.SCHEMA, 1, {
        "wearer": "Camille", "lang": "fr", "gestures": [{"action": "alert", "presses": 3, "within_ms": 2500}],
        "contacts": [{"slot": 1, "name": "Sophie", "number": "+33612345601"}]})
    payloads = ('{"contacts": 5}', '{"contacts": [{"slot": "x"}]}', '{"gestures": [{"presses": 99}]}',
                '{"lang": 7, "wearer": null}', '[]', '"x"', '{"contacts": [{"slot": 1, "number": "+1"}]}',
                '{"alert_active_s": -5, "sms_rounds": "many"}', '{"gestures": "all"}', '{}')
    bad = 0
    for k in range(n):
        if k % 3 == 0:
            data = mutate(rng, good)
        elif k % 3 == 1:  # CRC-valid records whose content is nonsense
            try:
                obj = json.loads(mutate(rng, payloads[k % len(payloads)].encode()).decode())
            except (ValueError, UnicodeError):
                obj = {"x": k}
            data = config_store.pack(settings.MAGIC, rng.getrandbits(3), k, obj)
        else:
            data = random_bytes(rng, rng.getrandbits(7))
        try:
            if k % 50 == 0:  # the whole path through the record files now and then
                with open(settings.PATH, "wb") as f:
                    f.write(data)
                settings._store = None
                cfg = settings.load(legacy=None)
            else:  # the same decoding steps in memory, fast enough for 10^5 inputs
                try:
                    schema, seq, obj = config_store.unpack(data, settings.MAGIC)
                    obj = settings.migrate(schema, obj)
                except ValueError:
                    obj = None
                cfg = settings.from_payload(obj or {}, [])
            if not isinstance(cfg["contacts"], list) or not cfg["gestures"]:
                bad += 1
                print("FAIL config result", repr(data), cfg)
        except Exception as e:
            bad += 1
            print("FAIL config", repr(data), repr(e))
    return bad


def fuzz_console(rng, n):
    import console_fuzz
    counts, failures = console_fuzz.run(n, seed=rng.getrandbits(16))
    return counts["uncaught"] + counts["bad"]


TARGETS = {"at": fuzz_at, "cds": fuzz_cds, "nmea": fuzz_nmea, "config": fuzz_config, "console": fuzz_console}


def main():
    n = int(sys.argv[1])
    names = sys.argv[2:] or list(TARGETS)
    out = {}
    for name in names:
        random.seed(12345)
        rng = random  # MicroPython's random is one module-level generator
        t = time.ticks_ms()
        bad = TARGETS[name](rng, n)
        out[name] = {"inputs": n, "failures": bad, "seconds": time.ticks_diff(time.ticks_ms(), t) / 1000}
    print("FUZZ", json.dumps(out))


main()
