# GNSS answers of every dialect -> firmware.location.Fix: SIM7600 +CGNSSINFO (ddmm.mmmmmm), SIM7080
# +CGNSINF (fix-status field), BG95 +QGPSLOC=2 and its +CME ERROR 516, and the external NMEA receiver.
import asyncio
import time

from drivers.modem.simcom_a76xx import parse_cgnssinfo
from drivers.modem.simcom_sim7080 import parse_cgnsinf
from drivers.modem.quectel_bg95 import parse_qgpsloc, cme_code, CME_NOT_FIXED, CME_NOT_ACTIVE, CME_ONGOING
from drivers.nmea_gnss import NmeaGnss, to_fix
from firmware.core.fix import UERE_M
from firmware.core.nmea import NmeaParser


def close(a, b, tol=1e-6):
    return abs(a - b) <= tol


def gm(utc):
    return time.gmtime(utc)[0:6]


def test_sim7600_manual_example():
    # SIM7500/SIM7600 AT manual V1.08, AT+CGNSSINFO example
    f = parse_cgnssinfo(b"2,09,05,00,3113.330650,N,12121.262554,E,131117,091918.0,32.9,0.0,255.0,1.1,0.8,0.7",
                        ddmm=True)
    assert close(f.lat, 31 + 13.330650 / 60) and close(f.lon, 121 + 21.262554 / 60)
    assert f.sats == 14 and close(f.acc_m, 0.8 * UERE_M)
    assert gm(f.utc) == (2017, 11, 13, 9, 19, 18)
    assert parse_cgnssinfo(b",,,,,,,,,,,,,,,", ddmm=True) is None


def test_sim7600_southern_western():
    f = parse_cgnssinfo(b"3,10,04,02,3352.129200,S,07033.480000,W,010126,120000.0,10,0,0,1.2,0.9,0.8",
                        ddmm=True)
    assert close(f.lat, -(33 + 52.1292 / 60)) and close(f.lon, -(70 + 33.48 / 60))


def test_sim7080_fix_uses_the_receivers_accuracy():
    # SIM7070/SIM7080 layout, 18 fields (example shape of the DFRobot SIM7070G wiki page)
    f = parse_cgnsinf(b"1,1,20191024051848.000,12.345678,123.456789,123.123,0.00,-1.8,0,,1.4,1.7,0.9,,6,,12.4,12.0")
    assert close(f.lat, 12.345678) and close(f.lon, 123.456789)
    assert close(f.acc_m, 12.4) and f.sats == 6  # HPA, not HDOP x UERE
    assert gm(f.utc) == (2019, 10, 24, 5, 18, 48)
    # without HPA: HDOP x UERE
    f = parse_cgnsinf(b"1,1,20191024051848.000,-12.5,-3.25,12,0.00,0,0,,1.4,1.7,0.9,,6,,,")
    assert close(f.acc_m, 1.4 * UERE_M) and close(f.lat, -12.5) and close(f.lon, -3.25)


def test_sim7000_layout_21_fields():
    # SIM7000/SIM868 layout (more satellite counts, C/N0): used satellites and HPA found at their place
    f = parse_cgnsinf(b"1,1,20220112234948.000,47.211150,-1.566408,31.500,0.00,224.1,1,,1.9,2.1,1.0,,13,4,,,42,7.5,")
    assert close(f.lat, 47.21115) and close(f.lon, -1.566408) and f.sats == 4 and close(f.acc_m, 7.5)


def test_sim7080_fix_status_decides():
    # GNSS on, no fix: position fields empty or left over, and the 1980 default time
    for v in (b"1,0,19800106000007.000,,,,0.00,0.0,0,,,,,,0,,,", b"1,,,,,,,,,,,,,,,,,",
              b"1,0,20191024051848.000,12.345678,123.456789,123.123,0.00,-1.8,0,,1.4,1.7,0.9,,6,,12.4,12.0",
              b"0,,,,,,,,,,,,,,,,,", b"", b"1,1,2019", b"1,1,20191024051848.000,95.0,2.0,1,0,0,0,,1,1,1,,1,,1,1",
              b"1,1,20191024051848.000,abc,2.0,1,0,0,0,,1,1,1,,1,,1,1"):
        assert parse_cgnsinf(v) is None, v
    # fix with the engine's 1980 clock: position kept, time unknown
    f = parse_cgnsinf(b"1,1,19800106000007.000,45.0,5.0,1,0,0,0,,1.0,1,1,,5,,,")
    assert f is not None and f.utc is None


def test_bg95_qgpsloc_mode_2():
    # BG96/BG95 GNSS AN layout, a capture from a public driver's tests
    f = parse_qgpsloc(b"113355.0,44.74770,-85.56527,1.2,192.0,2,277.11,0.0,0.0,250420,10")
    assert close(f.lat, 44.7477) and close(f.lon, -85.56527) and close(f.acc_m, 1.2 * UERE_M) and f.sats == 10
    assert gm(f.utc) == (2020, 4, 25, 11, 33, 55)
    f = parse_qgpsloc(b"061951.000,-33.86882,151.20930,0.9,5.0,3,0.00,0.0,0.0,110824,12")
    assert close(f.lat, -33.86882) and close(f.lon, 151.2093)
    for v in (b"", b"0.0,,,,,0", b"113355.0,44.7,-85.5,1.2,192.0,1,0,0,0,250420,10",  # fix field 1
              b"113355.0,91.0,10.0,1.0,0,2,0,0,0,250420,10", b"113355.0,a,b,1,1,2,0,0,0,250420,1"):
        assert parse_qgpsloc(v) is None, v


def test_bg95_cme_codes_numeric_and_verbose():
    assert cme_code(b"+CME ERROR: 516") == CME_NOT_FIXED == 516
    assert cme_code(b"+CME ERROR: Not fixed now") == 516
    assert cme_code(b"+CME ERROR: Session not active") == CME_NOT_ACTIVE == 505
    assert cme_code(b"+CME ERROR: Session is ongoing") == CME_ONGOING == 504
    assert cme_code(b"+CME ERROR: unknown") == -1 and cme_code(b"ERROR") == -1
    assert cme_code(b"+CMS ERROR: 516") == -1


def _sum(body):
    c = 0
    for b in body:
        c ^= b
    return b"$%s*%02X\r\n" % (body, c)


def test_nmea_epoch_to_fix():
    got = []
    p = NmeaParser(on_fix=got.append)
    rmc = _sum(b"GNRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A")
    gga = _sum(b"GNGGA,083559.00,4717.11437,N,00833.91522,E,1,08,1.01,499.6,M,48.0,M,,")
    p.feed(rmc + gga)
    p.flush()
    f = to_fix(got[-1])
    assert close(f.lat, 47 + 17.11437 / 60) and close(f.lon, 8 + 33.91522 / 60)
    assert close(f.acc_m, 1.01 * UERE_M) and f.sats == 8 and f.source == "gnss"
    assert gm(f.utc) == (2002, 12, 9, 8, 35, 59)
    got.clear()
    p.feed(_sum(b"GNRMC,083600.00,V,,,,,,,091202,,,N") + _sum(b"GNGGA,083600.00,,,,,0,00,99.99,,,,,,"))
    p.flush()
    assert to_fix(got[-1]) is None and to_fix(None) is None
    got.clear()
    p.feed(_sum(b"GPGGA,083601.00,4717.11437,N,00833.91522,E,6,05,2.0,499.6,M,48.0,M,,"))  # dead reckoning
    p.flush()
    assert to_fix(got[-1]).source == "gnss-dr"


class _Pin:
    def __init__(self):
        self.v = 0

    def value(self, v=None):
        if v is not None:
            self.v = v
        return self.v


async def test_nmea_driver_power_age_and_no_fix():
    pin = _Pin()
    g = NmeaGnss(None, enable_pin=pin, max_age_ms=300)
    assert not g.gnss_on
    await g.gnss_power(True)
    assert pin.v == 1 and g.gnss_on
    assert await g.gnss_fix() is None
    rmc = _sum(b"GNRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A")
    gga = _sum(b"GNGGA,083559.00,4717.11437,N,00833.91522,E,1,08,1.01,499.6,M,48.0,M,,")
    # split across "UART reads" at awkward places
    data = rmc + gga + _sum(b"GNRMC,083600.00,A,4717.11500,N,00833.91522,E,0.004,77.52,091202,,,A")
    for i in range(0, len(data), 7):
        g.feed(data[i:i + 7])
    f = await g.gnss_fix()  # the 083559 epoch closed when 083600 began
    assert f is not None and close(f.lat, 47 + 17.11437 / 60)
    await asyncio.sleep_ms(350)
    assert await g.gnss_fix() is None  # receiver went quiet: too old to be "the current fix"
    g.feed(_sum(b"GNGGA,083600.00,4717.11500,N,00833.91522,E,1,08,1.01,499.6,M,48.0,M,,"))
    g.feed(_sum(b"GNRMC,083601.00,V,,,,,,,091202,,,N"))
    f = await g.gnss_fix()
    assert f is not None and close(f.lat, 47 + 17.115 / 60)
    g.feed(_sum(b"GNGGA,083601.00,,,,,0,00,99.99,,,,,,") + _sum(b"GNRMC,083602.00,V,,,,,,,091202,,,N"))
    assert await g.gnss_fix() is None  # a no-fix epoch withdraws the fix at once
    await g.gnss_power(False)
    assert pin.v == 0 and not g.gnss_on and await g.gnss_fix() is None
    assert g.stats()["errors"] == 0 and g.stats()["badsum"] == 0


async def test_nmea_driver_without_enable_pin_is_always_on():
    g = NmeaGnss(None)
    assert g.gnss_on and g.gnss_blocks_lte is False
    await g.gnss_power(False)  # cannot switch it off: stays on, says so
    assert g.gnss_on


async def test_nmea_driver_says_whether_sentences_arrive():
    pin = _Pin()
    g = NmeaGnss(None, enable_pin=pin, max_age_ms=300)
    await g.gnss_power(True)
    assert await g.gnss_read() == (False, None)  # nothing heard yet
    g.feed(b"$GP garbage, no checksum\r\n" + bytes(range(0x80, 0x90)) + b"\r\n")
    assert (await g.gnss_read())[0] is False  # garbage is not data
    g.feed(_sum(b"GNRMC,083600.00,V,,,,,,,091202,,,N") + _sum(b"GNGGA,083600.00,,,,,0,00,99.99,,,,,,"))
    assert await g.gnss_read() == (True, None)  # sentences without a fix: data arrives
    await asyncio.sleep_ms(350)
    assert (await g.gnss_read())[0] is False  # quiet for longer than max_age_ms
    g.feed(_sum(b"GNGGA,083601.00,4717.11437,N,00833.91522,E,1,08,1.01,499.6,M,48.0,M,,"))
    g.feed(_sum(b"GNRMC,083602.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A"))
    answered, fix = await g.gnss_read()
    assert answered and fix is not None and fix.sats == 8
    await g.gnss_power(False)
    assert await g.gnss_read() == (False, None)  # switched off: what it said before does not count


def test_bg95_position_from_fewer_than_3_satellites_is_no_fix():
    # issue 19: <nsat> 0-2 with <fix> 2 or 3 is no fix
    for n in (b"0", b"00", b"2"):
        assert parse_qgpsloc(b"113355.0,44.74770,-85.56527,1.2,192.0,2,277.11,0.0,0.0,250420," + n) is None, n
    assert parse_qgpsloc(b"113355.0,44.74770,-85.56527,1.2,192.0,2,277.11,0.0,0.0,250420,03").sats == 3
