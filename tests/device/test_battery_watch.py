# Low-battery warnings: 15 % and 5 %, once each, noise-proof, persisted across reboots.
import os

from firmware.sms.battery_watch import BatteryWatch, text
from firmware.core.sms_pdu import fits_one_segment


def fresh(path="bw.json", **kw):
    try:
        os.remove(path)
    except OSError:
        pass
    return BatteryWatch(path, **kw)


def feed(w, values):
    return [w.update(v) for v in values]


def test_each_level_once_after_confirmation():
    w = fresh()
    out = feed(w, [40, 20, 16, 15, 15, 15, 14, 13, 10, 6, 5, 5, 5, 4, 3, 2])
    assert [x for x in out if x is not None] == [15, 5]
    assert out.index(15) == 5 and out.index(5) == 12  # the third reading at or below the level


def test_voltage_noise_never_sends():
    w = fresh()
    out = feed(w, [17, 14, 16, 15, 18, 13, 16, 14, 19, 15, 16] * 5)  # sags during transmit bursts
    assert out.count(15) == 0


def test_noise_around_a_sent_level_does_not_resend():
    w = fresh()
    feed(w, [15, 15, 15])
    out = feed(w, [16, 17, 19, 14, 15, 16, 19, 15, 15, 15])  # never back to 15 + 5
    assert [x for x in out if x is not None] == []


def test_recharge_rearms():
    w = fresh()
    assert feed(w, [15, 15, 15])[-1] == 15
    feed(w, [19, 20, 60])
    assert feed(w, [15, 15, 15])[-1] == 15


def test_starting_below_both_levels_sends_one_sms():
    w = fresh()
    out = feed(w, [4, 4, 4, 4, 3, 3])
    assert [x for x in out if x is not None] == [5]
    assert feed(w, [12, 12, 12]) == [None] * 3  # 15 was covered by the 5 % message


def test_reboot_does_not_resend():
    w = fresh()
    feed(w, [14, 14, 14])
    w2 = BatteryWatch("bw.json")
    assert w2.sent == [15] and feed(w2, [14, 13, 12, 11]) == [None] * 4
    assert [x for x in feed(w2, [5, 5, 5]) if x] == [5]
    w3 = BatteryWatch("bw.json")
    feed(w3, [60])  # charged while off: both re-armed and saved
    assert BatteryWatch("bw.json").sent == []


def test_unknown_readings_and_bad_file():
    w = fresh()
    assert feed(w, [None] * 5) == [None] * 5
    with open("bw.json", "w") as f:
        f.write("{not json")
    assert BatteryWatch("bw.json").sent == []
    with open("bw.json", "w") as f:
        f.write('{"sent": [15, 99, "x"]}')
    assert BatteryWatch("bw.json").sent == [15]


def test_bad_settings_refused():
    for kw in ({"levels": ()}, {"levels": (0,)}, {"levels": (100,)}, {"hysteresis": 0}, {"confirm": 0}):
        try:
            BatteryWatch(None, **kw)
        except ValueError:
            continue
        raise AssertionError(kw)


def test_text():
    for wearer in ("", "Marie", "Françoise", "Иван Петров Иванович", "x" * 30):
        for lang in ("fr", "en"):
            t = text(15, wearer, lang)
            assert fits_one_segment(t) and "15%" in t, t
    assert "Marie" in text(5, "Marie") and "5%" in text(5, "Marie")


def test_readings_towards_confirm_survive_a_reboot():
    # low power reads the battery once per wake, each wake a new boot: the count must not restart
    fresh()
    assert BatteryWatch("bw.json").update(14) is None
    assert BatteryWatch("bw.json").update(14) is None
    assert BatteryWatch("bw.json").update(14) == 15
    assert BatteryWatch("bw.json").update(14) is None  # given once
    # a reading back above resets the count, also across reboots
    fresh()
    BatteryWatch("bw.json").update(14)
    BatteryWatch("bw.json").update(14)
    BatteryWatch("bw.json").update(30)
    assert BatteryWatch("bw.json").update(14) is None


def test_a_warning_that_could_not_be_sent_is_given_again_at_the_next_reading():
    w = fresh(confirm=3)
    assert [w.update(4) for _ in range(3)] == [None, None, 5]
    w.failed(5)
    w2 = BatteryWatch("bw.json", confirm=3)
    assert w2.update(4) == 5  # at once: its readings were already confirmed
    assert w2.update(4) is None
    assert 15 in w2.sent  # the 15 % one is not sent as well
