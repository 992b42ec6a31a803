"""The firmware's status-report decoder agrees with python-gsmmodem-new's on the same PDUs."""
import os
import sys

from gsmmodem.pdu import decodeSmsPdu

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from firmware.core.sms_status import decode_status_report  # noqa: E402

SR = "07913306092010F0062A0B913316325406F1" + "62116251023140" + "62116251024140" + "00"


def test_same_fields_as_gsmmodem():
    for st in (0x00, 0x20, 0x41, 0x65):
        for mr in (0, 0x2A, 255):
            pdu = SR[:18] + "%02X" % mr + SR[20:-2] + "%02X" % st
            ref = decodeSmsPdu(pdu)
            assert ref["type"] == "SMS-STATUS-REPORT"
            got = decode_status_report(pdu)
            assert got == (ref["reference"], ref["number"], ref["status"])
