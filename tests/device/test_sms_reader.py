# AtChannel follow=True (the PDU line after +CMGR/+CMGL) and the SMS reader's logic against a fake
# modem store. The same reader against the modem simulator over a pty: tests/host/test_inbound_vm.py.
import asyncio

from drivers.modem.at_channel import AtChannel, Response
from firmware.core.errors import AtError
from drivers.modem.sms_reader import SmsReader, parse_cmti
from firmware.core.sms_deliver import sent_utc
from firmware.core import gsm7
from firmware.core.sms_reassembly import Reassembler


class NullStream:
    def write(self, b):
        return len(b)


def feed(ch, data):
    buf = bytearray(data)
    ch._feed(buf, len(buf))


def pending(ch, cmd, expect, follow):
    ch._cmd, ch._expect, ch._follow, ch._want_follow = cmd, expect, follow, False
    ch._lines, ch._final = [], None
    ch._done, ch._prompt = asyncio.Event(), asyncio.Event()
    ch._want_prompt = False


def test_follow_keeps_the_pdu_line_and_routes_a_urc_in_between():
    ch = AtChannel(NullStream())
    urcs = []
    ch.on_urc(b"+CMTI:", urcs.append)
    pending(ch, b"AT+CMGR=3", b"+CMGR:", True)
    feed(ch, b"\r\n+CMGR: 0,,25\r\n+CMTI: \"SM\",4\r\n0791AB\r\n\r\nOK\r\n")
    assert ch._lines == [b"+CMGR: 0,,25", b"0791AB"] and urcs == [b'+CMTI: "SM",4'] and ch._final == b"OK"


def test_follow_pairs_every_cmgl_entry():
    ch = AtChannel(NullStream())
    pending(ch, b"AT+CMGL=4", b"+CMGL:", True)
    feed(ch, b"\r\n+CMGL: 0,1,,20\r\nAA\r\n+CMGL: 3,0,,21\r\nBB\r\n\r\nOK\r\n")
    assert ch._lines == [b"+CMGL: 0,1,,20", b"AA", b"+CMGL: 3,0,,21", b"BB"]


def test_without_follow_the_unprefixed_line_is_still_dropped():
    ch = AtChannel(NullStream())
    pending(ch, b"AT+CMGR=3", b"+CMGR:", False)
    feed(ch, b"\r\n+CMGR: 0,,25\r\n0791AB\r\n\r\nOK\r\n")
    assert ch._lines == [b"+CMGR: 0,,25"] and ch.stats["stray"] == 1


def test_follow_takes_only_the_next_line():
    ch = AtChannel(NullStream())
    pending(ch, b"AT+CMGR=3", b"+CMGR:", True)
    feed(ch, b"\r\n+CMGR: 0,,25\r\nAA\r\nBB\r\n\r\nOK\r\n")
    assert ch._lines == [b"+CMGR: 0,,25", b"AA"]


def test_parse_cmti():
    assert parse_cmti(b'+CMTI: "SM",3') == 3 and parse_cmti(b'+CMTI: "ME",12') == 12
    assert parse_cmti(b"+CMTI: junk") == -1 and parse_cmti(b'+CMTI: "SM",') == -1


# --- reader against a fake modem ------------------------------------------------------------------

SMSC = "07913386094000F0"
SCTS = "62117261753340"


def pdu(text, oa="0B913316325476F8", udh=None):
    if udh is None:
        return SMSC + "04" + oa + "0000" + SCTS + "%02X" % len(text) + _h(gsm7.pack_septets(text))
    # 8-bit concat header + GSM-7 with 1 fill bit, laid out bit by bit
    codes = gsm7.encode_septets(text)
    out = bytearray(udh)
    bits = 7 * 7
    for c in codes:
        for k in range(7):
            if c >> k & 1:
                j = (bits + k) >> 3
                while len(out) <= j:
                    out.append(0)
                out[j] |= 1 << ((bits + k) & 7)
        bits += 7
    while len(out) < (bits + 7) // 8:
        out.append(0)
    return SMSC + "44" + oa + "0000" + SCTS + "%02X" % (7 + len(codes)) + _h(out)


def _h(b):
    return "".join(["%02X" % x for x in b])


class FakeAt:
    def __init__(self, store):
        self.store = store  # index -> pdu hex
        self.cmds = []
        self.fail = {}

    async def command(self, cmd, timeout_ms=5000, expect=None, follow=False):
        self.cmds.append(cmd)
        if cmd in self.fail:
            raise AtError(self.fail[cmd])
        if cmd.startswith("AT+CMGR="):
            i = int(cmd[8:])
            if i not in self.store:
                raise AtError(b"+CMS ERROR: 321")
            return Response(b"OK", [b"+CMGR: 0,,20", self.store[i].encode()])
        if cmd == "AT+CMGL=4":
            lines = []
            for i in sorted(self.store):
                lines += [b"+CMGL: %d,0,,20" % i, self.store[i].encode()]
            return Response(b"OK", lines)
        if cmd.startswith("AT+CMGD="):
            self.store.pop(int(cmd[8:]), None)
            return Response(b"OK", [])
        raise AtError(b"ERROR")


class FakeModem:
    def __init__(self, store):
        self.at = FakeAt(store)
        self.ready = asyncio.Event()
        self.ready.set()
        self.on_sms_received = None


def make(store, t=[0]):
    m = FakeModem(store)
    got, log = [], []
    r = SmsReader(m, got.append, log=lambda ev, **kw: log.append((ev, kw)), now=lambda: t[0],
                  reassembler=Reassembler(slots=2, max_parts=4, timeout_ms=1000))
    return m, r, got, log


async def test_startup_sweep_reads_handles_and_deletes_everything():
    store = {0: pdu("OK"), 4: pdu("STOP 1234")}
    m, r, got, log = make(store)
    assert m.on_sms_received == r.on_cmti
    await r.step()
    assert [g.text for g in got] == ["OK", "STOP 1234"] and store == {}
    assert m.at.cmds == ["AT+CMGL=4", "AT+CMGD=0", "AT+CMGD=4"]
    assert not [e for e in log if e[0] not in ("sms_received", "sms_sweep")], log


async def test_cmti_reads_one_index_and_deletes_after_handling():
    store = {}
    m, r, got, log = make(store)
    await r.step()  # startup sweep of an empty store
    store[7] = pdu("Recu")
    m.on_sms_received(b'+CMTI: "SM",7')
    m.on_sms_received(b'+CMTI: "SM",7')  # repeated: queued once
    await r.step()
    assert [g.text for g in got] == ["Recu"] and m.at.cmds[1:] == ["AT+CMGR=7", "AT+CMGD=7"]


async def test_unknown_index_is_skipped_and_flood_turns_into_a_sweep():
    store = {2: pdu("OK")}
    m, r, got, log = make(store)
    r._sweep = False
    for i in range(20):
        m.on_sms_received(b'+CMTI: "SM",%d' % (i + 10))
    assert r._sweep  # more than the queue holds
    await r.step()
    assert [g.text for g in got] == ["OK"] and m.at.cmds[0] == "AT+CMGL=4"
    m.on_sms_received(b'+CMTI: "SM",9')
    await r.step()
    assert ("sms_read_failed", {"index": 9, "err": b"+CMS ERROR: 321"}) in log


async def test_concatenated_parts_stay_on_the_sim_until_complete():
    t = [0]
    p1 = pdu("POSITION ", udh=bytes((5, 0, 3, 9, 2, 1)))
    p2 = pdu("1234", udh=bytes((5, 0, 3, 9, 2, 2)))
    store = {5: p2}
    m, r, got, log = make(store, t)
    await r.step()
    assert got == [] and 5 in store  # part 2 alone: kept
    store[6] = p1
    m.on_sms_received(b'+CMTI: "SM",6')
    await r.step()
    assert [g.text for g in got] == ["POSITION 1234"] and store == {}


async def test_incomplete_message_times_out_and_its_parts_are_deleted():
    t = [0]
    store = {1: pdu("abc", udh=bytes((5, 0, 3, 3, 2, 1)))}
    m, r, got, log = make(store, t)
    await r.step()
    assert 1 in store
    t[0] = 1500
    await r.step()
    assert store == {} and got == []
    assert ("sms_parts_dropped", {"got": 1, "total": 2, "why": "timeout"}) in log


async def test_undecodable_is_retried_once_then_deleted_and_other_types_deleted():
    store = {0: "07913386094000F004ZZ", 1: "0006" + "2A0B913316325476F8" + SCTS + SCTS + "00"}
    m, r, got, log = make(store)
    await r.step()
    assert 0 in store and 1 not in store  # status report deleted at once, garbage kept for a retry
    r.sweep_soon()
    await r.step()
    assert store == {} and got == []
    assert [e[1]["deleted"] for e in log if e[0] == "sms_undecodable"] == [False, True]
    assert ("sms_not_deliver", {"index": 1, "mti": 2}) in log


def compressed(oa="0B913396969696F6"):
    """An SMS-DELIVER with DCS 0x20 (compressed GSM-7: no phone sends it, the decoder refuses it),
    from a stranger's number."""
    return SMSC + "04" + oa + "0020" + SCTS + "05" + "C8329BFD06"


class MemStore:
    def __init__(self):
        self.data = None
        self.saves = 0

    def load(self):
        return self.data

    def save(self, v):
        self.data = v
        self.saves += 1


async def test_a_full_sim_of_undecodable_sms_is_emptied_and_the_stop_behind_it_read():
    # 15 compressed SMS from a stranger (more than the 8 indices the reader once remembered: none
    # reached its second look, the SIM stayed full and no STOP was ever read again)
    t = [0]
    store = {i: compressed() for i in range(15)}
    m, r, got, log = make(store, t)
    r.retry_ms = 30000
    await r.step()
    assert len(store) == 15 and got == []  # first look: kept, in case the line was garbled
    assert r._retry_at is not None  # the second look is planned, not left to the 10-min sweep
    t[0] = 30000
    r._sweep = True  # what run() does once retry_ms has passed
    await r.step()
    assert store == {}, sorted(store)
    assert sum(1 for e in log if e[0] == "sms_undecodable" and e[1]["deleted"]) == 15
    store[3] = pdu("STOP 1234")
    m.on_sms_received(b'+CMTI: "SM",3')
    await r.step()
    assert [g.text for g in got] == ["STOP 1234"]


async def test_run_gives_the_second_look_after_retry_ms_not_the_sweep_interval():
    store = {i: compressed() for i in range(12)}
    m = FakeModem(store)
    r = SmsReader(m, lambda s: None, sweep_ms=600000, retry_ms=50)
    task = asyncio.create_task(r.run())
    await asyncio.sleep_ms(300)
    task.cancel()
    assert store == {}


async def test_bad_indices_survive_a_reset_and_a_new_message_at_the_same_index_gets_its_first_look():
    ms = MemStore()
    store = {i: compressed() for i in range(12)}
    m = FakeModem(store)
    r = SmsReader(m, lambda s: None, bad_store=ms)
    await r.step()
    assert len(store) == 12 and len(ms.data) == 12
    # reset: a new reader (same flash) deletes them on its first sweep, they had their first look
    store[5] = compressed("0B913396969696F7")  # index 5 now holds another message: first look
    got = []
    r2 = SmsReader(FakeModem(store), got.append, bad_store=ms)
    await r2.step()
    assert sorted(store) == [5] and [p[0] for p in ms.data] == [5]
    ms.data.append("junk")  # a damaged file entry is dropped, never fatal
    r3 = SmsReader(FakeModem(store), got.append, bad_store=ms)
    await r3.step()
    assert store == {} and ms.data == []


async def test_a_failing_handler_still_deletes_the_message():
    store = {3: pdu("OK")}
    m = FakeModem(store)
    log = []

    def boom(sms):
        raise RuntimeError("feature broken")
    r = SmsReader(m, boom, log=lambda ev, **kw: log.append(ev))
    await r.step()
    assert store == {} and "sms_handler_error" in log


def test_sent_utc_from_the_sc_timestamp():
    class S:
        scts = (2026, 11, 27, 16, 57, 33, 4)
    class N:
        scts = None
    from firmware.core import clock
    assert sent_utc(S) == clock.epoch(2026, 11, 27, 15, 57, 33)
    assert sent_utc(N) is None
