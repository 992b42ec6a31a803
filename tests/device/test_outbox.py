# Persisted outbox and delivery-report decoding.
import os
from firmware.alert.outbox import Outbox, PENDING, ACCEPTED, DELIVERED, FAILED
from firmware.core.sms_status import decode_status_report, classify
from firmware.alert.manager import backoff_ms

ITEMS = [(0, "+33612345601", "00AA", 1), (2, "+33612345603", "00BB", 1)]


def fresh(name):
    try:
        os.remove(name)
    except OSError:
        pass
    return Outbox(name)


def test_open_persists_before_anything_else():
    ob = fresh("ob1.json")
    ob.open(7, "alert", ITEMS)
    again = Outbox("ob1.json")
    assert again.alert_id == 7 and again.unfinished() and len(again.pending()) == 2
    assert again.recs[1]["c"] == 2 and again.recs[1]["to"] == "+33612345603"


def test_accepted_and_failed_are_final_closed_is_not_resumed():
    ob = fresh("ob2.json")
    ob.open(1, "alert", ITEMS)
    ob.set(0, st=ACCEPTED, mr=12)
    assert Outbox("ob2.json").unfinished()
    ob.set(1, st=FAILED, err=1)
    assert not Outbox("ob2.json").unfinished()
    ob.open(2, "alert", ITEMS)
    ob.close()
    again = Outbox("ob2.json")
    assert not again.unfinished() and again.alert_id == 2  # ids keep increasing across resets


def test_corrupt_or_foreign_file_is_not_trusted():
    for content in (b"{not json", b'{"magic": "ABOX", "v": 1, "alert": 3, "recs": [{"to": 5}]}',
                    b'{"magic": "XXXX", "v": 1}', b""):
        with open("ob3.json", "wb") as f:
            f.write(content)
        ob = Outbox("ob3.json")
        assert not ob.unfinished() and ob.recs == []


def test_find_by_message_reference():
    ob = fresh("ob4.json")
    ob.open(1, "alert", ITEMS)
    ob.set(1, st=ACCEPTED, mr=200)
    assert ob.find_mr(200, "0612345603") == 1  # national form in the report still matches
    assert ob.find_mr(200, "+33699999999") == -1
    assert ob.find_mr(5) == -1


def test_backoff_grows_with_jitter_and_caps_at_5_min():
    vals = [backoff_ms(a, lambda: 0.5) for a in range(1, 12)]
    assert vals[0] == 5000 and vals[1] == 10000 and vals[-1] == 300000
    assert backoff_ms(1, lambda: 0.0) == 4000 and backoff_ms(1, lambda: 0.999) >= 5990


# SMS-STATUS-REPORT built by hand from 3GPP 23.040 9.2.2.3: SCA 07 91 3306092010F0, first octet 06,
# MR 0x2A, RA 11 digits 91 3316325406F1 (+33612345601), SCTS, DT, ST 00
SR = "07913306092010F0062A0B913316325406F1" + "62116251023140" + "62116251024140" + "00"


def test_status_report_decodes():
    mr, number, st = decode_status_report(SR)
    assert (mr, number, st) == (0x2A, "+33612345601", 0) and classify(st) == "delivered"
    assert classify(0x21) == "trying" and classify(0x41) == "failed" and classify(0x65) == "failed"


def test_status_report_rejects_garbage_with_valueerror():
    for bad in ("", "ZZ", "00", SR[:30], "0011000B913316325406F10000A905E8329BFD06", SR + "GG"):
        try:
            decode_status_report(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_source_survives_a_reset_and_old_files_still_load():
    ob = fresh("ob5.json")
    ob.open(4, "alert", ITEMS, "fall")
    again = Outbox("ob5.json")
    assert again.source == "fall" and again.kind == "alert" and again.unfinished()
    ob.set(0, st=ACCEPTED, mr=3)  # every later save keeps it
    assert Outbox("ob5.json").source == "fall"
    # written before the source was stored: loads, resumes, source unknown (None)
    with open("ob6.json", "w") as f:
        f.write('{"magic": "ABOX", "v": 1, "alert": 9, "kind": "alert", "closed": false, "recs": '
                '[{"c": 0, "to": "+33612345601", "pdu": "00AA", "n": 1, "st": "pending", "mr": -1, '
                '"att": 0, "err": 0}]}')
    old = Outbox("ob6.json")
    assert old.unfinished() and old.alert_id == 9 and old.source is None
    with open("ob7.json", "w") as f:  # a non-string source is dropped, the alert still resumes
        f.write('{"magic": "ABOX", "v": 1, "alert": 2, "src": 5, "recs": '
                '[{"c": 0, "to": "+33612345601", "pdu": "00AA", "n": 1, "st": "pending"}]}')
    bad = Outbox("ob7.json")
    assert bad.unfinished() and bad.source is None


class _Modem:
    def __init__(self):
        import asyncio
        self.ready = asyncio.Event()
        self.on_status_report = None


def test_resumed_alert_reports_its_source():
    from firmware.alert.manager import AlertManager, DISPATCHING
    ob = fresh("ob8.json")
    ob.open(3, "alert", ITEMS, "fall")
    am = AlertManager({}, _Modem(), None, lambda: 50, lambda *a, **k: None, outbox=Outbox("ob8.json"))
    import asyncio

    async def go():
        am.start()
        await asyncio.sleep_ms(0)
        am.task.cancel()
    asyncio.run(go())
    assert am.state == DISPATCHING and am.source == "fall" and am.kind == "alert"
