"""Hostile SMS end to end on the simulated board (issue 20 item 5): PDUs built here with the
independent codec's pieces (python-gsmmodem-new) reach the modem simulator's SIM store, the firmware
reads them through AT+CMGL/AT+CMGR and acts, or does not."""
import datetime

from gsmmodem.pdu import encodeGsm7, encodeSemiOctets, packSeptets

from alertbutton.sim.modem.inbound import scts_for
from alertbutton.sim.run import run_scenario

CONTACTS = [{"name": "C%d" % i, "number": "+3361234560%d" % i} for i in range(1, 6)]
SMSC = "07913386094000F0"


def address(sender, ton):
    """TP-OA with this type of number: digits as semi-octets, or (TON 5) the text as GSM-7 septets."""
    if ton == 5:
        body = packSeptets(encodeGsm7(sender))
        return bytes((len(body) * 2, 0xD0)) + bytes(body)
    digits = sender.lstrip("+")
    return bytes((len(digits), 0x81 | ton << 4)) + bytes(encodeSemiOctets(digits))


def deliver(sender, ton, text, dcs=0x00):
    ts = bytes.fromhex(_scts_hex())
    septets = encodeGsm7(text)
    ud = bytes((len(septets),)) + bytes(packSeptets(septets))
    return (bytes.fromhex(SMSC) + bytes((0x04,)) + address(sender, ton) + bytes((0x00, dcs)) + ts + ud).hex().upper()


def _scts_hex():
    from gsmmodem.pdu import _encodeTimestamp
    return bytes(_encodeTimestamp(scts_for(datetime.datetime.utcnow().replace(microsecond=0)))).hex()


def scenario(events, duration=14, **cfg):
    conf = {"contacts_pin": "4321", "update_first_s": 600}
    conf.update(cfg)
    return {"wearer": "Camille", "contacts": CONTACTS, "gnss": None,
            "last_fix": {"lat": 47.21837, "lon": -1.55362, "acc_m": 9, "age_s": 30},
            "modem": {"cmgs_latency_s": 0.2, "cmd_latency_s": 0.005, "store_size": 12}, "config": conf,
            "events": [{"t": 2.0, "gesture": "alert"}] + events, "duration_s": duration}


def ev(run, name):
    return [e for e in run.events if e["event"] == name]


def test_a_sim_filled_with_undecodable_sms_from_a_stranger_does_not_block_the_stop(tmp_path):
    # 14 compressed-text SMS (DCS 0x20) from a stranger for a 12-message SIM, then a contact's STOP.
    # Before: the reader remembered 8 bad indices, none reached its second look, the SIM stayed full
    # and the STOP was never read.
    junk = [{"t": 3.0 + 0.05 * k, "sms": {"pdu": deliver("+33799999999", 1, "spam %d" % k, dcs=0x20)}}
            for k in range(14)]
    stop = [{"t": 4.5, "sms": {"pdu": deliver("+33612345602", 1, "STOP 4321")}}]
    run = run_scenario(scenario(junk + stop, duration=12, sms_bad_retry_s=2), tmp_path, stop_when_done=False)
    assert [e["why"] for e in ev(run, "alert_stop")] == ["sms_stop"], ev(run, "sms_undecodable")[-3:]
    deleted = [e for e in ev(run, "sms_undecodable") if e["deleted"]]
    assert len(deleted) == 14, len(deleted)


def test_senders_by_type_of_number(tmp_path):
    # an alphanumeric sender spelling contact 2's number cannot stop the alert; contact 3 written
    # nationally without its 0 and contact 4 as international digits with TON unknown are heard
    sms = [{"t": 4.0, "sms": {"pdu": deliver("0612345602", 5, "STOP 4321")}},
           {"t": 4.5, "sms": {"pdu": deliver("612345603", 0, "POSITION 4321")}},
           {"t": 5.0, "sms": {"pdu": deliver("33612345604", 0, "OK 4321")}},
           {"t": 9.0, "sms": {"pdu": deliver("0612345605", 2, "STOP 4321")}}]
    run = run_scenario(scenario(sms, duration=13), tmp_path, stop_when_done=False)
    unknown = ev(run, "sms_unknown_sender")
    assert [e["why"] for e in unknown] == ["alphanumeric"], unknown
    assert [(e["contact"], e["cmd"]) for e in ev(run, "sms_command")] == [(2, "position"), (3, "ack_pin"),
                                                                         (4, "stop")]
    replies = [s for s in run.sms[5:] if s["to"] == "+33612345603" and "FIN" not in s["text"]]
    assert len(replies) == 1 and "47.21837" in replies[0]["text"]
    assert [e["why"] for e in ev(run, "alert_stop")] == ["sms_stop"]
    assert [e["t"] for e in ev(run, "alert_stop")][0] > 8.9  # the alphanumeric STOP ended nothing


def test_junk_and_chatter_from_a_contacts_number_never_lock_out_its_real_stop(tmp_path):
    # before: "Où es-tu ?" counted as a wrong PIN and three messages rate-limited the contact
    chat = [{"t": 3.0 + 0.2 * k, "sms": {"pdu": deliver("+33612345601", 1, t)}}
            for k, t in enumerate(["Où es-tu ?", "Stop arrete", "OK", "Tu vas bien ?", "Où es tu", "Stop!",
                                   "Position ?", "OK 5 min", "Où la ?", "Reponds"])]
    stop = [{"t": 6.0, "sms": {"pdu": deliver("+33612345601", 1, "STOP 4321")}}]
    run = run_scenario(scenario(chat + stop, duration=10, sms_pin_fails_max=2), tmp_path, stop_when_done=False)
    assert not ev(run, "sms_pin_locked")
    assert [e["why"] for e in ev(run, "alert_stop")] == ["sms_stop"]
