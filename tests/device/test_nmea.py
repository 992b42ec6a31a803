# firmware/core/nmea.py inside the MicroPython VM: framing under every kind of UART damage, decoding,
# epochs, and allocation per sentence.
import gc

from firmware.core.nmea import NmeaParser, civil_from_days, days_from_civil


def nmea(body):
    """'$' + body + '*HH\r\n' with a correct checksum (bytes)."""
    if isinstance(body, str):
        body = body.encode()
    c = 0
    for ch in body:
        c ^= ch
    return b"$" + body + (b"*%02X\r\n" % c)


def epoch(hhmmss, lat=b"4404.14063,N", lon=b"12118.85478,W", date=b"180315", talker=b"GP"):
    t = talker
    return (nmea(t + b"RMC," + hhmmss + b",A," + lat + b"," + lon + b",0.117,," + date + b",,,A")
            + nmea(t + b"GGA," + hhmmss + b"," + lat + b"," + lon + b",1,12,0.91,1147.2,M,-21.3,M,,")
            + nmea(t + b"GSA,A,3,01,11,31,14,22,32,04,25,03,,,,1.56,0.91,1.27")
            + nmea(t + b"GSV,4,1,13,01,53,280,36,03,29,301,24,04,55,223,37,08,38,166,16"))


STREAM = epoch(b"171926.00") + epoch(b"171927.00", lat=b"4404.14058,S") + epoch(b"171928.50")


def collect(*chunks, **kw):
    out = []
    p = NmeaParser(on_fix=out.append, **kw)
    for c in chunks:
        p.feed(c)
    p.flush()
    return p, out


def key(f):
    return (f.mode, f.lat_e6, f.lon_e6, f.day, f.tod_ms, f.hdop, f.sats, f.quality, f.stale)


def test_decodes_a_clean_stream():
    p, fixes = collect(STREAM)
    assert len(fixes) == 3, len(fixes)
    f = fixes[0]
    assert f.mode == 3
    assert f.lat_e6 == 44069011 and f.lon_e6 == -121314246, (f.lat_e6, f.lon_e6)
    assert abs(f.lat - 44.0690105) < 1e-9 and abs(f.lon + 121.314246333) < 1e-8, (f.lat, f.lon)
    assert f.iso_time() == "2015-03-18T17:19:26.000Z", f.iso_time()
    assert f.hdop == 0.91 and f.sats == 12 and f.quality == 1
    assert fixes[1].lat < 0 and fixes[1].lat_e6 == -44069010
    assert fixes[2].iso_time() == "2015-03-18T17:19:28.500Z"
    assert p.ok == 9 and p.unknown == 3 and p.epochs == 3
    assert p.badsum == p.nosum == p.malformed == p.overflow == p.errors == 0


def test_split_at_every_byte_boundary():
    _, ref = collect(STREAM)
    ref = [key(f) for f in ref]
    for k in range(len(STREAM) + 1):
        p, got = collect(STREAM[:k], STREAM[k:])
        assert [key(f) for f in got] == ref, k
        assert p.errors == 0 and p.malformed == 0 and p.badsum == 0
    # one byte per read, and reads through a reused bytearray with a length (UART.readinto style)
    p, got = collect(*[STREAM[i:i + 1] for i in range(len(STREAM))])
    assert [key(f) for f in got] == ref
    out = []
    p = NmeaParser(on_fix=out.append)
    buf = bytearray(17)
    for i in range(0, len(STREAM), 13):
        part = STREAM[i:i + 13]
        buf[:len(part)] = part
        p.feed(buf, len(part))
    p.flush()
    assert [key(f) for f in out] == ref


def test_bad_checksum_is_counted_and_dropped():
    good = nmea("GPGGA,120000.00,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,")
    bad = good.replace(b"4807.038", b"4807.039")  # one digit flipped by line noise
    p, fixes = collect(bad)
    assert p.badsum == 1 and p.ok == 0 and fixes == []
    lower = good[:-4] + good[-4:-2].lower() + b"\r\n"  # lowercase hex is legal
    p, fixes = collect(lower)
    assert p.ok == 1 and len(fixes) == 1 and fixes[0].mode == 3


def test_missing_checksum_dropped_unless_allowed():
    raw = b"$GPGGA,222449,3349.0337,S,01843.9282,E,1,07,02.31,000115.4,M,0033.3,M,,\r\n"
    p, fixes = collect(raw)
    assert p.nosum == 1 and fixes == []
    p, fixes = collect(raw, allow_no_checksum=True)
    assert p.ok == 1 and fixes[0].mode == 3 and fixes[0].lat_e6 == -33817228, fixes[0].lat_e6


def test_truncated_and_merged_sentences():
    gga = nmea("GPGGA,120000.00,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,")
    rmc = nmea("GPRMC,120000.00,A,4807.038,N,01131.324,E,0.0,,230394,,,A")
    # truncated: the receiver restarted mid-sentence, the next '$' begins a new one
    p, fixes = collect(gga[:30] + rmc)
    assert p.malformed == 1 and p.ok == 1 and len(fixes) == 1
    assert fixes[0].iso_time() == "1994-03-23T12:00:00.000Z"
    # merged: no line end between two complete sentences
    p, fixes = collect(gga[:-2] + rmc)
    assert p.ok == 2 and p.malformed == 0 and fixes[0].mode == 3
    # cut inside the checksum
    p, fixes = collect(gga[:-3] + rmc)
    assert p.malformed == 1 and p.ok == 1
    # junk after the checksum
    p, fixes = collect(gga[:-2] + b"x\r\n")
    assert p.malformed == 1 and p.ok == 0


def test_overflow_then_recovers():
    p, fixes = collect(b"$GPTXT," + b"A" * 300 + b"*00\r\n" + epoch(b"000001"))
    assert p.overflow == 1 and p.ok == 3 and len(fixes) == 1 and fixes[0].mode == 3


def lcg_bytes(n, seed):
    out = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return out


def test_garbage_and_binary_never_raise():
    ubx = bytes([0xB5, 0x62, 0x01, 0x07, 0x5C, 0x00]) + bytes(range(92)) + b"\x24\x2a\x0d\x0a"
    noise = lcg_bytes(4000, 7)
    stream = noise + epoch(b"101010") + ubx + b"\x00\xff$GP\x00GGA" + epoch(b"101011") + noise
    p, fixes = collect(stream)
    assert p.errors == 0
    assert [f.tod_ms for f in fixes if f.mode == 3] == [36610000, 36611000], [f.tod_ms for f in fixes]
    p, fixes = collect(lcg_bytes(20000, 1), lcg_bytes(20000, 2))
    assert p.errors == 0 and all(f.mode == 1 for f in fixes)
    # wrong argument types are counted, never raised into the caller's read loop
    p = NmeaParser()
    p.feed(None)
    p.feed(b"abc", 10)
    assert p.errors == 2
    p.feed("$GPGGA,120000.00,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,*00\r\n")  # str: ignored
    p.feed(epoch(b"101012"))
    p.flush()
    assert p.fix.mode == 3


def test_callback_exception_does_not_escape():
    def boom(f):
        raise RuntimeError("user bug")
    p = NmeaParser(on_fix=boom)
    p.feed(STREAM)
    p.flush()
    assert p.errors == 3 and p.epochs == 3 and p.fix.mode == 3


def test_empty_fields_mean_no_fix():
    cold = (nmea("GPGGA,,,,,,0,,,,M,,M,,") + nmea("GPGLL,,,,,,V,N") + nmea("GPGSA,A,1,,,,,,,,,,,,,,,")
            + nmea("GPRMC,,V,,,,,,,,,,N") + nmea("GPVTG,,T,,M,,N,,K,N"))
    p, fixes = collect(cold, cold, cold)
    assert p.ok == 15 and p.malformed == 0
    assert len(fixes) >= 3 and all(f.mode == 1 and f.lat is None and f.iso_time() is None for f in fixes)
    # u-blox with time but no fix yet
    p, fixes = collect(nmea("GPRMC,001902.00,V,,,,,,,020211,,,N") + nmea("GPGGA,001902.00,,,,,0,00,99.99,,,,,,"))
    assert len(fixes) == 1 and fixes[0].mode == 1 and fixes[0].tod_ms == 1142000 and fixes[0].hdop is None


def test_invalid_flags_mean_no_fix_even_with_a_position():
    pos = "4807.038,N,01131.324,E"
    cases = [
        "GPRMC,120000,V," + pos + ",0.0,,230394,,",  # RMC void
        "GPRMC,120000,A," + pos + ",0.0,,230394,,,N",  # FAA: not valid
        "GPRMC,120000,A," + pos + ",0.0,,230394,,,S",  # simulator
        "GPGGA,120000," + pos + ",0,08,0.9,545.4,M,46.9,M,,",  # quality 0 but stale position
        "GPGGA,120000," + pos + ",8,10,2.0,268.8,M,-33.9,M,,",  # Garmin simulator
        "GPGLL," + pos + ",120000,V,N",
        "GPGLL," + pos + ",120000,A,N",
        "GPGGA,120000,4807.038,X,01131.324,E,1,08,0.9,545.4,M,46.9,M,,",  # bad hemisphere
        "GPGGA,120000,4867.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,",  # 67 minutes
        "GPRMC,235946.005,V,8960.000000,N,00000.000000,E,0.000,0.00,050180,,,N",  # MTK cold start
    ]
    for body in cases:
        p, fixes = collect(nmea(body))
        assert len(fixes) == 1 and fixes[0].mode == 1 and fixes[0].lat is None, body
    # a valid RMC with a GGA saying "no fix" in the same epoch: no fix
    p, fixes = collect(nmea(cases[0].replace(",V,", ",A,")) + nmea(cases[3]))
    assert fixes[0].mode == 1


def test_a_position_from_fewer_than_3_satellites_is_no_fix():
    # gpsd (processGGA): "3 > satellites_visible" -> no fix; issue 19: a false position in an alert
    pos = "4807.038,N,01131.324,E"
    gga = "GPGGA,120000," + pos + ",%s,%s,0.9,545.4,M,46.9,M,,"
    for q in ("1", "2", "4", "5", "6"):
        for sats in ("00", "0", "01", "2"):
            p, fixes = collect(nmea(gga % (q, sats)))
            assert len(fixes) == 1 and fixes[0].mode == 1 and fixes[0].lat is None, (q, sats)
        p, fixes = collect(nmea(gga % (q, "03")))
        assert fixes[0].mode == 2 and fixes[0].lat_e6 == 48117300, q  # 3 satellites: 2D
    # not reported (Saab R4): the other sentences decide
    p, fixes = collect(nmea(gga % ("2", "")))
    assert fixes[0].mode == 2
    # a valid RMC of the same epoch does not turn 0 satellites into a fix (gpsd would: last word)
    rmc = nmea("GPRMC,120000,A," + pos + ",0.0,,230394,,,A")
    p, fixes = collect(rmc + nmea(gga % ("1", "00")))
    assert fixes[0].mode == 1 and fixes[0].lat is None
    p, fixes = collect(nmea(gga % ("1", "00")) + nmea("GPGLL," + pos + ",120000,A,A")
                       + nmea("GPGSA,A,2,,,,,,,,,,,,,2.7,2.5,1.0"))
    assert fixes[0].mode == 1  # Garmin Foretrex: 00 satellites, a GSA listing none
    # a GSA listing 3+ satellites used overrides a GGA count of 0 (Furuno GNGGA "00")
    p, fixes = collect(nmea(gga.replace("GPGGA", "GNGGA") % ("2", "00"))
                       + nmea("GNGSA,A,3,68,69,70,78,84,85,,,,,,,1.5,1.3,1.0,2")
                       + nmea("GNGSA,A,3,04,05,09,11,36,,,,,,,,1.5,1.3,1.0,3"))
    assert fixes[0].mode == 3 and fixes[0].lat_e6 == 48117300
    # a GSA with 2 satellites listed does not
    p, fixes = collect(nmea(gga % ("1", "00")) + nmea("GPGSA,A,3,04,05,,,,,,,,,,,1.5,1.3,1.0"))
    assert fixes[0].mode == 1
    # several talkers: the largest count (GPGGA 05 + GAGGA 01 of the same epoch) is a fix
    p, fixes = collect(nmea(gga % ("1", "05")) + nmea(gga.replace("GPGGA", "GAGGA") % ("1", "01")))
    assert fixes[0].mode == 3 and fixes[0].sats == 5


def test_nmea_410_fields():
    s = (nmea("GNRMC,003956.00,A,4552.65403,S,17030.00668,E,0.025,,120419,,,D,V")  # nav status V
         + nmea("GNGGA,003956.00,4552.65403,S,17030.00668,E,2,12,0.72,18.7,M,0.4,M,,0000")
         + nmea("GNGSA,A,3,02,05,06,09,12,17,19,25,,,,,1.32,0.72,1.11,1")
         + nmea("GNGSA,A,3,65,72,73,,,,,,,,,,1.32,0.72,1.11,2")
         + nmea("GNGSA,A,1,,,,,,,,,,,,,1.32,0.72,1.11,3")  # unused constellation says 1
         + nmea("GNGSA,A,3,,,,,,,,,,,,,1.32,0.72,1.11,4"))
    p, fixes = collect(s)
    assert p.ok == 6 and p.malformed == 0
    f = fixes[0]
    assert f.mode == 3 and f.quality == 2 and f.sats == 12 and f.hdop == 0.72
    assert f.lat_e6 == -45877567 and f.lon_e6 == 170500111, (f.lat_e6, f.lon_e6)
    # GSA alone (no GGA): satellites counted over all systems, hdop from the GSA
    s = (nmea("GNRMC,003957.00,A,4552.65403,S,17030.00668,E,0.025,,120419,,,A,V")
         + nmea("GNGSA,A,3,02,05,06,09,,,,,,,,,1.32,0.72,1.11,1") + nmea("GNGSA,A,3,65,72,,,,,,,,,,,1.32,0.72,1.11,2"))
    p, fixes = collect(s)
    assert fixes[0].mode == 3 and fixes[0].sats == 6 and fixes[0].hdop == 0.72


def test_all_talkers():
    for t in (b"GP", b"GN", b"GL", b"GA", b"GB", b"BD", b"QZ", b"GI", b"XY"):
        p, fixes = collect(epoch(b"120000", talker=t))
        assert p.ok == 3 and p.unknown == 1 and len(fixes) == 1 and fixes[0].mode == 3, t
    # talkers that are not two capital letters, proprietary and AIS sentences: unknown, no harm
    p, fixes = collect(nmea("gpGGA,120000,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,")
                       + nmea("PGRME,15.0,M,45.0,M,25.0,M") + b"!AIVDM,1,1,,B,H3`lOl1<4iE@T00000000000000,2*72\r\n")
    assert p.unknown == 3 and p.ok == 0 and fixes == []


def test_dimension():
    def one(gga, gsa=None):
        s = nmea(gga) + (nmea(gsa) if gsa else b"")
        return collect(s)[1][0].mode
    g = "GPGGA,212625.000,4839.9411,N,00214.9065,E,1,%s,3.1,%s,M,47.3,M,,0000"
    assert one(g % ("07", "56.1"), "GPGSA,A,2,06,07,11,19,22,28,30,,,,,,1.4,1.1,0.8") == 3  # Quectel says 2
    assert one(g % ("03", "168.0"), "GPGSA,A,2,06,07,11,,,,,,,,,,1.4,1.1,0.8") == 2  # 3 satellites: 2D
    assert one(g % ("05", "")) == 2  # no altitude
    assert one(g % ("05", "168.0")) == 3
    rmc = nmea("GPRMC,120824.76,A,3908.8199,N,00023.0832,W,00.0,000.0,130305,01.,W")
    assert collect(rmc)[1][0].mode == 2  # RMC-only receiver


def test_epochs_time_rules():
    # repeated time stamp from the same talker: the receiver stopped advancing, no fix
    gga = nmea("GPGGA,120000.00,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,")
    p, fixes = collect(gga, gga)
    assert [f.mode for f in fixes] == [3, 1] and fixes[1].stale and p.stale == 1
    # same time from two talkers (Telit: GPGGA + GAGGA): one epoch
    p, fixes = collect(gga + nmea("GAGGA,120000.00,4807.038,N,01131.324,E,1,01,0.9,545.4,M,46.9,M,,"))
    assert len(fixes) == 1 and fixes[0].mode == 3 and fixes[0].sats == 8
    # a ZDA running ahead of the fix (Ashtech AC12) does not make empty epochs
    s = (nmea("GPRMC,193221.00,A,2037.7279,N,08704.0848,W,00.1,201.8,231207,01,W,A")
         + nmea("GPZDA,193223.00,23,12,2007,00,00")
         + nmea("GPGGA,193222.00,2037.72832,N,08704.08469,W,1,04,1.7,-30.00,M,-13.9,M,,"))
    p, fixes = collect(s)
    assert [(f.tod_ms // 1000 % 60, f.mode) for f in fixes] == [(21, 2), (22, 3)]  # 21: RMC only
    # ZDA gives the date to a GGA-only receiver
    p, fixes = collect(nmea("GPZDA,130711,01,06,2011,01,00") + nmea("GPGGA,130711," + "4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,"))
    assert fixes[0].iso_time() == "2011-06-01T13:07:11.000Z", fixes[0].iso_time()


def test_midnight_and_dates():
    s = (nmea("GPRMC,235959.00,A,4807.038,N,01131.324,E,0.0,,311299,,,A")
         + nmea("GPGGA,000000.00,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,")  # GGA first
         + nmea("GPRMC,000000.00,A,4807.038,N,01131.324,E,0.0,,010100,,,A")
         + nmea("GPGGA,000001.00,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,"))
    p, fixes = collect(s)
    assert [f.iso_time() for f in fixes] == ["1999-12-31T23:59:59.000Z", "2000-01-01T00:00:00.000Z",
                                             "2000-01-01T00:00:01.000Z"], [f.iso_time() for f in fixes]
    for y, m, d in ((1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2100, 3, 1), (1999, 1, 1)):
        assert civil_from_days(days_from_civil(y, m, d)) == (y, m, d)
    assert days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28) == 2
    assert days_from_civil(2015, 3, 18) == 16512


def test_memory_per_sentence_and_no_growth():
    # sentences that do not close an epoch must not allocate; a closed epoch allocates its Fix
    eps = [epoch(b"12%02d%02d.00" % (i // 60, i % 60)) for i in range(120)]
    parts = []
    for e in eps:  # split each epoch into its 4 sentences, prepared before measuring
        i = 0
        sent = []
        while i < len(e):
            j = e.index(b"\n", i) + 1
            sent.append(e[i:j])
            i = j
        parts.append(sent)
    out = []
    p = NmeaParser(on_fix=out.append)
    for s in parts[0]:
        p.feed(s)
    gc.collect()
    gc.disable()
    try:
        inner = 0  # bytes allocated by GGA, GSA, GSV (never close an epoch here)
        closing = 0  # bytes allocated by RMC (closes the previous epoch: Fix + floats)
        for sent in parts[1:]:
            a = gc.mem_alloc()
            p.feed(sent[0])
            b = gc.mem_alloc()
            p.feed(sent[1])  # no slicing or iterators here: they would allocate themselves
            p.feed(sent[2])
            p.feed(sent[3])
            c = gc.mem_alloc()
            closing += b - a
            inner += c - b
    finally:
        gc.enable()
    n = len(parts) - 1
    print("nmea alloc: %d bytes per non-closing sentence, %d bytes per epoch (Fix + floats)" % (
        inner // (3 * n), closing // n))
    assert inner == 0, inner
    assert closing // n < 640, closing // n
    # no growth: thousands of epochs later the parser holds the same memory
    out = None
    p.on_fix = None
    eps = [e for e in eps]

    def rounds(k):
        for _ in range(k):
            for e in eps:
                p.feed(e)

    rounds(1)
    gc.collect()
    base = gc.mem_alloc()
    rounds(20)
    gc.collect()
    grown = gc.mem_alloc() - base
    print("nmea retained after %d more epochs: %d bytes" % (20 * len(eps), grown))
    assert grown < 256, grown
