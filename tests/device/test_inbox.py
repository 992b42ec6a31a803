# Two-way SMS commands: who is heard, what each text means, PIN, rate limit, staleness, logging.

from firmware.settings import pin_lock
from firmware.sms.inbox import ACK, ACK_PIN, IGNORE, POSITION, STOP, Inbox, mask, parse, stop_text, words
from firmware.sms.pin_guard import PinGuard
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
              "Received", "ack", "OK 5 min"):
        assert parse(t) == (ACK, None), t
    assert parse("OK 482916") == (ACK, "482916") and parse("Bien reçu 482916") == (ACK, "482916")
    for t in ("POSITION 1234", "position 1234.", "Où 1234", "OU 1234", "ou: 1234", "where 1234",
              "Position1234", "POSITION  1234 merci"):
        assert parse(t) == (POSITION, "1234"), t
    for t in ("STOP 1234", "stop 1234", "Stop: 1234"):
        assert parse(t) == (STOP, "1234"), t
    assert parse("STOP") == (STOP, None) and parse("position") == (POSITION, None) and parse("Où ?") == (POSITION, None)
    for t in ("", "Tu vas bien ?", "OKAY", "okay", "STOPPE 1234", "1234", "Pas ok", "book",
              "Où es-tu ?", "Ou es tu", "Stop ça suffit", "Where are you", "Position exacte stp"):
        assert parse(t) == (None, None), t

def test_only_configured_contacts_by_e164_comparison():
    ib, log = make()
    assert ib.contact_of("+33612345678") == 0
    assert ib.contact_of("0612345678") == 0  # national form from the network
    assert ib.contact_of("0033750000001") == 1
    assert ib.contact_of("0692123456") == 2  # La Reunion national -> +262
    assert ib.contact_of("+4915112345678") == 3
    for s in ("+33612345679", "InfoSMS", "", "+", "36665", "+612345678"):
        assert ib.contact_of(s) == -1, s


def test_national_and_international_forms_of_a_contacts_number_by_type_of_number():
    ib, log = make()
    for sender, ton in (("+33612345678", 1), ("33612345678", 1), ("0612345678", 0), ("612345678", 0),
                        ("33612345678", 0), ("612345678", 2), ("0612345678", 2), ("0033612345678", 0)):
        assert ib.contact_of(sender, ton) == 0, (sender, ton)
    assert ib.contact_of("692123456", 0) == 2 and ib.contact_of("262692123456", 0) == 2
    assert ib.contact_of("4915112345678", 0) == 3
    # an alphanumeric sender is a name anyone can write, digits or not; other types are no number
    for sender, ton in (("0612345678", 5), ("+33612345678", 5), ("InfoSMS", 5), ("612345678", 3),
                        ("612345678", 4), ("612345678", 6), ("InfoSMS", 0), ("612345678", 1)):
        assert ib.contact_of(sender, ton) == -1, (sender, ton)


def test_an_alphanumeric_sender_spelling_a_contacts_number_cannot_stop_the_alert():
    ib, log = make()
    assert ib.handle("0612345678", "STOP 482916", 0, True, ton=5) == (IGNORE, -1, "unknown_sender")
    assert log[-1] == ("sms_unknown_sender", {"sender": "061*****78", "chars": 11, "why": "alphanumeric"})
    assert ib.handle("0612345678", "STOP 482916", 0, True, ton=0) == (STOP, 0, None)


def test_digits_that_read_as_two_contacts_are_no_contact():
    # "687751234" is +33 687751234 read nationally and +687 751234 (New Caledonia) read as
    # international digits: both are served numbers, so the sender names nobody
    cs = [{"name": "Fr", "number": "+33687751234"}, {"name": "De", "number": "+4915112345678"}]
    ib = Inbox({"contacts": cs, "contacts_pin": PIN})
    assert ib.contact_of("4915112345678", 0) == 1  # 0 + 13 digits is no French number: one reading only
    assert ib.contact_of("687751234", 0) == 0  # the other reading is nobody's: the French contact
    cs[1]["number"] = "+687751234"
    ib = Inbox({"contacts": cs, "contacts_pin": PIN})
    assert ib.contact_of("687751234", 0) == -1 and ib.contact_of("+687751234", 1) == 1


def test_unknown_sender_ignored_and_logged_without_content():
    ib, log = make()
    r = ib.handle("+33699999999", "STOP 482916 secret words", 0, True)
    assert r == (IGNORE, -1, "unknown_sender")
    assert log == [("sms_unknown_sender", {"sender": "+33*******99", "chars": 24, "why": "unknown"})]
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
    for t in ("STOP 000000", "POSITION 48291", "POSITION 4829160"):
        assert ib.handle("+33612345678", t, 0, True) == (IGNORE, 0, "bad_pin"), t
    for t in ("STOP", "Où ?"):
        assert ib.handle("+33612345678", t, 0, True) == (IGNORE, 0, "pin_missing"), t
    assert ib.guard.fails[0] == 3  # only the messages that carried a PIN
    ib, log = make(contacts_pin=None)
    assert ib.handle("+33612345678", "STOP 482916", 0, True) == (IGNORE, 0, "pin_not_set")
    assert ib.handle("+33612345678", "OK", 0, True) == (ACK, 0, None)  # no PIN needed for OK

def test_ack_pin_option():
    ib, log = make(sms_ack_pin=True)
    assert ib.handle("+33612345678", "OK", 0, True) == (IGNORE, 0, "pin_missing")
    assert ib.handle("+33612345678", "OK 111111", 0, True) == (IGNORE, 0, "bad_pin")
    assert ib.handle("+33612345678", "OK 482916", 0, True) == (ACK_PIN, 0, None)


def test_ack_with_the_pin_is_told_apart_and_a_wrong_one_is_a_guess_but_still_an_ack():
    ib, log = make()
    assert ib.handle("+33612345678", "OK 482916", 0, True) == (ACK_PIN, 0, None)
    assert ib.handle("+33612345678", "OK 111111", 0, True) == (ACK, 0, None)
    assert ib.guard.fails[0] == 1

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


def test_rate_limit_counts_position_replies_only_days_after_boot():
    ib, log = make(sms_cmd_max=3, sms_cmd_window_s=600)
    t0 = 13 * 24 * 3600 * 1000  # 13 days of uptime: past the 32-bit ticks wrap (12.4 days)
    for k in range(3):
        assert ib.handle("+33612345678", "OÙ 482916", ticks_add(t0, k * 1000), True)[0] == POSITION
    assert ib.handle("+33612345678", "OÙ 482916", ticks_add(t0, 5000), True) == (IGNORE, 0, "rate_limited")
    assert ib.handle("+33612345678", "STOP 482916", ticks_add(t0, 5500), True) == (STOP, 0, None)  # never a STOP
    assert ib.handle("+33750000001", "OÙ 482916", ticks_add(t0, 6000), True)[0] == POSITION  # own limit
    # the first reply leaves the window 600 s after it was sent
    assert ib.handle("+33612345678", "OÙ 482916", ticks_add(t0, 599999), True)[2] == "rate_limited"
    assert ib.handle("+33612345678", "OÙ 482916", ticks_add(t0, 600000), True)[0] == POSITION


def test_junk_from_a_contacts_number_never_blocks_its_real_command():
    # before: 3 junk SMS from a spoofed contact number rate-limited that contact's real STOP for 10 min
    ib, log = make()
    for k in range(20):
        for t in ("Où es-tu ?", "OK", "STOP", "Tu vas bien", "Stop ça"):
            ib.handle("+33612345678", t, k, True)
    assert ib.handle("+33612345678", "POSITION 482916", 30, True) == (POSITION, 0, None)
    assert ib.handle("+33612345678", "STOP 482916", 31, True) == (STOP, 0, None)

def test_everyday_replies_are_not_wrong_pins():
    ib, log = make(sms_pin_fails_max=2)
    for k in range(10):
        for t in ("Où es-tu ?", "Où es tu", "Stop!", "Position ?", "OK 5 min", "Ou ca", "Stop arrête"):
            ib.handle("+33612345678", t, k, True)
    assert ib.guard.fails[0] == 0 and not [e for e in log if e[0] == "sms_pin_locked"]
    assert ib.handle("+33612345678", "STOP 482916", 20, True) == (STOP, 0, None)

def test_pin_lock_is_per_sender_a_spoofed_number_locks_only_its_contact():
    ib, log = make(sms_pin_fails_max=4, sms_pin_lock_s=60)
    for k in range(4):  # a stranger spoofing contact 0's number guesses
        assert ib.handle("+33612345678", "STOP %06d" % k, k, True)[2] == "bad_pin"
    assert ("sms_pin_locked", {"contact": 0, "lock_s": 60}) in log
    assert ib.handle("+33612345678", "STOP 482916", 10, True) == (IGNORE, 0, "pin_locked")  # even the right one
    assert ib.handle("+33612345678", "OK", 11, True) == (ACK, 0, None)  # acknowledgements are not affected
    nums = [c["number"] for c in CONTACTS]
    for k in range(1, 5):  # the others are not locked out
        assert ib.handle(nums[k], "POSITION 482916", 12, True) == (POSITION, k, None)
    assert ib.handle("+33612345678", "STOP 482916", 60004, True) == (STOP, 0, None)


def test_further_locks_double():
    ib, log = make(sms_pin_fails_max=2, sms_pin_lock_s=60)
    t = 0
    for lock_s in (60, 120, 240):
        for k in range(2):
            ib.handle("+33612345678", "STOP 000000", t, True)
        assert log[-2] == ("sms_pin_locked", {"contact": 0, "lock_s": lock_s}), log[-2]
        t += lock_s * 1000
    ib.handle("+33612345678", "STOP 482916", t, True)  # the right PIN clears the history
    for k in range(2):
        ib.handle("+33612345678", "STOP 000000", t, True)
    assert log[-2] == ("sms_pin_locked", {"contact": 0, "lock_s": 60})


def test_the_lock_survives_a_reboot():
    import os
    path = "/tmp/abtest_smspin_%s.rec" % "".join(["%02x" % b for b in os.urandom(6)])
    for suffix in ("", ".bak", ".tmp"):
        try:
            os.remove(path + suffix)
        except OSError:
            pass
    cfg = {"contacts": CONTACTS, "contacts_pin": PIN, "sms_pin_fails_max": 3, "sms_pin_lock_s": 600}
    ib = Inbox(cfg, now=0, pin_path=path)
    for k in range(3):
        ib.handle("+33612345678", "STOP 00000%d" % k, 1000 + k, True)
    ib.handle("+33750000001", "STOP 000009", 1005, True)  # one wrong PIN from contact 1, remembered too
    # reboot: uptime starts again from 0
    ib2 = Inbox(cfg, now=0, pin_path=path)
    assert ib2.handle("+33612345678", "STOP 482916", 10, True) == (IGNORE, 0, "pin_locked")
    assert ib2.guard.fails[1] == 1
    assert ib2.handle("+33612345678", "STOP 482916", 600000, True) == (STOP, 0, None)
    # a damaged record locks once, never "no failure"
    with open(path, "r+b") as f:
        f.seek(20)
        f.write(b"\xff\xff")
    try:
        os.remove(path + ".bak")
    except OSError:
        pass
    ib3 = Inbox(cfg, now=0, pin_path=path)
    assert ib3.handle("+33750000001", "STOP 482916", 10, True) == (IGNORE, 1, "pin_locked")
    for suffix in ("", ".bak", ".tmp"):
        try:
            os.remove(path + suffix)
        except OSError:
            pass

def test_right_pin_resets_the_wrong_pin_count():
    ib, log = make(sms_pin_fails_max=3)
    ib.handle("+33612345678", "STOP 111111", 0, True)
    ib.handle("+33612345678", "STOP 222222", 0, True)
    assert ib.handle("+33612345678", "POSITION 482916", 0, True)[0] == POSITION
    ib.handle("+33612345678", "STOP 333333", 0, True)
    ib.handle("+33612345678", "STOP 444444", 0, True)
    assert ib.handle("+33612345678", "STOP 482916", 1, True)[0] == STOP

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
    for k in range(3):
        ib.handle("+33612345678", "STOP 00000%d" % k, t0 + k, True)
    assert ib.handle("+33612345678", "STOP 482916", t0 + 10, True)[2] == "pin_locked"
    week = 7 * 24 * 3600 * 1000
    assert ib.handle("+33612345678", "STOP 482916", t0 + week, True) == (STOP, 0, None)
    for k in range(2):  # a week later, each contact's replies are judged on their own
        assert ib.handle("+33750000001", "POSITION 482916", t0 + week + 10 + k, True)[0] == POSITION


def test_during_an_alert_its_recipients_are_heard_not_the_new_configuration():
    # issue 19 item 2: a technician replaced contact 1 during the alert; the alert's contact 1 can
    # still STOP it, the new number cannot
    ib, log = make()
    ib.contacts = [dict(c) for c in CONTACTS]
    ib.cfg["contacts"] = [{"name": "New", "number": "+33799999999"}] + CONTACTS[1:]
    assert ib.handle("+33612345678", "STOP 482916", 0, True) == (STOP, 0, None)
    assert ib.handle("+33799999999", "STOP 482916", 0, True) == (IGNORE, -1, "unknown_sender")
    ib.contacts = None  # no alert: the configuration's contacts
    assert ib.contact_of("+33799999999") == 0 and ib.contact_of("+33612345678") == -1
