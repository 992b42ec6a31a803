# Two-way SMS commands: who is heard, what each text means, PIN, rate limit, staleness, logging.

from firmware.settings import pin_lock
from firmware.sms.inbox import ACK, IGNORE, POSITION, STOP, Inbox, mask, parse, stop_text, words
from firmware.core.sms_pdu import fits_one_segment

CONTACTS = [{"name": "Ana", "number": "+33612345678"}, {"name": "Bea", "number": "+33750000001"},
            {"name": "Cy", "number": "+262692123456"}, {"name": "Di", "number": "+4915112345678"},
            {"name": "Ed", "number": "+33611111111"}]
PIN = pin_lock.make("482916")


def make(**over):
    cfg = {"contacts": CONTACTS, "contacts_pin": PIN}
    cfg.update(over)
    log = []
    return Inbox(cfg, log=lambda ev, **kw: log.append((ev, kw))), log


def test_word_folding():
    assert words("  Reçu. ") == ["RECU"]
    assert words("OÙ 1234") == ["OU", "1234"]
    assert words("ok!") == ["OK"] and words("Où\u00a0est-elle ?") == ["OU", "EST", "ELLE"]
    assert words("") == [] and words("...") == []


def test_command_parsing_tolerates_case_accents_spaces_punctuation():
    for t in ("OK", "ok", "Ok.", " ok ", "Reçu", "reçu.", "RECU", "recu !", "Bien reçu", "OK j'arrive",
              "Received", "ack"):
        assert parse(t)[0] == ACK, t
    for t in ("POSITION 1234", "position 1234.", "Où 1234", "OU 1234", "ou: 1234", "where 1234",
              "Position1234", "POSITION  1234 merci"):
        assert parse(t) == (POSITION, "1234"), t
    for t in ("STOP 1234", "stop 1234", "Stop: 1234"):
        assert parse(t) == (STOP, "1234"), t
    assert parse("STOP") == (STOP, None) and parse("position") == (POSITION, None)
    for t in ("", "Tu vas bien ?", "OKAY", "okay", "STOPPE 1234", "1234", "Pas ok", "book"):
        assert parse(t)[0] is None, t


def test_only_configured_contacts_by_e164_comparison():
    ib, log = make()
    assert ib.contact_of("+33612345678") == 0
    assert ib.contact_of("0612345678") == 0  # national form from the network
    assert ib.contact_of("0033750000001") == 1
    assert ib.contact_of("0692123456") == 2  # La Reunion national -> +262
    assert ib.contact_of("+4915112345678") == 3
    for s in ("+33612345679", "33612345678", "612345678", "InfoSMS", "", "+", "36665"):
        assert ib.contact_of(s) == -1, s


def test_unknown_sender_ignored_and_logged_without_content():
    ib, log = make()
    r = ib.handle("+33699999999", "STOP 482916 secret words", 0, True)
    assert r == (IGNORE, -1, "unknown_sender")
    assert log == [("sms_unknown_sender", {"sender": "+33*******99", "chars": 24})]
    assert "secret" not in repr(log) and "482916" not in repr(log)
    ib.handle("SPAM", "x", 0, True)
    assert log[-1][1]["sender"] == "****"


def test_ack_position_stop_from_contacts():
    ib, log = make()
    assert ib.handle("+33612345678", "Reçu", 0, True) == (ACK, 0, None)
    assert ib.handle("+33750000001", "OÙ 482916", 0, True) == (POSITION, 1, None)
    assert ib.handle("0692123456", "stop 482916.", 0, True) == (STOP, 2, None)
    assert ("sms_command", {"contact": 2, "cmd": STOP}) in log


def test_wrong_or_missing_pin_gets_nothing_and_no_pin_configured_fails_closed():
    ib, log = make()
    for t in ("STOP 000000", "STOP", "POSITION 48291", "POSITION 4829160"):
        r = ib.handle("+33611111111", t, 0, True) if t.startswith("STOP") else ib.handle("+33612345678", t, 0, True)
        assert r[0] == IGNORE and r[2] == "bad_pin", (t, r)
    ib, log = make(contacts_pin=None)
    assert ib.handle("+33612345678", "STOP 482916", 0, True) == (IGNORE, 0, "pin_not_set")
    assert ib.handle("+33612345678", "OK", 0, True) == (ACK, 0, None)  # no PIN needed for OK


def test_ack_pin_option():
    ib, log = make(sms_ack_pin=True)
    assert ib.handle("+33612345678", "OK", 0, True) == (IGNORE, 0, "bad_pin")
    assert ib.handle("+33612345678", "OK 482916", 0, True) == (ACK, 0, None)


def test_outside_an_alert():
    ib, log = make()
    assert ib.handle("+33612345678", "OK", 0, False) == (IGNORE, 0, "no_alert")
    assert ib.handle("+33612345678", "STOP 482916", 0, False) == (IGNORE, 0, "no_alert")
    assert ib.handle("+33612345678", "POSITION 482916", 0, False) == (IGNORE, 0, "no_alert")
    ib, log = make(sms_position_idle=True)
    assert ib.handle("+33612345678", "POSITION 482916", 0, False) == (POSITION, 0, None)
    assert ib.handle("+33612345678", "POSITION 1", 0, False) == (IGNORE, 0, "bad_pin")  # PIN first


def ticks_add(a, b):  # the inbox runs on firmware.core.uptime ms: plain integers that never wrap
    return a + b


def test_rate_limit_per_sender_days_after_boot():
    ib, log = make(sms_cmd_max=3, sms_cmd_window_s=600)
    t0 = 13 * 24 * 3600 * 1000  # 13 days of uptime: past the 32-bit ticks wrap (12.4 days)
    for k in range(3):
        assert ib.handle("+33612345678", "OK", ticks_add(t0, k * 1000), True)[0] == ACK
    assert ib.handle("+33612345678", "OK", ticks_add(t0, 5000), True) == (IGNORE, 0, "rate_limited")
    assert ib.handle("+33612345678", "OK", ticks_add(t0, 6000), True) == (IGNORE, 0, "rate_limited")
    assert [e for e in log if e[1].get("why") == "rate_limited"] == [
        ("sms_ignored", {"contact": 0, "why": "rate_limited"})]  # logged once per burst
    assert ib.handle("+33750000001", "OK", ticks_add(t0, 6000), True)[0] == ACK  # other contact: own limit
    # the first message leaves the window 600 s after it was sent
    assert ib.handle("+33612345678", "OK", ticks_add(t0, 599999), True)[2] == "rate_limited"
    assert ib.handle("+33612345678", "OK", ticks_add(t0, 600000), True)[0] == ACK


def test_wrong_pins_count_against_the_rate_limit():
    ib, log = make()
    for k in range(3):
        assert ib.handle("+33612345678", "STOP %06d" % k, k, True)[2] == "bad_pin"
    assert ib.handle("+33612345678", "STOP 482916", 10, True)[2] == "rate_limited"


def test_pin_lock_after_many_wrong_pins_from_all_senders():
    ib, log = make(sms_pin_fails_max=4, sms_pin_lock_s=60)
    nums = [c["number"] for c in CONTACTS]
    for k in range(4):
        assert ib.handle(nums[k], "STOP 1111", k, True)[2] == "bad_pin"
    assert ("sms_pin_locked", {"fails": 4, "lock_s": 60}) in log
    assert ib.handle(nums[4], "STOP 482916", 10, True) == (IGNORE, 4, "pin_locked")  # even the right one
    assert ib.handle(nums[4], "OK", 11, True) == (ACK, 4, None)  # acknowledgements are not affected
    assert ib.handle(nums[4], "STOP 482916", 60004, True) == (STOP, 4, None)


def test_right_pin_resets_the_wrong_pin_count():
    ib, log = make(sms_pin_fails_max=3)
    nums = [c["number"] for c in CONTACTS]
    ib.handle(nums[0], "STOP 1", 0, True)
    ib.handle(nums[1], "STOP 2", 0, True)
    assert ib.handle(nums[2], "POSITION 482916", 0, True)[0] == POSITION
    ib.handle(nums[3], "STOP 3", 0, True)
    ib.handle(nums[4], "STOP 4", 0, True)
    assert ib.handle(nums[0], "STOP 482916", 1, True)[0] == STOP


def test_stale_commands_are_ignored_when_both_clocks_are_known():
    ib, log = make(sms_max_age_s=1800)
    assert ib.handle("+33612345678", "STOP 482916", 0, True, sent_utc=1000, now_utc=2801)[2] == "stale"
    assert ib.handle("+33612345678", "STOP 482916", 0, True, sent_utc=1000, now_utc=2800)[0] == STOP
    assert ib.handle("+33750000001", "STOP 482916", 0, True, sent_utc=1000, now_utc=None)[0] == STOP


def test_non_commands_from_contacts_are_logged_without_content():
    ib, log = make()
    assert ib.handle("+33612345678", "Tu es où ma chérie ?", 0, True) == (IGNORE, 0, "not_a_command")
    assert "rie" not in repr(log) and log[-1][1]["chars"] == 20


def test_mask_and_stop_text():
    assert mask("+33612345678") == "+33*******78" and mask("") == ""
    for lang in ("fr", "en"):
        t = stop_text("Contact au nom très long!", lang)
        assert fits_one_segment(t) and "Contact" in t


def test_old_messages_and_lockouts_do_not_come_back_days_later():
    # on ticks, a 7-day-old message or lockout looked recent again (ticks_diff past 2**29 ms)
    ib, _log = make(sms_pin_fails_max=3)
    t0 = 1000
    senders = ("+33612345678", "+33750000001", "0692123456")
    for k in range(3):  # three wrong PINs, from three contacts (each under its own rate limit)
        ib.handle(senders[k], "STOP 000000", t0 + k, True)
    assert ib.handle("+33612345678", "STOP 482916", t0 + 10, True)[2] == "pin_locked"
    week = 7 * 24 * 3600 * 1000
    assert ib.handle("+33612345678", "STOP 482916", t0 + week, True) == (STOP, 0, None)
    for k in range(2):  # a week later, each contact's messages are judged on their own
        assert ib.handle("+33750000001", "OK", t0 + week + 10 + k, True)[0] == ACK
