# Configuration storage (firmware/settings/config_store.py, firmware/settings/config.py), run inside the MicroPython VM
# in a fresh temporary directory: record format, last good copy, damaged files, schema migrations.
import json
import os

from firmware.settings import config_store, config as settings
from firmware.settings.config_store import RecordFile, RecordError, pack, unpack

DATA = __file__.rsplit("/", 2)[0] + "/data/config/"


def _clean():
    for f in os.listdir():
        os.remove(f)
    settings._store = None


def _read(p):
    with open(p, "rb") as f:
        return f.read()


def _write(p, data):
    with open(p, "wb") as f:
        f.write(data)


def _configured():
    cfg = settings.load()
    settings.set_contact(cfg, 1, "0612345601", "Sophie")
    settings.set_contact(cfg, 3, "+33612345603", "Asso")
    settings.set_wearer(cfg, "Camille")
    settings.save(cfg)
    return cfg


def test_crc_matches_binascii_and_software():
    for data in (b"", b"a", b"123456789", bytes(range(256))):
        assert config_store._crc32_soft(data) == config_store.crc(data)
    assert config_store.crc(b"123456789") == 0xCBF43926  # the CRC-32 check value


def test_record_roundtrip_and_every_damage_detected():
    rec = pack(b"ABcf", 2, 7, {"a": [1, 2], "b": "é"})
    assert rec[:4] == b"ABcf" and rec[4] == 2
    assert unpack(rec, b"ABcf") == (2, 7, {"a": [1, 2], "b": "é"})
    bad = 0
    for i in range(len(rec)):  # every single-byte corruption
        b = bytearray(rec)
        b[i] ^= 0x41
        try:
            unpack(bytes(b), b"ABcf")
        except RecordError:
            bad += 1
    assert bad == len(rec), (bad, len(rec))
    for n in range(len(rec)):  # every truncation
        try:
            unpack(rec[:n], b"ABcf")
            raise AssertionError("truncated record accepted")
        except RecordError:
            pass
    try:
        unpack(rec, b"ABpl")
        raise AssertionError("wrong magic accepted")
    except RecordError:
        pass


def test_write_keeps_last_good_copy_and_falls_back():
    _clean()
    r = RecordFile("x.rec", b"ABcf")
    assert r.read() == (None, None, None, [])  # nothing yet: no problem reported
    r.write(2, {"v": 1})
    r.write(2, {"v": 2})
    assert sorted(os.listdir()) == ["x.rec", "x.rec.bak"]
    assert RecordFile("x.rec", b"ABcf").read()[1:3] == ({"v": 2}, "main")
    # damage the current copy: the last good one is used, and the damage is reported
    data = bytearray(_read("x.rec"))
    data[20] ^= 1
    _write("x.rec", data)
    schema, obj, src, problems = RecordFile("x.rec", b"ABcf").read()
    assert (obj, src) == ({"v": 1}, "backup") and problems == ["main: CRC mismatch"], problems
    # a write over a damaged copy keeps the good backup (the damaged one is not "last good")
    r2 = RecordFile("x.rec", b"ABcf")
    r2.read()
    r2.write(2, {"v": 3})
    assert RecordFile("x.rec", b"ABcf").read()[1] == {"v": 3}
    assert unpack(_read("x.rec.bak"), b"ABcf")[2] == {"v": 1}
    # missing current copy (cut between the two renames): the backup, reported
    os.remove("x.rec")
    _schema, obj, src, problems = RecordFile("x.rec", b"ABcf").read()
    assert (obj, src, problems) == ({"v": 1}, "backup", ["main: missing"])
    # both damaged: nothing, with both problems - never an empty record passed off as valid
    _write("x.rec", b"ABcf garbage")
    _write("x.rec.bak", b"")
    _schema, obj, src, problems = RecordFile("x.rec", b"ABcf").read()
    assert obj is None and src is None and len(problems) == 2, problems


def test_stale_tmp_file_is_ignored_and_overwritten():
    _clean()
    r = RecordFile("x.rec", b"ABcf")
    r.write(2, {"v": 1})
    _write("x.rec.tmp", b"half a rec")  # a cut while writing the temporary file
    assert RecordFile("x.rec", b"ABcf").read()[1] == {"v": 1}
    r.write(2, {"v": 2})
    assert "x.rec.tmp" not in os.listdir()
    assert RecordFile("x.rec", b"ABcf").read()[1] == {"v": 2}


def test_sequence_numbers_increase():
    _clean()
    r = RecordFile("x.rec", b"ABcf")
    seqs = [r.write(2, {"i": i}) for i in range(3)]
    assert seqs == [1, 2, 3]
    r2 = RecordFile("x.rec", b"ABcf")
    r2.read()
    assert r2.write(2, {}) == 4


def test_factory_reset_write_drops_the_backup():
    _clean()
    r = RecordFile("x.rec", b"ABcf")
    r.write(2, {"contacts": 5})
    r.write(2, {"contacts": 4})
    r.write(2, {}, keep_backup=False)
    assert sorted(os.listdir()) == ["x.rec"]


def test_settings_roundtrip_and_derived_keys():
    _clean()
    cfg = _configured()
    assert [c["number"] for c in cfg["contacts"]] == ["+33612345601", "+33612345603"]
    again = settings.load()
    assert again["config_source"] == "main" and again["config_problems"] == []
    assert again["slots"][1] is None and again["slots"][2] == {"name": "Asso", "number": "+33612345603"}
    assert again["contacts"] == cfg["contacts"] and again["configured"]
    stored = unpack(_read("config.rec"), settings.MAGIC)
    assert stored[0] == settings.SCHEMA
    for k in settings.DERIVED:
        assert k not in stored[2], k  # derived keys are never stored


def test_corrupt_config_falls_back_never_silently_empty():
    _clean()
    _configured()
    cfg = settings.load()
    settings.set_wearer(cfg, "Newer")
    settings.save(cfg)
    data = bytearray(_read("config.rec"))
    data[len(data) // 2] ^= 0xFF
    _write("config.rec", data)
    settings._store = None
    cfg = settings.load()
    assert cfg["config_source"] == "backup" and cfg["wearer"] == "Camille", cfg["config_source"]
    assert len(cfg["contacts"]) == 2 and cfg["config_problems"]
    # both copies damaged: NOT CONFIGURED, and the damage is reported (the console prints it)
    _write("config.rec.bak", b"\x00" * 40)
    settings._store = None
    cfg = settings.load()
    assert not cfg["configured"] and cfg["config_source"] == "none"
    assert len(cfg["config_problems"]) == 2, cfg["config_problems"]


def test_migration_v1_to_v2_from_a_real_0_1_0_config():
    _clean()
    _write("config.json", _read(DATA + "config_v1.json"))
    v1 = json.loads(_read("config.json"))
    cfg = settings.load()
    assert cfg["config_source"] == "legacy" and cfg["config_problems"] == []
    assert [c["number"] for c in cfg["contacts"]] == [c["number"] for c in v1["contacts"]]
    assert [c["name"] for c in cfg["contacts"]] == [c["name"] for c in v1["contacts"]]
    assert cfg["wearer"] == "Camille" and cfg["alert_active_s"] == 1800 and cfg["pin"] is None
    # saved as a schema-2 record; the old file is kept aside and no longer read
    assert "config.json" not in os.listdir() and "config.json.v1" in os.listdir()
    assert unpack(_read("config.rec"), settings.MAGIC)[0] == 2
    settings._store = None
    again = settings.load()
    assert again["config_source"] == "main" and again["contacts"] == cfg["contacts"]


def test_migration_v1_normalises_numbers_and_keeps_unknown_keys():
    _clean()
    _write("config.json", json.dumps({"wearer": "A", "contacts": [
        {"name": "Nat", "number": "06 12 34 56 78"}, "junk", {"name": "NoNumber"},
        {"name": "Bad", "number": "12"}, {"number": "0692123456"}, {"name": "6", "number": "+33612345606"},
        {"name": "7", "number": "+33612345607"}], "evidence": {"enabled": True}}).encode())
    cfg = settings.load()
    nums = [c["number"] for c in cfg["contacts"]]
    # 0.1.0 skipped entries without a number and kept five: the same five here; a number that does not
    # normalise is kept as written, so it is listed (as invalid), not dropped without a word
    assert nums == ["+33612345678", "12", "+262692123456", "+33612345606", "+33612345607"], nums
    assert cfg["contacts"][2]["name"] == ""
    assert cfg["evidence"] == {"enabled": True}


def test_reads_the_committed_v2_record():
    # a record written by this schema's code and committed: later schemas must keep reading it
    _clean()
    _write("config.rec", _read(DATA + "config_v2.rec"))
    cfg = settings.load()
    assert cfg["config_source"] == "main" and cfg["config_problems"] == []
    assert cfg["slots"][2] == {"name": "Réunion", "number": "+262692123456"}
    assert cfg["slots"][3] is None and len(cfg["contacts"]) == 4
    assert cfg["pin"] == {"salt": "0011223344556677", "hash": "5a" * 32}


def test_future_schema_is_read_with_unknown_keys_kept():
    _clean()
    payload = settings.to_payload(settings.from_payload({}))
    payload["slots"][0] = {"name": "A", "number": "+33612345678"}
    payload["feature_of_v3"] = [1, 2]
    _write("config.rec", pack(settings.MAGIC, 3, 1, payload))
    cfg = settings.load()
    assert cfg["configured"] and cfg["feature_of_v3"] == [1, 2]
    assert settings.to_payload(cfg)["feature_of_v3"] == [1, 2]  # saved back, not lost


def test_bad_stored_values_fall_back_to_defaults_with_problems():
    _clean()
    _write("config.rec", pack(settings.MAGIC, 2, 1, {
        "lang": "de", "wearer": 5, "gestures": [{"action": "alert", "presses": 1, "within_ms": 500}],
        "sms_rounds": 0, "slots": [None, {"name": "X", "number": "+33612345678"}, 7]}))
    cfg = settings.load()
    assert cfg["lang"] == "fr" and cfg["wearer"] == "" and cfg["sms_rounds"] == 6
    assert cfg["gestures"] == settings.DEFAULTS["gestures"]  # a single-press alert is never loaded
    assert cfg["contacts"] == [{"name": "X", "number": "+33612345678"}]
    assert len(cfg["config_problems"]) == 5, cfg["config_problems"]


def test_bad_optional_alert_settings_are_dropped_so_the_code_default_applies():
    problems = []
    cfg = settings.from_payload({"cmgs_timeout_s": "10", "modem_failures_before_cycle": 0,
                                 "delivery_resends": None, "status_poll_s": True}, problems)
    for k in settings.OPTIONAL_LIMITS:
        assert k not in cfg, k  # cfg.get(k, default) gives the default
    assert len(problems) == 4, problems
    problems = []
    ok = settings.from_payload({"cmgs_timeout_s": 10, "delivery_resends": 0}, problems)
    assert ok["cmgs_timeout_s"] == 10 and ok["delivery_resends"] == 0 and problems == []


def test_import_checks_everything_before_applying():
    cfg = settings.from_payload({})
    good = {"format": "alertbutton-config", "schema": 2, "wearer": "W", "lang": "en",
            "contacts": [{"slot": 2, "name": "B", "number": "07 52 34 56 78"}, {"name": "A", "number": "+447400123456"}],
            "gestures": [{"action": "alert", "hold_ms": 3000}], "sms_rounds": 3}
    checked = settings.check_import(good)
    settings.apply_import(cfg, checked)
    assert cfg["slots"][0] == {"name": "A", "number": "+447400123456"}
    assert cfg["slots"][1] == {"name": "B", "number": "+33752345678"} and cfg["lang"] == "en"
    for bad, why in (
            ({"contacts": [{"name": "A", "number": "0812345678"}]}, "service"),
            ({"contacts": [{"slot": 1, "name": "A", "number": "+33612345678"}] * 2}, "twice"),
            ({"contacts": [{"slot": 6, "name": "A", "number": "+33612345678"}]}, "slot"),
            # a slot the file does not say as a whole number is refused, not read as slot 1 or 2
            ({"contacts": [{"slot": True, "name": "A", "number": "+33612345678"}]}, "slot must be"),
            ({"contacts": [{"slot": 2.7, "name": "A", "number": "+33612345678"}]}, "slot must be"),
            ({"contacts": [{"slot": None, "name": "A", "number": "+33612345678"}]}, "slot must be"),
            ({"gestures": [{"action": "other", "hold_ms": 3000}]}, "alert gesture"),
            ({"gestures": [{"action": "alert", "presses": 1, "within_ms": 900}]}, "presses"),
            ({"pin": "1234"}, "unknown key"),
            ({"format": "x"}, "not an alertbutton"),
            ({"sms_rounds": True}, "integer"),
            ({"wearer": "x" * 21}, "at most 20"),
            ([], "object")):
        try:
            settings.check_import(bad)
            raise AssertionError("accepted %r" % (bad,))
        except ValueError as e:
            assert why in str(e), (bad, str(e))
    exported = settings.export(cfg)
    assert "pin" not in exported
    assert settings.check_import(exported)["slots"] == cfg["slots"]  # export -> import is lossless
