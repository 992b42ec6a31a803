# +CGNSSINFO parsing for the A76xx (decimal degrees) and SIM7600 (ddmm.mmmm) layouts.
from drivers.modem.simcom_a76xx import parse_cgnssinfo
from firmware.core.fix import UERE_M


def close(a, b, tol=1e-6):
    return abs(a - b) <= tol


def test_a76xx_fix():
    f = parse_cgnssinfo(b"3,08,04,03,48.856610,N,2.352220,E,261126,143002.8,35.0,0.0,0.0,1.9,1.2,1.5")
    assert close(f.lat, 48.85661) and close(f.lon, 2.35222)
    assert close(f.acc_m, 1.2 * UERE_M) and f.sats == 15
    import time
    t = time.gmtime(f.utc)
    assert t[0:6] == (2026, 11, 26, 14, 30, 2)


def test_extra_galileo_field_and_southern_western_hemisphere():
    f = parse_cgnssinfo(b"2,06,02,01,03,33.868820,S,151.209290,W,010126,000000.0,10,0,0,2.0,1.0,1.7")
    assert close(f.lat, -33.86882) and close(f.lon, -151.20929) and f.sats == 12


def test_sim7600_ddmm():
    f = parse_cgnssinfo(b"2,06,03,00,3113.330650,N,12121.262554,E,131117,091918.0,32.9,0.0,255.0,1.1,0.8,0.7",
                        ddmm=True)
    assert close(f.lat, 31 + 13.33065 / 60) and close(f.lon, 121 + 21.262554 / 60)


def test_no_fix_and_garbage_give_none():
    for v in (b",,,,,,,,,,,,,,,", b"", b"garbage", b"3,1,1,1,abc,N,2.0,E,261126,143002.8,1,0,0,1,1,1",
              b"3,1,1,1,95.0,N,2.0,E,261126,143002.8,1,0,0,1,1,1", b"1,2,N,E"):
        assert parse_cgnssinfo(v) is None, v


def test_a_position_from_fewer_than_3_satellites_is_no_fix():
    # issue 19: as gpsd does for a GGA, a fix from 0-2 satellites is no fix, and <mode> must say 2D/3D
    base = b"3,%s,48.856610,N,2.352220,E,261126,143002.8,35.0,0.0,0.0,1.9,1.2,1.5"
    for counts in (b"00,00,00", b"01,01,00", b"0,0,0"):
        assert parse_cgnssinfo(base % counts) is None, counts
    assert parse_cgnssinfo(base % b"02,01,00").sats == 3
    assert parse_cgnssinfo(base % b",,") is not None  # counts not reported: the other fields decide
    assert parse_cgnssinfo(b"1" + (base % b"08,04,03")[1:]) is None  # mode 1: no fix
