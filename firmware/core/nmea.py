# Streaming NMEA 0183 parser for an external GNSS receiver on a UART.
# Size: one byte-level state machine and the epoch rules it feeds; split, every field access would
# cross a module on the hot path.
#
# feed() takes raw bytes exactly as UART reads return them: sentences split across reads, merged or
# truncated sentences, line noise and binary frames are all expected. One pass per byte frames the
# sentence into a preallocated buffer, XORs the checksum and records comma offsets; fields are then
# decoded by index into small ints (no split(), no per-sentence lists, no floats). Floats and the Fix
# object are only made once per epoch. Every intermediate int stays below 2**30 so it is a small int
# on the ESP32 too (no bignum allocation there).
#
# Decisions (see tests/data/nmea/README.md for how they compare with gpsd):
# - Checksum required. A sentence without "*hh" is dropped and counted in `nosum` (gpsd drops them
#   too); NmeaParser(allow_no_checksum=True) accepts them for receivers that never send one.
# - Epoch = all sentences carrying the same UTC time of day (GGA, RMC, GLL, ZDA), plus the untimed
#   ones (GSA, VTG) that follow them. It closes when a timed sentence brings another time, when the
#   same talker+type repeats within the epoch, or on flush(). One Fix per epoch.
# - No fix (mode 1) unless some sentence of the epoch says the fix is valid AND gives a position,
#   and none says it is invalid (RMC V or FAA N/S/M, GGA quality 0/7/8, GLL V or FAA N/S/M, GSA
#   mode 1 unless another GSA of the epoch has 2/3). Dead reckoning (GGA 6, FAA E) is kept as a fix;
#   Fix.quality tells it apart.
# - A GGA position from 0, 1 or 2 satellites used is no fix (gpsd processGGA: "3 > satellites" ->
#   no fix) unless a GSA of the epoch says 2D/3D listing 3+ satellites (Furuno's GNGGA says "00");
#   largest count over GGA talkers; empty = not reported (Saab R4). A later RMC/GLL "A" does not
#   override it as it does in gpsd (Garmin Foretrex): no false position in an alert.
#   A repeated time stamp (receiver no longer advancing) is also reported as no fix.
# - The NMEA 4.10 RMC navigational status (field 13) is kept but not used: u-blox and Telit always
#   send "V" there even with a good fix. The GSA system id (field 18) is accepted.
from micropython import const

_MAXLEN = const(120)  # body bytes kept; NMEA says 80, high-precision and 4.11 receivers send more
_MAXF = const(40)  # comma offsets recorded (GSA of the Navior CH-4701 has 29)

_IDLE = const(0)
_BODY = const(1)
_CK1 = const(2)
_CK2 = const(3)
_CKEND = const(4)

# sentence types as 24-bit ints of their 3 ASCII letters
_GGA = const(0x474741)
_RMC = const(0x524D43)
_GLL = const(0x474C4C)
_GSA = const(0x475341)
_VTG = const(0x565447)
_ZDA = const(0x5A4441)

# bits of the per-epoch "seen" mask (timed sentence types)
_S_GGA = const(1)
_S_RMC = const(2)
_S_GLL = const(4)
_S_ZDA = const(8)

_HALF_DAY_MS = const(43200000)
_DEC_MAX = const(999999999)  # _dec() saturates here (only HDOP uses it: >= 99 means "no figure")


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (public-domain algorithm, H. Hinnant)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (9 if m <= 2 else -3)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def civil_from_days(z):
    """(year, month, day) of a day count since 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (yoe + era * 400 + (1 if m <= 2 else 0), m, d)


class Fix:
    """One epoch. mode: 1 no fix, 2 2D, 3 3D. lat/lon: float degrees (None without fix); lat_e6/lon_e6:
    exact integer micro-degrees. day: days since 1970 (None while no date seen); tod_ms: UTC time of
    day in ms (None if the sentences had no time). hdop: float or None; sats: used satellites or None;
    quality: GGA fix quality (-1 if no GGA); stale: time stamp repeated by the receiver."""

    def __init__(self, mode, lat_e6, lon_e6, lat, lon, day, tod_ms, hdop, sats, quality, stale):
        self.mode = mode
        self.lat_e6 = lat_e6
        self.lon_e6 = lon_e6
        self.lat = lat
        self.lon = lon
        self.day = day
        self.tod_ms = tod_ms
        self.hdop = hdop
        self.sats = sats
        self.quality = quality
        self.stale = stale

    def valid(self):
        return self.mode >= 2

    def datetime(self):
        """(year, month, day, hh, mm, ss, ms) in UTC, or None without date and time."""
        if self.day is None or self.tod_ms is None:
            return None
        y, m, d = civil_from_days(self.day)
        t = self.tod_ms
        return (y, m, d, t // 3600000, t // 60000 % 60, t // 1000 % 60, t % 1000)

    def iso_time(self):
        dt = self.datetime()
        if dt is None:
            return None
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % dt


class NmeaParser:
    """feed(buf, n=None) with UART bytes; on_fix(fix) is called once per epoch (or poll `.fix`).
    Counters: ok, badsum, nosum, malformed, unknown, overflow, errors, epochs, stale."""

    def __init__(self, on_fix=None, allow_no_checksum=False):
        self.on_fix = on_fix
        self.allow_no_checksum = allow_no_checksum
        self.fix = None  # last completed epoch
        self._b = bytearray(_MAXLEN)
        self._com = bytearray(_MAXF)
        self._st = _IDLE
        self._ln = 0
        self._nf = 0
        self._ck = 0
        self._rx = 0
        self.ok = 0  # decoded sentences (GGA RMC GLL GSA VTG ZDA)
        self.badsum = 0
        self.nosum = 0
        self.malformed = 0  # bad framing, non-printable byte, bad field syntax
        self.unknown = 0  # valid checksum but a type we do not decode (GSV, AIS, proprietary...)
        self.overflow = 0  # longer than _MAXLEN
        self.errors = 0  # exceptions caught in feed() (should stay 0)
        self.epochs = 0
        self.stale = 0
        self._day = -1  # current UTC date (days since 1970), -1 unknown
        self._day_tod = -1  # time of day of the sentence that gave _day
        self._dim = 0  # dimension of the last valid fix, for RMC-only epochs
        self._t_deg = 0  # outputs of _latlon()
        self._t_min = 0
        self._p_latd = self._p_latm = self._p_lond = self._p_lonm = 0
        self._e_tk = bytearray(8)
        self._new_epoch(-1, False)

    # ---- framing: one pass per byte ----
    def feed(self, buf, n=None):
        try:
            if n is None:
                n = len(buf)
            b = self._b
            com = self._com
            st = self._st
            ln = self._ln
            nf = self._nf
            ck = self._ck
            rx = self._rx
            for i in range(n):
                c = buf[i]
                if st == _BODY:
                    if c == 42:  # '*'
                        st = _CK1
                    elif 32 <= c <= 126 and c != 36 and c != 33:
                        if ln < _MAXLEN:
                            b[ln] = c
                            ck ^= c
                            if c == 44 and nf < _MAXF:
                                com[nf] = ln
                                nf += 1
                            ln += 1
                        else:
                            self.overflow += 1
                            st = _IDLE
                    elif c == 13 or c == 10:
                        st = _IDLE
                        if self.allow_no_checksum:
                            self._sentence(ln, nf)
                        else:
                            self.nosum += 1
                    else:  # '$' or '!' inside a sentence (truncated/merged), or a binary byte
                        self.malformed += 1
                        st = _IDLE
                elif st == _IDLE:
                    pass
                elif st == _CKEND:
                    st = _IDLE
                    if c == 13 or c == 10 or c == 36 or c == 33:
                        if rx == ck:
                            self._sentence(ln, nf)
                        else:
                            self.badsum += 1
                    else:
                        self.malformed += 1
                else:  # checksum digits
                    if 48 <= c <= 57:
                        v = c - 48
                    elif 65 <= c <= 70:
                        v = c - 55
                    elif 97 <= c <= 102:
                        v = c - 87
                    else:
                        v = -1
                    if v < 0:
                        self.malformed += 1
                        st = _IDLE
                    elif st == _CK1:
                        rx = v << 4
                        st = _CK2
                    else:
                        rx |= v
                        st = _CKEND
                if (c == 36 or c == 33) and st == _IDLE:  # '$' or '!': start of a sentence
                    st = _BODY
                    ln = 0
                    nf = 0
                    ck = 0
            self._st = st
            self._ln = ln
            self._nf = nf
            self._ck = ck
            self._rx = rx
        except Exception:  # bad argument type: never let it escape into the caller's loop
            self.errors += 1
            self._st = _IDLE

    def flush(self):
        """Close the open epoch (end of a log, receiver switched off)."""
        try:
            self._close(-1)
        except Exception:
            self.errors += 1

    # ---- field access by index ----
    def _fs(self, k):
        return 0 if k == 0 else self._com[k - 1] + 1

    def _fe(self, k):
        return self._com[k] if k < self._nf else self._ln

    def _has(self, k):
        """Field k exists and is not empty."""
        return k <= self._nf and k < _MAXF and self._fs(k) < self._fe(k)

    def _chr(self, k):
        """First byte of field k, 0 when empty or missing."""
        if k > self._nf or k >= _MAXF:
            return 0
        s = self._fs(k)
        return self._b[s] if s < self._fe(k) else 0

    def _uint(self, k):
        """Unsigned integer field: -1 empty/missing, ValueError if not digits."""
        if not self._has(k):
            return -1
        b = self._b
        v = 0
        for i in range(self._fs(k), self._fe(k)):
            c = b[i] - 48
            if c < 0 or c > 9 or v > 10000000:
                raise ValueError
            v = v * 10 + c
        return v

    def _dec(self, k, nd):
        """Non-negative decimal field scaled by 10**nd (extra digits dropped), saturated at
        999999999 (below 2**30): -1 empty, ValueError."""
        if not self._has(k):
            return -1
        b = self._b
        v = 0
        frac = -1
        for i in range(self._fs(k), self._fe(k)):
            c = b[i]
            if c == 46 and frac < 0:
                frac = 0
                continue
            c -= 48
            if c < 0 or c > 9 or v > 10000000:
                raise ValueError
            if frac < 0:
                v = v * 10 + c
            elif frac < nd:
                v = v * 10 + c
                frac += 1
        if frac < 0:
            frac = 0
        while frac < nd:  # v <= 100000009 here: 9 digits x 100 would be a long int on the ESP32
            v = v * 10 if v < 100000000 else _DEC_MAX
            frac += 1
        return v

    def _tod(self, k):
        """hhmmss[.sss] -> ms of the day; -1 empty, ValueError if malformed."""
        if not self._has(k):
            return -1
        s = self._fs(k)
        e = self._fe(k)
        if e - s < 6:
            raise ValueError
        b = self._b
        v = 0
        for i in range(s, s + 6):
            c = b[i] - 48
            if c < 0 or c > 9:
                raise ValueError
            v = v * 10 + c
        hh = v // 10000
        mm = v // 100 % 100
        ss = v % 100
        if hh > 23 or mm > 59 or ss > 60:
            raise ValueError
        ms = 0
        if e > s + 6:
            if b[s + 6] != 46:
                raise ValueError
            mul = 100
            for i in range(s + 7, e):
                c = b[i] - 48
                if c < 0 or c > 9:
                    raise ValueError
                ms += c * mul
                mul //= 10
        return ((hh * 60 + mm) * 60 + ss) * 1000 + ms

    def _latlon(self, k, maxdeg):
        """Fields k (dddmm.mmmm) and k+1 (hemisphere) -> self._t_deg, self._t_min (signed minutes
        x 1e7, same sign as degrees). False if empty or invalid."""
        if not self._has(k) or not self._has(k + 1):
            return False
        h = self._chr(k + 1)
        if maxdeg == 90:
            if h == 78:  # N
                neg = False
            elif h == 83:  # S
                neg = True
            else:
                return False
        elif h == 69:  # E
            neg = False
        elif h == 87:  # W
            neg = True
        else:
            return False
        b = self._b
        ip = 0  # integer part dddmm
        fr = 0  # fraction of minutes x 1e7
        mul = 1000000
        frac = False
        for i in range(self._fs(k), self._fe(k)):
            c = b[i]
            if c == 46 and not frac:
                frac = True
                continue
            c -= 48
            if c < 0 or c > 9 or ip > 100000:
                return False
            if frac:
                fr += c * mul
                mul //= 10
            else:
                ip = ip * 10 + c
        deg = ip // 100
        mins = ip % 100
        if mins > 59 or deg > maxdeg or (deg == maxdeg and (mins or fr)):
            return False
        m = mins * 10000000 + fr
        if neg:
            deg = -deg
            m = -m
        self._t_deg = deg
        self._t_min = m
        return True

    # ---- epoch accumulation ----
    def _new_epoch(self, tod, stale):
        self._e_tod = tod
        self._e_seen = 0  # _S_* bits of the timed sentence types in this epoch
        tk = self._e_tk  # talker of each timed type in this epoch (2 bytes per type)
        for i in range(8):
            tk[i] = 0
        self._e_pos = False  # a sentence saying "valid" gave a position
        self._e_neg = stale  # a sentence said "no fix"
        self._e_stale = stale
        self._e_gsa = 0  # best GSA mode seen (2 or 3)
        self._e_gsa1 = False  # a GSA said "no fix" (only counts if no other GSA has one)
        self._e_few = False  # a GGA gave a position: its satellite count is checked in _emit()
        self._e_gga = -1  # GGA quality
        self._e_alt = False
        self._e_sats = -1
        self._e_gsasats = 0
        self._e_hdop = -1  # x100

    def _timed(self, tod, bit, t0, t1):
        """A sentence with a time field arrives: close the epoch if the time changed or this
        talker+type already spoke in it."""
        tk = self._e_tk
        slot = 0 if bit == _S_GGA else 2 if bit == _S_RMC else 4 if bit == _S_GLL else 6
        if self._e_seen:
            if tod != self._e_tod or (self._e_seen & bit and tk[slot] == t0 and tk[slot + 1] == t1):
                self._close(tod)
                self._midnight(tod)
        elif tod != self._e_tod:  # only untimed sentences so far: they belong to this time
            self._e_tod = tod
            self._midnight(tod)
        self._e_seen |= bit
        tk[slot] = t0
        tk[slot + 1] = t1

    def _midnight(self, tod):
        """A new epoch whose time is far earlier than that of the sentence which gave the date is on
        the next day (GGA at 00:00:00 after RMC 23:59:59); RMC/ZDA then confirm the date."""
        if tod >= 0 and self._day >= 0 and tod < self._day_tod - _HALF_DAY_MS:
            self._day += 1
            self._day_tod = tod

    def _close(self, next_tod):
        stale = False
        if self._e_seen & (_S_GGA | _S_RMC | _S_GLL):  # a ZDA-only epoch says nothing about the fix
            self._emit()
            stale = next_tod >= 0 and next_tod == self._e_tod
            if stale:
                self.stale += 1
        self._new_epoch(next_tod, stale)

    def _emit(self):
        tod = self._e_tod
        mode = 1
        few = self._e_few and 0 <= self._e_sats < 3 and not (self._e_gsa and self._e_gsasats >= 3)
        if self._e_pos and not self._e_neg and not few and (self._e_gsa or not self._e_gsa1):
            # 3D if GSA says so, or GGA gives an altitude from 4+ satellites (some Quectel and
            # Navior receivers say "2" in GSA while doing so); RMC/GLL only: as the last fix
            mode = self._e_gsa
            if self._e_gga > 0:
                if self._e_alt and self._e_sats >= 4:
                    mode = 3
                elif mode < 2:
                    mode = 2
            elif mode < 2:
                mode = 3 if self._dim == 3 else 2
        sats = self._e_sats if self._e_sats >= 0 else (self._e_gsasats if self._e_gsa else -1)
        hd = self._e_hdop
        if mode >= 2:
            self._dim = mode
            ld = self._p_latd
            lm = self._p_latm
            od = self._p_lond
            om = self._p_lonm
            lat_e6 = ld * 1000000 + (lm + 300) // 600 if lm >= 0 else ld * 1000000 - (300 - lm) // 600
            lon_e6 = od * 1000000 + (om + 300) // 600 if om >= 0 else od * 1000000 - (300 - om) // 600
            lat = ld + lm / 600000000.0
            lon = od + om / 600000000.0
        else:
            lat_e6 = lon_e6 = lat = lon = None
        f = Fix(mode, lat_e6, lon_e6, lat, lon, self._day if self._day >= 0 else None,
                tod if tod >= 0 else None, hd / 100.0 if 0 <= hd < 9900 else None,
                sats if sats >= 0 else None, self._e_gga, self._e_stale)
        self.fix = f
        self.epochs += 1
        cb = self.on_fix
        if cb is not None:
            try:
                cb(f)
            except Exception:  # the caller's bug must not cost us the framing state
                self.errors += 1

    def _position(self, k):
        """Take the position at fields k..k+3 for this epoch; False if absent/invalid."""
        if not self._latlon(k, 90):
            return False
        ld = self._t_deg
        lm = self._t_min
        if not self._latlon(k + 2, 180):
            return False
        self._p_latd = ld
        self._p_latm = lm
        self._p_lond = self._t_deg
        self._p_lonm = self._t_min
        self._e_pos = True
        return True

    # ---- one complete sentence in self._b[:ln] ----
    def _sentence(self, ln, nf):
        self._ln = ln
        self._nf = nf
        try:
            b = self._b
            # address field: 2-letter talker + 3-letter type
            if (nf == 0 and ln != 5) or (nf > 0 and self._com[0] != 5) or b[0] == 80:  # 'P'roprietary
                self.unknown += 1
                return
            t0 = b[0]
            t1 = b[1]
            if not (65 <= t0 <= 90 and 65 <= t1 <= 90):
                self.unknown += 1
                return
            t = (b[2] << 16) | (b[3] << 8) | b[4]
            if t == _GGA:
                self._gga(t0, t1)
            elif t == _RMC:
                self._rmc(t0, t1)
            elif t == _GSA:
                self._gsa()
            elif t == _GLL:
                self._gll(t0, t1)
            elif t == _ZDA:
                self._zda(t0, t1)
            elif t == _VTG:
                pass  # tolerated: speed/course are not needed for an alert
            else:
                self.unknown += 1
                return
            self.ok += 1
        except Exception:  # ValueError from a field, or anything unforeseen: drop the sentence
            self.malformed += 1

    def _gga(self, t0, t1):
        tod = self._tod(1)
        q = self._uint(6)
        sats = self._uint(7)
        hd = self._dec(8, 2)
        self._timed(tod, _S_GGA, t0, t1)
        self._e_gga = q
        if q <= 0 or q == 7 or q == 8:  # no fix, manual input, simulator
            self._e_neg = True
        elif self._position(2):
            self._e_alt = self._has(9)
            self._e_few = True  # judged in _emit() on the epoch's largest count
        else:
            self._e_neg = True
        if sats > self._e_sats:  # several talkers (GPGGA + GAGGA): their counts overlap, keep max
            self._e_sats = sats
        if hd >= 0:
            self._e_hdop = hd

    def _rmc(self, t0, t1):
        tod = self._tod(1)
        st = self._chr(2)
        faa = self._chr(12)
        self._timed(tod, _S_RMC, t0, t1)
        if (st == 65 or st == 68) and faa != 78 and faa != 83 and faa != 77:  # A/D, not N/S/M
            if self._has(9) and tod >= 0:
                self._date(self._uint(9), tod)
            if not self._position(3):
                self._e_neg = True
        else:
            self._e_neg = True

    def _date(self, ddmmyy, tod):
        if ddmmyy < 0:
            return
        d = ddmmyy // 10000
        m = ddmmyy // 100 % 100
        y = ddmmyy % 100
        if 1 <= m <= 12 and 1 <= d <= 31:
            self._day = days_from_civil(y + (2000 if y < 80 else 1900), m, d)
            self._day_tod = tod

    def _gll(self, t0, t1):
        tod = self._tod(5)
        st = self._chr(6)
        faa = self._chr(7)
        self._timed(tod, _S_GLL, t0, t1)
        if st == 65 and faa != 78 and faa != 83 and faa != 77:
            if not self._position(1):
                self._e_neg = True
        else:
            self._e_neg = True

    def _zda(self, t0, t1):
        tod = self._tod(1)
        d = self._uint(2)
        m = self._uint(3)
        y = self._uint(4)
        self._timed(tod, _S_ZDA, t0, t1)
        if tod >= 0 and 1 <= m <= 12 and 1 <= d <= 31 and 1980 <= y <= 2200:
            self._day = days_from_civil(y, m, d)
            self._day_tod = tod

    def _gsa(self):
        nf = self._nf
        if nf < 17:
            raise ValueError
        mode = self._chr(2) - 48  # "E" (dead reckoning, Antaris) or junk: no opinion
        if mode == 1:
            self._e_gsa1 = True  # one GSA per constellation: an unused one may say 1
        elif mode == 2 or mode == 3:
            if mode > self._e_gsa:
                self._e_gsa = mode
        # PRNs in fields 3..nf-3 (plus the NMEA 4.10 system id when 18 commas)
        last = nf - 3 if nf != 18 else nf - 4
        n = 0
        for k in range(3, last + 1):
            if self._has(k):
                n += 1
        self._e_gsasats += n
        hk = 16 if nf <= 18 else nf - 1
        hd = self._dec(hk, 2)
        if hd >= 0:
            self._e_hdop = hd
