# Concatenated SMS reassembly: order, duplicates, timeouts across the ticks wrap, bounded slots.
from time import ticks_add

from firmware.core.sms_reassembly import COMPLETE, DUPLICATE, PENDING, REFUSED, Reassembler

NEAR_WRAP = ticks_add(0, -300)  # a few hundred ms before ticks_ms wraps


class P:  # what firmware.core.sms_deliver.decode returns, reduced to what reassembly reads
    def __init__(self, text, ref=0, total=1, seq=1, sender="+33612345678", ref16=False, scts=(2026, 1, 1, 0, 0, 0, 4)):
        self.text, self.ref, self.total, self.seq = text, ref, total, seq
        self.sender, self.ref16, self.scts = sender, ref16, scts


def parts(text, n, ref=1, **kw):
    size = (len(text) + n - 1) // n
    return [P(text[k * size:(k + 1) * size], ref, n, k + 1, **kw) for k in range(n)]


def test_single_part_passes_through():
    r = Reassembler()
    st, msg, dele = r.add(P("OK"), 4, 0)
    assert st == COMPLETE and msg.text == "OK" and dele == (4,)


def test_any_arrival_order_joins_in_part_order_and_deletes_every_index():
    text = "POSITION 1234 merci de repondre"
    for order in ((0, 1, 2), (2, 1, 0), (1, 2, 0)):
        r = Reassembler()
        ps = parts(text, 3)
        out = [r.add(ps[k], 10 + k, 100 * i) for i, k in enumerate(order)]
        assert [o[0] for o in out] == [PENDING, PENDING, COMPLETE]
        assert out[-1][1].text == text and out[-1][1].seq == 1
        assert sorted(out[-1][2]) == [10, 11, 12] and r.pending() == 0


def test_messages_are_kept_apart_by_sender_reference_and_reference_size():
    r = Reassembler(slots=4)
    a = parts("aaaabbbb", 2, ref=5)
    b = parts("ccccdddd", 2, ref=5, sender="+33750000000")
    c = parts("eeeeffff", 2, ref=5, ref16=True)
    for ps, base in ((a, 0), (b, 10), (c, 20)):
        assert r.add(ps[0], base, 0)[0] == PENDING
    assert r.add(c[1], 21, 1)[1].text == "eeeeffff"
    assert r.add(b[1], 11, 1)[1].text == "ccccdddd"
    assert r.add(a[1], 1, 1)[1].text == "aaaabbbb"


def test_duplicate_part_is_deleted_but_the_same_stored_part_is_not():
    r = Reassembler()
    ps = parts("abcdef", 2)
    r.add(ps[0], 3, 0)
    assert r.add(ps[0], 3, 1) == (DUPLICATE, None, ())  # listed again by a sweep: keep it
    assert r.add(ps[0], 8, 2) == (DUPLICATE, None, (8,))  # redelivered copy: delete it
    st, msg, dele = r.add(ps[1], 4, 3)
    assert st == COMPLETE and msg.text == "abcdef" and sorted(dele) == [3, 4]


def test_redelivered_whole_message_is_a_duplicate_within_the_window_only():
    r = Reassembler(recent_ms=1000)
    assert r.add(P("STOP 1234"), 1, 0)[0] == COMPLETE
    assert r.add(P("STOP 1234"), 2, 500) == (DUPLICATE, None, (2,))
    assert r.add(P("STOP 1234", scts=(2026, 1, 1, 0, 0, 5, 4)), 3, 600)[0] == COMPLETE  # sent again later
    assert r.add(P("STOP 1234"), 4, 1600)[0] == COMPLETE  # window over


def test_too_many_parts_refused_without_taking_a_slot():
    r = Reassembler(max_parts=4)
    st, why, dele = r.add(P("x", ref=1, total=5, seq=1), 9, 0)
    assert (st, why, dele) == (REFUSED, "too_many_parts", (9,)) and r.pending() == 0


def test_timeout_across_the_ticks_wrap():
    r = Reassembler(timeout_ms=1000)
    ps = parts("abcdef", 2)
    r.add(ps[0], 6, NEAR_WRAP)
    assert r.next_deadline(NEAR_WRAP) == 1000
    assert r.expire(ticks_add(NEAR_WRAP, 999)) == [] and r.pending() == 1
    assert r.next_deadline(ticks_add(NEAR_WRAP, 999)) == 1
    assert r.expire(ticks_add(NEAR_WRAP, 1000)) == [6] and r.pending() == 0
    assert r.dropped == [("+33612345678", 1, 2, "timeout")]
    assert r.next_deadline(0) == -1
    # the late second part starts a new message (that times out too), it is not glued to nothing
    assert r.add(ps[1], 7, ticks_add(NEAR_WRAP, 1100))[0] == PENDING


def test_full_store_evicts_the_oldest_and_hands_its_indices_out():
    r = Reassembler(slots=2)
    r.add(parts("aabb", 2, ref=1)[0], 1, 0)
    r.add(parts("ccdd", 2, ref=2)[0], 2, 10)
    r.add(parts("eeff", 2, ref=3)[0], 3, 20)  # evicts ref 1
    assert r.expire(30) == [1] and r.dropped[-1][3] == "evicted"
    assert r.add(parts("ccdd", 2, ref=2)[1], 4, 40)[1].text == "ccdd"


def test_store_is_preallocated_and_bounded():
    r = Reassembler(slots=3, max_parts=4)
    for i in range(200):  # a flood of never-completed parts from many senders
        r.add(P("x", ref=i % 256, total=3, seq=1, sender="+3361234%04d" % i), i, i)
        r.expire(i)
    assert r.pending() == 3 and len(r.dropped) <= 8
    for s in r._slots:
        assert len(s.texts) == 4 and len(s.idx) == 4
