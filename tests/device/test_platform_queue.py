# Store-and-forward queue (firmware/platform/queue.py) in the VM: order, acks, bounds and drop policy,
# sequence numbers across reboots, and a power cut at every block write of a history of puts, acks
# and drops on the real LittleFS driver (os.VfsLfs2 over boards/simlib/ramblock.py).
import os

from firmware.platform.queue import PlatformQueue
from ramblock import RamBlockDev, PowerCut

_n = [0]


def fresh_dir():
    _n[0] += 1
    return "pq%d" % _n[0]


def ev(i, size=40):
    body = '{"e":%d,"pad":"' % i
    return (body + "x" * max(0, size - len(body) - 2) + '"}').encode()


def test_fifo_alerts_first_and_ack():
    q = PlatformQueue(fresh_dir())
    s1 = q.put(ev(1))
    s2 = q.put(ev(2), alert=True)
    s3 = q.put(ev(3), kind="t", group=2)
    assert s1 < s2 < s3
    assert q.next() == (s2, "a", ev(2))  # alert events go first, oldest first
    assert q.ack(s2)
    assert q.next() == (s3, "t", ev(3))
    q.ack(s3)
    assert q.next() == (s1, "h", ev(1))
    q.ack(s1)
    assert q.next() is None and len(q) == 0
    assert not q.ack(s1)  # a second ack of the same event is harmless


def _alert(q, aid, events=("triggered", "sms", "sms", "dispatched", "ended")):
    return [(q.put(ev(aid * 10 + i), kind="t" if e == "triggered" else "a", group=aid), aid, e)
            for i, e in enumerate(events)]


def _kept(q, puts):
    seqs = set(e[0] for e in q.index)
    return [(aid, e) for s, aid, e in puts if s in seqs]


def test_a_newer_heartbeat_replaces_the_queued_one():
    q = PlatformQueue(fresh_dir())
    q.put(ev(1))
    a = q.put(ev(2), kind="t", group=1)
    h2 = q.put(ev(3))
    assert [e[0] for e in q.index] == [a, h2] and q.dropped == 0  # replaced, not lost: not counted
    assert sorted(os.listdir(q.path)) == sorted(["meta", "%010dt1" % a, "%010dh0" % h2])


def test_full_queue_drops_superseded_states_first_never_a_trigger_nor_a_latest_state():
    # the issue's case: four alerts while offline in a small queue. Before issue 25 the oldest alert
    # events went first: alert 1 lost its triggered and its ended, and the heartbeat went too.
    q = PlatformQueue(fresh_dir(), max_items=8, max_bytes=100000)
    q.put(ev(0))  # the boot heartbeat
    puts = []
    for aid in (1, 2, 3, 4):
        puts += _alert(q, aid)
    kept = _kept(q, puts)
    for aid in (1, 2, 3, 4):
        assert (aid, "triggered") in kept and (aid, "ended") in kept, (aid, kept)
    assert [e[1] for e in q.index].count("h") == 1  # the heartbeat that will report the drops
    assert len(q) == 9 and q.dropped == 12, (len(q), q.dropped)  # over the 8 items: protected ones only
    # superseded states went oldest first: the newest alert keeps more of its story than the others
    assert kept == [(a, e) for a in (1, 2, 3, 4) for e in ("triggered", "ended")], kept


def test_evidence_heads_supersede_earlier_heads_of_their_recording():
    q = PlatformQueue(fresh_dir(), max_items=4, max_bytes=100000)
    e1 = q.put(ev(1), kind="e", group=7)
    t = q.put(ev(2), kind="t", group=3)
    e2 = q.put(ev(3), kind="e", group=7)
    e3 = q.put(ev(4), kind="e", group=8)
    e4 = q.put(ev(5), kind="e", group=7)
    assert [e[0] for e in q.index] == [t, e3, e4] or [e[0] for e in q.index] == [t, e2, e3, e4], q.index
    assert e1 not in [e[0] for e in q.index] and q.dropped >= 1


def test_the_last_resort_past_twice_the_bounds():
    q = PlatformQueue(fresh_dir(), max_items=4, max_bytes=100000)
    trig = [q.put(ev(i), kind="t", group=i) for i in range(1, 10)]  # nine alerts, only their triggers
    assert len(q) == 8 and [e[0] for e in q.index] == trig[1:], q.index  # the oldest goes past 2 x 4
    assert q.dropped == 1


def test_byte_budget():
    q = PlatformQueue(fresh_dir(), max_items=100, max_bytes=1000)
    for i in range(30):
        q.put(ev(i, 100), kind="a", group=i // 10)
    assert q.bytes <= 1000 and len(q) == 10
    assert q.dropped == 20
    try:
        q.put(b"x" * 600)
        raise AssertionError("an event larger than half the budget must be refused")
    except ValueError:
        pass


def test_reopen_keeps_events_drops_and_never_reuses_seq():
    d = fresh_dir()
    q = PlatformQueue(d, max_items=3)
    seqs = [q.put(ev(i), kind="t" if i == 0 else "a", group=1) for i in range(5)]
    assert q.dropped == 2
    q2 = PlatformQueue(d, max_items=3)  # a reboot
    assert q2.index == q.index
    assert q2.dropped == 2  # the count survives the reboot: the next heartbeat reports it
    assert q2.next() == (seqs[0], "t", ev(0))
    for s in seqs:
        q2.ack(s)
    assert len(q2) == 0
    q3 = PlatformQueue(d, max_items=3)  # reboot with an empty queue
    s = q3.put(ev(9))
    assert s > seqs[-1], (s, seqs)


def test_files_queued_before_issue_25_are_still_sent():
    d = fresh_dir()
    os.mkdir(d)
    for name, body in (("0000000005a", ev(5)), ("0000000006h", ev(6))):
        with open(d + "/" + name, "wb") as f:
            f.write(body)
    q = PlatformQueue(d)
    assert q.next() == (5, "a", ev(5)) and q.ack(5)
    assert q.next() == (6, "h", ev(6)) and q.ack(6)
    assert [n for n in os.listdir(d) if n != "meta"] == []


def test_leftover_temp_file_is_ignored():
    d = fresh_dir()
    q = PlatformQueue(d)
    s = q.put(ev(1), alert=True)
    with open(d + "/put.tmp", "wb") as f:
        f.write(b'{"half')  # what a power cut in the middle of a put leaves
    q2 = PlatformQueue(d)
    assert [e[0] for e in q2.index] == [s]
    assert "put.tmp" not in os.listdir(d)


# --- power cuts -----------------------------------------------------------------------------------

MNT = "/pqf"
HISTORY = [("put", 1, True), ("put", 2, False), ("put", 3, True), ("ack",), ("put", 4, False),
           ("put", 5, True), ("put", 6, True), ("put", 7, False), ("ack",), ("ack",), ("put", 8, True),
           ("put", 9, False), ("put", 10, True), ("ack",)]
MAX_ITEMS = 4


def _mount(dev):
    try:
        os.umount(MNT)
    except OSError:
        pass
    os.mount(os.VfsLfs2(dev), MNT)


def _open():
    return PlatformQueue(MNT + "/pq", max_items=MAX_ITEMS)


def _state(q):
    out = {}
    for e in q.index:
        with open(q._file(e), "rb") as f:
            out[e[0]] = f.read()
    return out


def _apply(q, op):
    if op[0] == "put":
        return q.put(ev(op[1], 150), alert=op[2])
    nxt = q.next()
    q.ack(nxt[0])
    return nxt[0]


def test_power_cut_at_every_write():
    dev = RamBlockDev(block_size=512, blocks=128)
    os.VfsLfs2.mkfs(dev)
    _mount(dev)
    q = _open()
    cuts = lost = dup_ok = 0
    handed = 0  # highest sequence number ever handed out
    for op in HISTORY:
        before = _state(q)
        drops_before = q.dropped
        image = RamBlockDev(dev.block_size, dev.blocks, dev.data)
        # dry run of this op to learn its write count and the state after it
        probe = image.snapshot()
        _mount(probe)
        pq = _open()
        w0 = probe.writes
        res = _apply(pq, op)
        after = _state(pq)
        drops_after = pq.dropped
        n = probe.writes - w0
        for k in range(n):
            d = image.snapshot()
            _mount(d)
            cq = _open()
            d.cut_after = d.writes + k
            try:
                _apply(cq, op)
                raise AssertionError("no power cut at write %d of %r" % (k, op))
            except PowerCut:
                pass
            cuts += 1
            r = d.snapshot()  # the reboot
            try:
                _mount(r)
            except OSError as e:
                raise AssertionError("unmountable after a cut at write %d of %r: %r" % (k, op, e))
            rq = _open()
            got = _state(rq)
            for s in got:  # nothing torn, nothing invented
                want = before.get(s, after.get(s))
                assert want is not None, ("unknown seq", s, op, k)
                assert got[s] == want, ("torn event", s, op, k)
            for s in before:  # committed events survive unless this op removes them
                if s not in got and s in after:
                    lost += 1
            assert rq.dropped >= drops_before, ("drop count lost", op, k)
            # an in-flight put whose file never landed may hand its number out again: nobody saw it
            top = max([handed] + list(got))
            s_new = rq.put(b"{}")
            assert s_new > top, ("sequence number reused after a cut", s_new, top, op, k)
            if op[0] == "ack" and res in got:
                dup_ok += 1  # acked just as the power went: sent again later, deduplicated by seq
        # the op for real on the main image
        _mount(dev)
        q = _open()
        res2 = _apply(q, op)
        if op[0] == "put":
            handed = max(handed, res2)
        assert _state(q) == after
        assert q.dropped == drops_after
    assert cuts > 40, cuts
    assert lost == 0, lost
    print("power cuts:", cuts, "lost:", lost, "acks undone by the cut (resent):", dup_ok)
    os.umount(MNT)
