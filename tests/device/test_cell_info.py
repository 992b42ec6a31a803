# Serving-cell parsers: SIMCom AT+CPSI? (A76xx, SIM7600, SIM7080) and Quectel AT+QENG="servingcell"
# (BG95), on answers quoted in vendor manuals and public logs, and the cell in the SMS text.
from drivers.modem.simcom_a76xx import parse_cpsi
from drivers.modem.quectel_bg95 import parse_qeng_servingcell
from firmware.sms.text import compose


def test_cpsi_lte_a76xx_and_sim7600():
    # SIM7500/SIM7600 AT manual sample layout; TAC in hex, cell id in decimal
    assert parse_cpsi(b"LTE,Online,460-11,0x5A1E,187214780,257,EUTRAN-BAND3,1825,5,5,-94,-850,-545,15") == (
        460, "11", 0x5A1E, 187214780)
    assert parse_cpsi(b"LTE,Online,208-01,0x1A2B,27447297,123,EUTRAN-BAND20,6300,5,5,-94,-1000,-754,15") == (
        208, "01", 6699, 27447297)


def test_cpsi_sim7080_cat_m_and_nb_iot():
    assert parse_cpsi(b"LTE CAT-M1,Online,238-01,0x07D0,12024586,465,EUTRAN-BAND20,6350,5,5,-16,-83,-53,10") == (
        238, "01", 2000, 12024586)
    assert parse_cpsi(b"LTE NB-IOT,Online,302-720,0x1234,67890,450,EUTRAN-BAND4,2300,5,5,-85,-670,-440,15") == (
        302, "720", 0x1234, 67890)


def test_cpsi_gsm_and_wcdma():
    assert parse_cpsi(b"GSM,Online,262-01,0x972d,5559,79 EGSM 900,-83,0,24-24") == (262, "01", 0x972D, 5559)
    assert parse_cpsi(b"WCDMA,Online,310-410,0xD8DF,57659107,WCDMA 850,354,4385,0,5.5,55,37,60,500") == (
        310, "410", 0xD8DF, 57659107)
    # LAC printed without 0x by some firmware: still hex
    assert parse_cpsi(b"WCDMA,Online,460-01,1829,11122855,WCDMA IMT 2000,279,10663,0,1.5,62,33,52,500") == (
        460, "01", 0x1829, 11122855)


def test_cpsi_three_digit_mnc_keeps_its_leading_zero():
    assert parse_cpsi(b"LTE,Online,310-030,0x0001,1,1,EUTRAN-BAND2,900,5,5,-1,-1,-1,1")[1] == "030"


def test_cpsi_without_a_cell():
    for v in (b"NO SERVICE,Online", b"NO SERVICE,Low Power", b"", b"garbage",
              b"CDMA,Online,460-03,0x1,2,3",  # other layouts are not guessed
              b"LTE,Online,20801,0x1A2B,27447297",  # no dash
              b"LTE,Online,2A8-01,0x1A2B,27447297,1", b"LTE,Online,208-1,0x1A2B,27447297,1",
              b"LTE,Online,208-01,0xZZ,27447297,1", b"LTE,Online,208-01,0x1A2B,-5,1",
              b"WCDMA,Online,252-02,0x2612,-294967296,WCDMA IMT 2000"):
        assert parse_cpsi(v) is None, v


def test_qeng_bg95_emtc():
    # answers captured from BG95 modules (public logs): cell id and TAC in hex
    assert parse_qeng_servingcell(
        b' "servingcell","NOCONN","eMTC","FDD",334,020,3787103,260,2050,4,5,5,5B10,-108,-11,-83,19,13') == (
        334, "020", 0x5B10, 0x3787103)
    assert parse_qeng_servingcell(
        b' "servingcell","NOCONN","eMTC","FDD",274,02,44F5C,267,3600,8,3,3,8,-80,-12,-53,11,47') == (
        274, "02", 8, 0x44F5C)
    assert parse_qeng_servingcell(
        b' "servingcell","NOCONN","eMTC","FDD",310,410,B0DD811,152,5110,12,3,3,5003,-88,-11,-62,11,41') == (
        310, "410", 0x5003, 0xB0DD811)


def test_qeng_lte_gsm_nbiot():
    # EC25 (same layout as BG95 eMTC)
    assert parse_qeng_servingcell(
        b' "servingcell","NOCONN","LTE","FDD",214,01,7676A09,188,6300,20,3,3,603,-104,-9,-78,11,23') == (
        214, "01", 0x603, 0x7676A09)
    assert parse_qeng_servingcell(b' "servingcell","NOCONN","GSM",208,1,5B1,A2C3,51,62,0,-70') == (
        208, "01", 0x5B1, 0xA2C3)  # one-digit MNC printed: padded to the 2 digits MNCs have
    assert parse_qeng_servingcell(
        b' "servingcell","NOCONN","NBIoT","FDD",208,20,1A2B3C4,260,6300,20,5B10,-98,-11,-83,19,13') == (
        208, "20", 0x5B10, 0x1A2B3C4)


def test_qeng_without_a_cell():
    for v in (b' "servingcell","SEARCH"', b' "servingcell","LIMSRV"', b"", b' "neighbourcell intra","LTE",6300',
              b' "servingcell","NOCONN","WCDMA",208,01,1,2,3,4,5', b' "servingcell","NOCONN","eMTC","FDD",208',
              b' "servingcell","NOCONN","eMTC","FDD",2x8,01,1A,260,2050,4,5,5,5B10',
              b' "servingcell","NOCONN","eMTC","FDD",208,01,XYZ,260,2050,4,5,5,5B10'):
        assert parse_qeng_servingcell(v) is None, v


def test_cell_goes_into_the_sms_without_a_fix():
    cell = parse_cpsi(b"LTE,Online,208-01,0x1A2B,27447297,123,EUTRAN-BAND20,6300,5,5,-94,-1000,-754,15")
    t = compose("alert", "Marie", None, 80, "fr", cell=cell)
    assert "MCC 208 MNC 01 LAC 6699 CID 27447297" in t, t
    t = compose("alert", "Marie", None, 80, "en", cell=parse_qeng_servingcell(
        b' "servingcell","NOCONN","eMTC","FDD",334,020,3787103,260,2050,4,5,5,5B10,-108,-11,-83,19,13'))
    assert "MCC 334 MNC 020 LAC 23312 CID 58224899" in t, t
