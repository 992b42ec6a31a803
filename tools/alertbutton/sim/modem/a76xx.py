"""Host-side modem simulator: a SIMCom A76xx (A7670E) speaking its AT dialect on a pty.

The firmware (in the MicroPython VM) opens the pty slave as its UART. Everything the real module does
that the firmware must survive is reproduced: boot banners, input lost before boot, echo until ATE0,
per-command latency, the CMGS "> " prompt without CRLF, +CMS errors, URCs landing anywhere between
whole lines (even between a response and its final result code, or right after the prompt), SMS
delivery reports (+CDS) and the power key.

Design for later dialects and faults:
  * one class per dialect (ModemSim is the A76xx); handlers are methods named x_<NAME> for extended
    commands (AT+NAME) and b_<LETTER> for basic ones (ATE0 -> b_E); subclasses override or add them
    and change the class attributes (banners, ATI text, URC pool, GNSS line format). DIALECTS maps a
    scenario's "modem": {"dialect": ...} to a class; create() builds one.
  * faults: sim.fault(name, **params) arms a named fault (or a scenario's "faults": [{"name", "at_s",
    params...}], armed at start or at at_s seconds). FAULTS maps each name to (hook, stages, default
    parameters): the hook _fault_<hook>(stage, ctx, params) is consulted at those stages ("rx", "tx",
    "result", "cmgs_cmd", "prompt", "cmgs_pdu", "cmgs_submit", "cmgs_accepted", "report", "dial",
    "connect", "escape") and returns
    True when it consumed the event; _arm_<hook>(name, params), if defined, runs when the fault is
    armed. Unknown names or parameters raise ValueError. Common parameters: times (uses before the
    fault disarms itself, None = forever), skip (matching occurrences let through first), to (only
    SMS to this number). Random choices use one generator per fault seeded from (seed, name).
  * power: power_key(level) is the module's PWRKEY pin (0 = pulled low = pressed). Held >= 50 ms
    while off: the module boots. Held >= 2.5 s while on: it powers down (power_down_s), losing every
    setting (echo back on, CMGF/CNMI/CMEE defaults) and whatever was in flight. The TP-MR counter
    continues: it lives on the SIM (EF_SMSS, 3GPP TS 31.102). A crash (reboot_mid_sms) is the same
    without the key.

  * data mode: AT+CGDCONT, then ATD*99# / ATD*99***<cid># / AT+CGDATA="PPP",<cid> -> CONNECT and a
    first PPP frame; the bytes that follow go to a fake PPP peer (swallowed, or echoed with
    "data_echo": true) until "+++" framed by guard_s of silence (-> OK, command mode, call held);
    ATH ends the call. data_rx keeps what the TE sent in data mode, data_log the call's events.
    The network answers a dial after "dial_latency_s"; any character the TE sends meanwhile (after
    V.250's 125 ms) aborts it: NO CARRIER, command mode.

Only one thread (the simulator's) touches the pty and the modem state; public methods called from
other threads post work to it through a wake-up pipe.
"""
import datetime
import errno
import heapq
import os
import random
import select
import threading
import time
import tty

from gsmmodem.pdu import decodeSmsPdu, encodeGsm7, packSeptets

# User Equivalent Range Error (m): HDOP = accuracy_m / UERE_M. The firmware's copy lives in
# firmware/location.py (MicroPython-only module, so not importable here); a host test checks they agree.
UERE_M = 5.0

_CTRL_Z = 0x1A
_ESC = 0x1B
_CR = 0x0D
_LF = 0x0A
_BS = 0x08
_HEX = frozenset(b"0123456789ABCDEFabcdef")
_MAX_LINE = 556  # longer command lines are dropped, as the module's line buffer would

# 3GPP TS 27.007 section 9.2 verbose texts (AT+CMEE=2) for the codes this sim produces.
CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    16: "incorrect password",
    30: "no network service",
    50: "Incorrect parameters",
    100: "unknown",
}

# 3GPP TS 27.005 section 3.2.5 codes (reported numerically: 27.005 defines no verbose form).
CMS_INVALID_PDU = 304     # invalid PDU mode parameter
CMS_INVALID_TEXT = 305    # invalid text mode parameter
CMS_NO_SERVICE = 331      # no network service
CMS_NO_CNMA = 340         # no +CNMA acknowledgement expected
CMS_UNKNOWN = 500         # unknown error

# TP-ST values (3GPP TS 23.040 9.2.3.15) used by the delivery-report faults.
ST_DELIVERED = 0x00        # short message received by the SME
ST_SME_BUSY = 0x21         # temporary error, SC still trying to transfer the SM
ST_INCOMPATIBLE = 0x41     # permanent error: incompatible destination

class CmdError(Exception):
    """Raised by a handler: final is "ERROR", ("cme", code) or ("cms", code)."""

    def __init__(self, final="ERROR"):
        super().__init__(final)
        self.final = final


_ASYNC = object()  # handler return value: it schedules its own final result


def parse_args(s):
    """Split AT parameters on commas outside quotes; quotes are removed. 'a,"b,c",3' -> [a, b,c, 3]."""
    out, cur, quoted, was_quoted = [], [], False, False
    for ch in s:
        if ch == '"':
            quoted = not quoted
            was_quoted = True
        elif ch == "," and not quoted:
            out.append("".join(cur) if was_quoted else "".join(cur).strip())
            cur, was_quoted = [], False
        else:
            cur.append(ch)
    out.append("".join(cur) if was_quoted else "".join(cur).strip())
    return out


def _int_arg(args, i, lo, hi, default=None):
    if i >= len(args) or args[i] == "":
        if default is None:
            raise CmdError(("cme", 50))
        return default
    try:
        v = int(args[i])
    except ValueError:
        raise CmdError(("cme", 50)) from None
    if not lo <= v <= hi:
        raise CmdError(("cme", 50))
    return v


def _ud_octets(dcs, udl):
    """Octets the user data must occupy for TP-DCS dcs and TP-UDL udl (TS 23.038 alphabet groups)."""
    if dcs & 0xC0 == 0x00:
        alphabet = (dcs >> 2) & 3
    elif dcs & 0xF0 == 0xF0:
        alphabet = (dcs >> 2) & 1
    elif dcs & 0xF0 == 0xE0:
        alphabet = 2
    else:
        alphabet = 0
    return (udl * 7 + 7) // 8 if alphabet == 0 else udl


def check_submit_pdu(hexstr, n):
    """Validate what the TE typed after AT+CMGS=n in PDU mode.

    Returns (None, decoded) when the PDU is a well-formed SMS-SUBMIT whose TPDU (the PDU without its
    leading SMSC field) is exactly n octets, else (CMS error code, None). Decoding is done by
    python-gsmmodem-new, independently of the firmware's encoder.
    """
    if not hexstr or len(hexstr) % 2 or any(c not in _HEX for c in hexstr.encode("latin-1")):
        return CMS_INVALID_PDU, None
    raw = bytes.fromhex(hexstr)
    smsc_len = raw[0]
    tpdu = raw[1 + smsc_len:]
    if 1 + smsc_len > len(raw) or len(tpdu) != n or len(tpdu) < 7:
        return CMS_INVALID_PDU, None
    # walk the SMS-SUBMIT header (TS 23.040 9.2.2.2) so a truncated or padded PDU is refused
    fo = tpdu[0]
    if fo & 0x03 != 0x01:
        return CMS_INVALID_PDU, None
    i = 2                                   # first octet, TP-MR
    da_digits = tpdu[i]
    i += 2 + (da_digits + 1) // 2           # length, type of address, semi-octets
    i += 2                                  # TP-PID, TP-DCS
    if i > len(tpdu):
        return CMS_INVALID_PDU, None
    dcs = tpdu[i - 1]
    vpf = (fo >> 3) & 3
    i += {0: 0, 2: 1}.get(vpf, 7)
    if i >= len(tpdu):
        return CMS_INVALID_PDU, None
    udl = tpdu[i]
    if len(tpdu) - i - 1 != _ud_octets(dcs, udl):
        return CMS_INVALID_PDU, None
    try:
        decoded = decodeSmsPdu(hexstr)
    except Exception:
        return CMS_INVALID_PDU, None
    if decoded.get("type") != "SMS-SUBMIT":
        return CMS_INVALID_PDU, None
    return None, decoded


def luhn_complete(digits14):
    """Append the Luhn check digit an IMEI carries (3GPP TS 23.003 annex B)."""
    total = 0
    for i, c in enumerate(reversed(digits14)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits14 + str((10 - total % 10) % 10)


def _parse_net_time(s):
    """'26/11/26,15:30:00+04' (local time, zone in quarter hours) -> (UTC datetime, quarters)."""
    date, clock = s.split(",")
    sign = 1 if "+" in clock else -1
    hms, tz = clock.replace("-", "+").split("+")
    local = datetime.datetime.strptime(date + "," + hms, "%y/%m/%d,%H:%M:%S")
    q = sign * int(tz)
    return local - datetime.timedelta(minutes=15 * q), q


# --- SMS-STATUS-REPORT (3GPP TS 23.040 9.2.2.3), the PDU of a +CDS delivery report ------------------

def _semi_octets(digits):
    """'3361' -> b'\\x33\\x16': BCD digits, low nibble first, odd count padded with F."""
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))


def encode_address(number):
    """TP-RA address field: digit count, type of address (0x91 international, 0x81 unknown), digits."""
    intl = number.startswith("+")
    digits = "".join(c for c in number if c.isdigit())
    if not digits:
        raise ValueError("address %r has no digits" % number)
    return bytes((len(digits), 0x91 if intl else 0x81)) + _semi_octets(digits)


def encode_smsc(number):
    """RP SC address field as the module prints it before a TPDU: octet count (TOA + digits), TOA,
    digits; b'\\x00' when unknown."""
    if not number:
        return b"\x00"
    a = encode_address(number)
    return bytes((len(a) - 1,)) + a[1:]


def encode_timestamp(utc, tzq):
    """7-octet TP-SCTS/TP-DT: local time (utc + tzq quarter hours) in swapped BCD; the zone in quarter
    hours, its sign in bit 3 of the last octet (23.040 9.2.3.11)."""
    local = utc + datetime.timedelta(minutes=15 * tzq)
    out = _semi_octets(local.strftime("%y%m%d%H%M%S") + "%02d" % abs(tzq))
    if tzq < 0:
        out = out[:6] + bytes((out[6] | 0x08,))
    return out


def status_report_pdu(mr, recipient, scts_utc, dt_utc, status, tzq=0, smsc=""):
    """(hex PDU with its SMSC field, TPDU length) of an SMS-STATUS-REPORT: first octet MTI=10 with
    TP-MMS set (no more messages), TP-SRQ 0 (report of an SMS-SUBMIT), TP-MR, TP-RA, TP-SCTS, TP-DT,
    TP-ST; no TP-PI (optional)."""
    if not 0 <= mr <= 255 or not 0 <= status <= 255:
        raise ValueError("mr and status are octets")
    tpdu = (bytes((0x06, mr)) + encode_address(recipient) + encode_timestamp(scts_utc, tzq)
            + encode_timestamp(dt_utc, tzq) + bytes((status,)))
    return (encode_smsc(smsc) + tpdu).hex().upper(), len(tpdu)


def deliver_pdu(sender, text, scts_utc, tzq=0, smsc=""):
    """(hex PDU with its SMSC field, TPDU length) of an SMS-DELIVER (23.040 9.2.2.1) as the module
    stores a received SMS: GSM-7 when the text allows it, else UCS2; one segment only."""
    try:
        ud, dcs = packSeptets(encodeGsm7(text)), 0x00
        udl = len(encodeGsm7(text))
    except ValueError:
        ud, dcs = text.encode("utf-16-be"), 0x08
        udl = len(ud)
    if udl > (160 if dcs == 0 else 140):
        raise ValueError("one segment only")
    tpdu = (bytes((0x04,)) + encode_address(sender) + bytes((0x00, dcs)) + encode_timestamp(scts_utc, tzq)
            + bytes((udl,)) + bytes(ud))
    return (encode_smsc(smsc) + tpdu).hex().upper(), len(tpdu)


def text_timestamp(utc, tzq):
    """'yy/MM/dd,hh:mm:ss+zz' (27.005 text mode <scts>/<dt>)."""
    local = utc + datetime.timedelta(minutes=15 * tzq)
    return "%s%+03d" % (local.strftime("%y/%m/%d,%H:%M:%S"), tzq)


def _norm_number(n):
    return "".join(c for c in str(n or "") if c.isdigit() or c == "+")


# --- faults ------------------------------------------------------------------------------------------

REQUIRED = object()  # a fault parameter without a default
_CMGS_ERR = ("cmgs_submit", "result")

# name -> (hook, stages where _fault_<hook> is consulted, default parameters). A parameter not listed
# here is refused, so a typo in a scenario file fails loudly. Descriptions: docs/fault-suite.md.
FAULTS = {
    # +CMS ERROR <code> instead of +CMGS (after the PDU and cmgs_latency_s), or for another command
    "cms_error": ("cms_error", _CMGS_ERR, {"code": CMS_UNKNOWN, "times": 1, "skip": 0, "cmd": "CMGS",
                                           "to": None}),
    "cms_38": ("cms_error", _CMGS_ERR, {"code": 38, "times": 1, "skip": 0, "cmd": "CMGS", "to": None}),
    "cms_42": ("cms_error", _CMGS_ERR, {"code": 42, "times": 1, "skip": 0, "cmd": "CMGS", "to": None}),
    "cms_500": ("cms_error", _CMGS_ERR, {"code": 500, "times": 1, "skip": 0, "cmd": "CMGS", "to": None}),
    # one destination always refused (24.011 E.2 cause 1 unassigned number, 21 rejected, 50 ...)
    "cms_permanent": ("cms_error", _CMGS_ERR, {"code": 1, "times": None, "skip": 0, "cmd": "CMGS",
                                               "to": REQUIRED}),
    # input swallowed and nothing written; times=N: N command lines, then normal again
    "silent": ("silent", ("rx", "tx"), {"times": None}),
    # the module hangs (on the next AT+CMGS after `skip`, or at once with now=True) until a power cycle
    "silent_until_power_cycle": ("hang", ("cmgs_cmd", "rx", "tx"), {"skip": 0, "now": False}),
    "no_sim": ("no_sim", (), {}),
    # no working GNSS engine (a module variant without GNSS, or a dead one): every GNSS command ERROR
    "no_gnss": ("no_gnss", ("result",), {}),
    "sim_pin": ("sim_pin", (), {"pin": "1234"}),
    "not_registered_for": ("unregistered", (), {"duration_s": 120.0}),
    # the "> " prompt never reaches the TE: mode "lost" (the module waits for the PDU) or "ignored"
    "no_prompt": ("no_prompt", ("prompt",), {"times": 1, "skip": 0, "mode": "lost"}),
    # PDU taken, then neither +CMGS nor an error; sent=True: the network did get the SMS
    "no_cmgs": ("no_cmgs", ("cmgs_submit",), {"times": 1, "skip": 0, "sent": False, "to": None}),
    "garbage": ("garbage", ("tx",), {"rate": 0.5, "idle_hz": 2.0}),
    "baud_noise": ("baud_noise", ("tx",), {"rate": 0.3, "idle_hz": 3.0}),
    "partial_lines": ("partial_lines", (), {"min_gap_ms": 1.0, "max_gap_ms": 3.0}),
    "urc_storm_during_cmgs": ("urc_storm", ("cmgs_cmd",), {"rate_hz": 50.0, "times": None, "skip": 0}),
    # the module resets while the SMS is in flight (after `skip` SMS); sent=True: it had reached the SC
    "reboot_mid_sms": ("reboot_mid_sms", ("cmgs_pdu",), {"times": 1, "skip": 0, "sent": False}),
    "spontaneous_reboot": ("spontaneous_reboot", (), {}),
    # echo turns itself back on after `skip` + 1 accepted SMS
    "echo_reenabled": ("echo_reenabled", ("cmgs_accepted",), {"times": 1, "skip": 0}),
    "slow_cmgs": ("slow_cmgs", ("cmgs_pdu",), {"latency_s": 30.0, "times": 1, "skip": 0, "to": None}),
    "cds_failed": ("cds", ("report",), {"status": ST_INCOMPATIBLE, "times": None, "skip": 0, "to": None}),
    "cds_never": ("cds", ("report",), {"status": None, "times": None, "skip": 0, "to": None}),
    "cds_temporary_then_delivered": ("cds", ("report",), {"status": ST_SME_BUSY, "then_s": 3.0,
                                                          "final": ST_DELIVERED, "times": None, "skip": 0,
                                                          "to": None}),
    "ring_during_cmgs": ("ring", ("cmgs_pdu",), {"count": 3, "gap_s": 0.15, "times": None, "skip": 0}),
    "cmti_flood": ("cmti_flood", ("cmgs_cmd",), {"count": 40, "rate_hz": 40.0, "times": 1, "skip": 0}),
    "sms_done_late": ("sms_done_late", (), {"delay_s": 10.0}),
    # data mode (PPP): "+++" ignored, the module stays in data mode (times: escapes ignored)
    "ignore_escape": ("ignore_escape", ("escape",), {"times": None}),
    # the network drops the data call after_s after CONNECT: NO CARRIER, back to command mode
    "data_drop": ("data_drop", ("connect",), {"after_s": 0.5, "times": 1}),
    # the dial is refused: NO CARRIER instead of CONNECT
    "dial_refused": ("dial_refused", ("dial",), {"times": 1}),
}
_CLEARED_BY_POWER = ("hang", "silent")  # hooks whose faults a power cycle cures
# the GNSS commands of every simulated dialect (A76xx, SIM7600, SIM7080, BG95): what no_gnss refuses
_GNSS_CMDS = frozenset(("CGNSSPWR", "CGNSSINFO", "CGPS", "CGNSPWR", "CGNSINF", "QGPS", "QGPSEND", "QGPSLOC"))

# The fake PPP peer's first frame after CONNECT (HDLC flags, an LCP Configure-Request) with a CRLF
# "OK" CRLF inside: an AT reader that kept parsing after CONNECT would take it for a result code.
PPP_FRAME = b"\x7e\xff\x7d\x23\xc0\x21\x7d\x21\x7d\x21\x7d\x20\x7d\x2a\r\nOK\r\n\x7e"

# Junk for the garbage fault: no letters, digits, '+', '>' or space, so it can never spell a result
# code, a URC prefix or the prompt; control and high-bit bytes included.
_JUNK = b"#$%&'()*-./:;<=?@[\\]^_`{|}~" + bytes((0x00, 0x07, 0x1B, 0x7F, 0x80, 0xC3, 0xFE, 0xFF))

class ModemSim:
    """SIMCom A76xx (A7670E) on a pty. See the module docstring for the dialect/fault design."""

    dialect = "a76xx"
    # real A7670 boot order, one URC each, spaced by banner_gap_s
    boot_banners = ("*ATREADY: 1", "+CPIN: READY", "SMS DONE", "PB DONE")
    sms_ready_banner = "SMS DONE"  # SMS commands answer ERROR before it (seen on a real A7670E:
    # github.com/Xinyuan-LilyGO/LilyGo-Modem-Series/issues/247, AT+CMGF=1 -> ERROR before SMS DONE)
    # Without a SIM the A76xx says "+CPIN: SIM REMOVED" after *ATREADY and SMS DONE never comes.
    no_sim_banner = "+CPIN: SIM REMOVED"
    ati_lines = (
        "Manufacturer: SIMCOM INCORPORATED",
        "Model: A7670E-LASE",
        "Revision: A7670M7_V1.11.1",
        "IMEI: {imei}",
        "+GCAP: +CGSM,+FCLASS,+DS",
    )
    # Cancelling the prompt with ESC is acknowledged with OK: SIMCom documents "If cancel write: OK"
    # for +CMGW (SIM7500/SIM7600 AT manual V1.07), whose input rules +CMGS shares; Telit and
    # Cinterion manuals say the same for +CMGS. A dialect that stays silent sets this False.
    esc_reply_ok = True
    operator = ("20801", "Orange F")
    isim_aid = "A0000000871004FF33FF01890000FFFF"
    cnmi_default = (2, 1, 0, 0, 0)  # ds=0: no status report routed until the TE asks for it
    FAULTS = FAULTS

    def __init__(self, scenario, on_sms=None, on_log=None, seed=0, clock=time.monotonic):
        scenario = scenario or {}
        m = dict(scenario.get("modem") or {})
        self.cmgs_latency_s = float(m.get("cmgs_latency_s", 1.0))
        self.boot_s = float(m.get("boot_s", 0.5))
        self.cmd_latency_s = float(m.get("cmd_latency_s", 0.02))
        self.urc_rate_hz = float(m.get("urc_rate_hz", 0.0))
        reg = m.get("registered_after_s", 0.0)
        self.registered_after_s = None if reg is None or reg < 0 else float(reg)
        self.reregister_s = float(m.get("reregister_s", 1.0))  # after a reboot or the PIN
        self.csq = int(m.get("csq", 20))
        self.banner_gap_s = float(m.get("banner_gap_s", 0.1))
        self.gnss_ready_s = float(m.get("gnss_ready_s", 0.2))
        self.vbat_v = float(m.get("vbat_v", 3.95))
        self.imei = str(m.get("imei") or luhn_complete("86000000123456"))
        self.imsi = str(m.get("imsi", "208011234567890"))
        self.nitz = bool(m.get("nitz", True))
        self.net_time = str(m.get("net_time", "26/11/26,15:30:00+04"))
        self.delivery_s = float(m.get("delivery_s", 2.0))  # SMS accepted -> its status report
        self.smsc = str(m.get("smsc", "+33689004000"))
        # PWRKEY (A7670 hardware design, power on/off timing): >= 50 ms low turns it on, >= 2.5 s low
        # turns it off; power_down_s until it is really off (a press meanwhile is ignored).
        self.pwrkey_on_s = float(m.get("pwrkey_on_s", 0.05))
        self.pwrkey_off_s = float(m.get("pwrkey_off_s", 2.5))
        self.power_down_s = float(m.get("power_down_s", 1.0))
        self._utc0, self._tzq = _parse_net_time(self.net_time)
        self.gnss = scenario.get("gnss")
        self._t0_cfg = scenario.get("t0")
        self.on_sms = on_sms
        self.on_log = on_log
        self.clock = clock
        self.seed = seed
        self.rng = random.Random(seed)
        self._frng = {}
        self.sms = []          # SMS the network accepted (+CMGS given or not)
        self.submits = []      # every well-formed PDU the TE submitted: {"t", "to"}
        self.reports = []      # status reports the network produced: {"t", "to", "mr", "status", "routed"}
        self.power_log = []    # {"t", "event": "off"/"on"/"boot", "why"}
        self.faults = {}
        self.fault_hits = {}   # fault name -> how many times it acted (a suite checks each one did)
        self.error = None  # last exception raised inside the sim thread (also logged)
        self.mr = int(m.get("mr0", 0)) & 0xFF  # on the SIM (EF_SMSS): survives power cycles
        self.cmti_index = 0
        self.store = {}        # SIM message store "SM": index -> [stat, pdu hex, tpdu length]
        self.store_size = int(m.get("store_size", 30))
        self.booted = False
        self.sms_ready = False
        self.sim_state = "ready"  # "ready" | "absent" | "pin" | "puk"
        self._pin_tries = 3
        self.boots = 0
        self._power = "on" if m.get("powered", True) else "off"
        self._pk_down = None
        self._off_at = 0.0
        self._epoch = 0
        self._reg_at = 0.0
        self._unreg_until = 0.0
        self._reports_pending = 0
        self._next_drip = 0.0
        self._line = bytearray()
        self._body = bytearray()
        self._rx = bytearray()
        self._out = bytearray()
        self._events = []
        self._seq = 0
        self._posted = []
        self._lock = threading.Lock()
        self._sms_cv = threading.Condition(self._lock)
        self._stop = False
        self._thread = None
        self._master = self._slave = None
        self._wake_r = self._wake_w = None
        self.t0 = None
        # data mode: "+++" needs guard_s of silence before and after (SIMCom: 1 s); the fake PPP
        # peer swallows what it gets (data_echo: sends it back) and opens with one frame
        self.guard_s = float(m.get("guard_s", 1.0))
        self.data_echo = bool(m.get("data_echo", False))
        self.data_rx = bytearray()   # every byte the TE sent in data mode
        self.data_log = []           # {"t", "event": "connect"/"escape"/"ath"/"drop"/"refused"/"abort"}
        # time the network takes to answer a dial (PDP activation); cmd_latency_s when not given
        self.dial_latency_s = float(m.get("dial_latency_s", self.cmd_latency_s))
        self._reset_state()
        self._scenario_faults = []
        for f in scenario.get("faults") or []:
            f = dict(f)
            name, at = f.pop("name", None), f.pop("at_s", None)
            self._check_fault(name, f)
            self._scenario_faults.append((name, at, f))

    def _reset_state(self):
        """Power-on defaults of everything the TE can set (lost on a reboot or a power cycle)."""
        self.echo = True
        self.cmee = 0
        self.cmgf = 0
        self.cscs = "IRA"
        self.creg_n = self.cereg_n = self.cgreg_n = 0
        self.cfun = 1
        self.cnmi = list(self.cnmi_default)
        self.csmp = [17, 167, 0, 0]
        self.csms = 0
        self._cds_ack = False
        self.gnss_on_at = None
        self._busy = False
        self._mode = "cmd"           # "cmd" | "pdu" | "text" (collecting after the "> " prompt)
        self._cmgs_len = 0
        self._cmgs_da = None
        self._cmgs_active = False
        self._storm_rate = 0.0
        self._inject_at = {"before_final": [], "after_prompt": [], "after_echo": []}
        self._next_urc = None
        self.pdp = {}                # cid -> (PDP type, APN) from AT+CGDCONT
        self._call = False           # a data call is up (in data mode, or held after "+++")
        self._plus = 0               # "+" of a possible escape seen after a guard time of silence
        self._data_rx_t = 0.0        # clock of the last byte received in data mode
        self._dialing = None         # (token, clock of the dial's CR) while a dial awaits the network

    # ---------------------------------------------------------------- public API (any thread)
    def start(self):
        """Create the pty pair (raw on both sides), start the sim thread; returns the slave path."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        now = self.clock()
        self.t0 = now if self._t0_cfg is None else float(self._t0_cfg)
        if self.registered_after_s is not None:
            self._reg_at = self.t0 + self.registered_after_s
        for name, at, params in self._scenario_faults:
            if at is None:
                self.fault(name, **params)
            else:
                self._schedule(self.t0 + float(at), lambda n=name, p=params: self.fault(n, **p), net=True)
        if self._power == "on":
            self._schedule(self.t0 + self.boot_s, self._boot)
        path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="modem-sim", daemon=True)
        self._thread.start()
        self._log("sim %s started on %s" % (self.dialect, path))
        return path

    def stop(self):
        self._stop = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = self._wake_r = self._wake_w = None

    def inject(self, line, when="now"):
        """Send one URC line, framed "\\r\\n<line>\\r\\n".

        when: "now"; "before_final" (between the next command's response lines and its final result
        code); "after_prompt" (right after the next "> " prompt); "after_echo" (right after the next
        command line's echo, before its response).
        """
        if when != "now" and when not in self._inject_at:
            raise ValueError("unknown injection point %r" % when)
        self._post(lambda: self._emit_urc(line) if when == "now" else self._inject_at[when].append(line))

    @classmethod
    def _check_fault(cls, name, params):
        if name not in cls.FAULTS:
            raise ValueError("unknown fault %r (known: %s)" % (name, ", ".join(sorted(cls.FAULTS))))
        defaults = cls.FAULTS[name][2]
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise ValueError("fault %s: unknown parameter(s) %s (known: %s)"
                             % (name, ", ".join(unknown), ", ".join(sorted(defaults)) or "none"))
        missing = [k for k, v in defaults.items() if v is REQUIRED and k not in params]
        if missing:
            raise ValueError("fault %s needs %s" % (name, ", ".join(missing)))

    def fault(self, name, **params):
        """Arm a named fault (see FAULTS) with its default parameters overridden by params; re-arming
        replaces its parameters."""
        self._check_fault(name, params)
        p = dict(self.FAULTS[name][2])
        p.update(params)
        with self._lock:
            self.faults[name] = p
        self._log("fault armed: %s %r" % (name, params))
        arm = getattr(self, "_arm_" + self.FAULTS[name][0], None)
        if arm is not None:
            self._post(lambda: arm(name, p))

    def clear_fault(self, name=None):
        with self._lock:
            if name is None:
                self.faults.clear()
            else:
                self.faults.pop(name, None)
        self._log("fault cleared: %s" % (name or "all"))

    def deliver_sms(self, sender, text):
        """An SMS for the device arrives from the network: stored on the SIM, announced by +CMTI."""
        self._post(lambda: self._incoming(sender, text))

    def power_key(self, level):
        """The module's PWRKEY pin level: 0 = pulled low (pressed), 1 = released. (On the LilyGO
        board a transistor inverts it: ESP32 GPIO high = PWRKEY low.) Timed on the sim clock now."""
        t = self.clock()
        self._post(lambda: self._on_pwrkey(1 if level else 0, t))

    def powered(self):
        return self._power == "on"

    def now(self):
        """Seconds since t0 on the sim clock."""
        return self.clock() - self.t0

    def registered(self):
        if (self.cfun != 1 or self.registered_after_s is None or not self.booted
                or self.sim_state != "ready"):
            return False
        now = self.clock()
        return now >= self._reg_at and now >= self._unreg_until

    def reports_pending(self):
        """Status reports the network still has to deliver (scheduled, not yet routed or dropped)."""
        return self._reports_pending

    def wait_sms(self, count, timeout):
        """Block until at least count SMS were accepted (True) or timeout seconds passed (False)."""
        end = time.monotonic() + timeout
        with self._sms_cv:
            while len(self.sms) < count:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._sms_cv.wait(left)
        return True

    # ---------------------------------------------------------------- fault machinery
    def _fault(self, stage, ctx):
        with self._lock:
            armed = [(n, p) for n, p in self.faults.items() if stage in self.FAULTS[n][1]]
        for name, params in armed:
            ctx["fault"] = name
            if getattr(self, "_fault_" + self.FAULTS[name][0])(stage, ctx, params):
                return True
        return False

    def _spend(self, name, params):
        """Count one use of a fault armed with times=N; disarm it when used up (times=None: forever)."""
        times = params.get("times", 1)
        if times is None:
            return
        params["times"] = times - 1
        if params["times"] <= 0:
            with self._lock:
                if self.faults.get(name) is params:
                    del self.faults[name]
            self._log("fault used up: %s" % name)

    def _take(self, name, params, to=None):
        """Does this occurrence trigger the fault? Filters on `to`, lets `skip` occurrences through,
        then spends one use."""
        if params.get("to") is not None and _norm_number(params["to"]) != _norm_number(to):
            return False
        if params.get("skip", 0) > 0:
            params["skip"] -= 1
            return False
        self._spend(name, params)
        self._hit(name)
        return True

    def _hit(self, name):
        self.fault_hits[name] = self.fault_hits.get(name, 0) + 1

    def _frand(self, name):
        """The fault's own generator: its random choices do not depend on other faults or URCs."""
        r = self._frng.get(name)
        if r is None:
            r = self._frng[name] = random.Random("%s:%s" % (self.seed, name))
        return r

    # --- hooks (sim thread)
    def _fault_cms_error(self, stage, ctx, params):
        """+CMS ERROR: code instead of success, for the command `cmd` (CMGS: the error comes after the
        PDU, once cmgs_latency_s elapsed)."""
        cmd = params.get("cmd", "CMGS").upper().lstrip("+")
        if (stage == "cmgs_submit") != (cmd == "CMGS") or (stage == "result" and ctx["cmd"] != cmd):
            return False
        if not self._take(ctx["fault"], params, ctx.get("to")):
            return False
        ctx["final"] = ("cms", int(params.get("code", CMS_UNKNOWN)))
        ctx["lines"] = []
        return True

    def _fault_silent(self, stage, ctx, params):
        """The module stops answering: input swallowed, nothing written (no echo, no URC). times=N
        swallows N command lines then recovers; default: until clear_fault('silent') or a power cycle."""
        if stage == "rx" and ctx["byte"] == _CR:
            self._hit(ctx["fault"])
            if params.get("times") is not None:
                self._spend(ctx["fault"], params)
        return True

    def _arm_hang(self, name, params):
        if params.get("now"):
            params["_on"] = True
            self._hit(name)
            self._log("hung (silent until a power cycle)")

    def _fault_hang(self, stage, ctx, params):
        if stage == "cmgs_cmd" and not params.get("_on"):
            if params["skip"] > 0:
                params["skip"] -= 1
                return False
            params["_on"] = True
            self._hit(ctx["fault"])
            self._log("hung on AT+CMGS (silent until a power cycle)")
        return bool(params.get("_on"))

    def _arm_no_sim(self, name, params):
        if self.booted and self.sim_state != "absent":
            self._hit(name)
            self.sim_state = "absent"
            self.sms_ready = False
            self._emit_urc(self.no_sim_banner)
            self._emit_reg_urcs()

    def _fault_no_gnss(self, stage, ctx, params):
        if ctx["cmd"] not in _GNSS_CMDS:
            return False
        self._hit(ctx["fault"])
        self.gnss_on_at = None  # the handler may have switched it on: nothing runs, no READY! URC
        ctx["lines"] = []
        ctx["final"] = "ERROR"
        return True

    def _arm_unregistered(self, name, params):
        self._hit(name)
        self._unreg_until = self.clock() + float(params["duration_s"])
        self._log("network lost for %.1f s" % float(params["duration_s"]))
        if self.booted:
            self._emit_reg_urcs()
        self._schedule(self._unreg_until, self._emit_reg_urcs, net=True)

    def _fault_no_prompt(self, stage, ctx, params):
        if not self._take(ctx["fault"], params):
            return False
        ctx["mode"] = params["mode"]
        return True

    def _fault_no_cmgs(self, stage, ctx, params):
        if not self._take(ctx["fault"], params, ctx.get("to")):
            return False
        ctx["swallow"] = True
        ctx["sent"] = bool(params["sent"])
        return True

    def _arm_noise(self, name, params):
        hz = float(params.get("idle_hz", 0))
        if hz > 0:
            self._schedule(self.clock() + self._frand(name).expovariate(hz), lambda: self._noise_tick(name),
                           net=True)

    _arm_garbage = _arm_noise
    _arm_baud_noise = _arm_noise

    def _noise_tick(self, name):
        params = self.faults.get(name)
        if params is None:
            return
        r = self._frand(name)
        if self.booted:
            self._hit(name)
            self._write(self._junk(r, high=name == "baud_noise"), noise=True)
        self._schedule(self.clock() + r.expovariate(float(params["idle_hz"])), lambda: self._noise_tick(name),
                       net=True)

    @staticmethod
    def _junk(r, high=False):
        n = r.randint(1, 12)
        if high:  # wrong-baud or line noise: high-bit bytes, never a line end
            return bytes(r.randrange(0x80, 0x100) for _ in range(n))
        body = bytes(r.choice(_JUNK) for _ in range(n))
        kind = r.random()
        if kind < 0.4:
            return b"\r\n" + body + b"\r\n"         # a whole junk line
        if kind < 0.8:
            return body                              # a partial line, ended by the next frame's CRLF
        return r.choice((b"\r", b"\n", b"\r\r\n", b"\n\n"))  # stray line ends

    def _fault_garbage(self, stage, ctx, params):
        """Junk before frames (whole lines, partial lines, stray CR/LF) and whole junk lines between
        the lines of a multi-line response; never inside a line, never inside a +CDS."""
        data = ctx["data"]
        if ctx.get("noise") or not data.startswith(b"\r\n"):
            return False
        r = self._frand(ctx["fault"])
        rate = float(params["rate"])
        if r.random() < rate / 2 and b"+CDS:" not in data:
            starts = [i + 2 for i in range(2, len(data) - 2) if data[i:i + 2] == b"\r\n"
                      and data[i + 2:i + 4] != b"\r\n"]
            if starts:
                k = r.choice(starts)
                junk = bytes(r.choice(_JUNK) for _ in range(r.randint(1, 8)))
                data = data[:k] + junk + b"\r\n" + data[k:]
        if r.random() < rate:
            data = self._junk(r) + data
        if data is not ctx["data"]:
            self._hit(ctx["fault"])
        ctx["data"] = data
        return False

    def _fault_baud_noise(self, stage, ctx, params):
        data = ctx["data"]
        if ctx.get("noise") or not data.startswith(b"\r\n"):
            return False
        r = self._frand(ctx["fault"])
        if r.random() < float(params["rate"]):
            self._hit(ctx["fault"])
            ctx["data"] = self._junk(r, high=True) + data
        return False

    def _drip_gap(self):
        p = self.faults.get("partial_lines")
        if p is None:
            return None
        return self._frand("partial_lines").uniform(float(p["min_gap_ms"]), float(p["max_gap_ms"])) / 1000.0

    def _fault_urc_storm(self, stage, ctx, params):
        if self._take(ctx["fault"], params):
            self._storm_rate = float(params["rate_hz"])
            pool = self._urc_pool()
            r = self._frand(ctx["fault"])
            self._inject_at["after_prompt"].append(r.choice(pool))
            self._inject_at["before_final"].append(r.choice(pool))
            self._later(0, lambda: self._storm_tick(ctx["fault"]))
        return False

    def _storm_tick(self, name):
        if not self._cmgs_active or self._storm_rate <= 0:
            return
        self._random_urc(self._frand(name))
        self._later(self._frand(name).expovariate(self._storm_rate), lambda: self._storm_tick(name))

    def _fault_reboot_mid_sms(self, stage, ctx, params):
        if not self._take(ctx["fault"], params):
            return False
        rec, half = ctx["rec"], ctx["latency"] / 2

        def crash():
            if params["sent"]:
                self._accept(rec)  # the SC got it just before the module died
            self._reboot("crash with an SMS in flight")
        self._later(half, crash)
        return True

    def _arm_spontaneous_reboot(self, name, params):
        with self._lock:
            self.faults.pop(name, None)
        if self._power == "on":
            self._hit(name)
            self._reboot("spontaneous reset")

    def _fault_echo_reenabled(self, stage, ctx, params):
        if self._take(ctx["fault"], params):
            self.echo = True
            self._log("echo re-enabled by the module")
        return False

    def _fault_slow_cmgs(self, stage, ctx, params):
        if self._take(ctx["fault"], params, ctx["rec"]["to"]):
            ctx["latency"] = float(params["latency_s"])
        return False

    def _fault_cds(self, stage, ctx, params):
        name = ctx["fault"]
        if not self._take(name, params, ctx["to"]):
            return False
        delay = ctx["reports"][0][0]
        if params["status"] is None:
            ctx["reports"] = []
        elif "then_s" in params:
            ctx["reports"] = [(delay, int(params["status"])),
                              (delay + float(params["then_s"]), int(params["final"]))]
        else:
            ctx["reports"] = [(delay, int(params["status"]))]
        return True

    def _fault_ring(self, stage, ctx, params):
        if self._take(ctx["fault"], params):
            for k in range(int(params["count"])):
                self._later(k * float(params["gap_s"]), lambda: (self._emit_urc("RING"),
                                                                 self._emit_urc('+CLIP: "+33144556677",145,,,,0')))
        return False

    def _fault_cmti_flood(self, stage, ctx, params):
        if self._take(ctx["fault"], params):
            gap = 1.0 / float(params["rate_hz"])
            for k in range(int(params["count"])):
                self._schedule(self.clock() + k * gap,
                               lambda k=k: self._incoming("+33700000%03d" % k, "Message %d" % (k + 1)), net=True)
        return False

    def _incoming(self, sender, text):
        """Store a received SMS at the lowest free index and announce it; while the module is off or
        the SIM store is full the network keeps it and tries again (every second)."""
        free = [i for i in range(1, self.store_size + 1) if i not in self.store]
        if not self.booted or not self.registered() or not free:
            self._schedule(self.clock() + 1.0, lambda: self._incoming(sender, text), net=True)
            return
        pdu, n = deliver_pdu(sender, text, self._utc_now(), self._tzq, self.smsc)
        self.store[free[0]] = [0, pdu, n]  # 0 = REC UNREAD
        self.cmti_index = free[0]
        if self.cnmi[1] in (1, 3):
            self._emit_urc('+CMTI: "SM",%d' % free[0])

    # ---------------------------------------------------------------- sim thread
    def _post(self, fn):
        with self._lock:
            self._posted.append(fn)
        self._wake()

    def _wake(self):
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _schedule(self, at, fn, net=False):
        """Run fn at clock time `at`. Module events (net=False) die with a reboot or power-off;
        network events (status reports, fault timers) survive them."""
        self._seq += 1
        heapq.heappush(self._events, (at, self._seq, fn, None if net else self._epoch))

    def _later(self, delay, fn):
        self._schedule(self.clock() + max(0.0, delay), fn)

    def _run(self):
        while not self._stop:
            try:
                self._step()
            except Exception as e:  # keep the modem alive; tests see self.error and the log
                self.error = e
                import traceback
                self._log("sim error: " + traceback.format_exc())
                time.sleep(0.01)

    def _run_posted(self):
        with self._lock:
            posted, self._posted = self._posted, []
        for fn in posted:
            fn()

    def _step(self):
        self._run_posted()
        now = self.clock()
        while self._events and self._events[0][0] <= now:
            _, _, fn, epoch = heapq.heappop(self._events)
            if epoch is None or epoch == self._epoch:
                fn()
        if self._next_urc is not None and now >= self._next_urc:
            self._random_urc()
            self._next_urc = now + self.rng.expovariate(self.urc_rate_hz)
        self._process_rx()
        deadline = [e[0] for e in self._events[:1]]
        if self._next_urc is not None:
            deadline.append(self._next_urc)
        drip = self._out and "partial_lines" in self.faults
        if drip:
            deadline.append(self._next_drip)
        timeout = min([0.05] + [max(0.0, d - self.clock()) for d in deadline])
        wl = [self._master] if self._out and (not drip or self.clock() >= self._next_drip) else []
        r, w, _ = select.select([self._master, self._wake_r], wl, [], timeout)
        if self._wake_r in r:
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
        if self._master in r:
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, InterruptedError):
                data = b""
            except OSError as e:  # EIO: nobody holds the slave (we keep ours open, so rare)
                if e.errno != errno.EIO:
                    raise
                data = b""
                time.sleep(0.01)
            if data:
                self._run_posted()  # work posted before these bytes were sent comes first
                self._on_rx(data)
        if w:
            self._flush()

    def _flush(self):
        if not self._out:
            return
        gap = self._drip_gap()
        if gap is None:
            chunk = bytes(self._out)
        else:  # partial_lines: one byte at a time, a few ms apart
            now = self.clock()
            if now < self._next_drip:
                return
            chunk = bytes(self._out[:1])
            self._next_drip = now + gap
            self._hit("partial_lines")
        try:
            n = os.write(self._master, chunk)
        except (BlockingIOError, InterruptedError):
            return
        del self._out[:n]

    def _write(self, data, noise=False):
        if not self.booted:
            return  # off, or not yet talking
        ctx = {"data": data, "noise": noise}
        if self._fault("tx", ctx):
            return
        self._out += ctx["data"]
        self._flush()

    def _log(self, msg):
        if self.on_log is not None:
            t = (self.clock() - self.t0) if self.t0 is not None else 0.0
            try:
                self.on_log("%8.3f %s" % (t, msg))
            except Exception:
                pass

    # ---------------------------------------------------------------- output helpers
    def _emit_line(self, line):
        self._log("< " + line)
        self._write(b"\r\n" + line.encode("latin-1") + b"\r\n")

    def _emit_urc(self, line):
        self._log("< [urc] " + line)
        self._write(b"\r\n" + line.encode("latin-1") + b"\r\n")

    def _final_text(self, final):
        if final in ("OK", "ERROR", "NO CARRIER"):
            return final
        kind, code = final
        if kind == "cms":
            return "+CMS ERROR: %d" % code
        if self.cmee == 0:
            return "ERROR"
        if self.cmee == 1:
            return "+CME ERROR: %d" % code
        return "+CME ERROR: %s" % CME_TEXT.get(code, CME_TEXT[100])

    def _flush_injections(self, point):
        lines, self._inject_at[point] = self._inject_at[point], []
        for line in lines:
            self._emit_urc(line)

    def _emit_final(self, final):
        self._flush_injections("before_final")
        self._emit_line(self._final_text(final))
        self._done()

    def _done(self):
        self._busy = False
        if self._cmgs_active:
            self._cmgs_active = False
            self._storm_rate = 0.0
        self._process_rx()

    def _respond(self, lines, final, delay=None):
        """Info lines after half the latency, the final result code after all of it (URCs fit between)."""
        delay = self.cmd_latency_s if delay is None else delay
        if lines:
            self._later(delay / 2, lambda: [self._emit_line(x) for x in lines])
        self._later(delay, lambda: self._emit_final(final))

    # ---------------------------------------------------------------- power, boot, network, GNSS, URCs
    def _on_pwrkey(self, level, t):
        if level == 0:
            if self._pk_down is None:
                self._pk_down = t
            return
        if self._pk_down is None:
            return  # released without a press (the pin's initial level)
        held, self._pk_down = t - self._pk_down, None
        if self._power == "stopping" and t >= self._off_at:
            self._power_off()
        if self._power == "off" and held >= self.pwrkey_on_s:
            self._log("PWRKEY %.3f s: power on" % held)
            self._power = "on"
            self.power_log.append({"t": round(t - self.t0, 3), "event": "on", "why": "PWRKEY"})
            self._later(self.boot_s, self._boot)
        elif self._power == "on" and held >= self.pwrkey_off_s:
            self._log("PWRKEY %.3f s: power down" % held)
            self._halt("PWRKEY")
            self._power = "stopping"
            self._off_at = t + self.power_down_s
            self._later(self.power_down_s, self._power_off)
        else:
            self._log("PWRKEY %.3f s ignored (module %s)" % (held, self._power))

    def _power_off(self):
        if self._power == "stopping":
            self._power = "off"
            self._log("powered off")

    def _halt(self, why):
        """The module stops: every setting and everything in flight is lost."""
        self._epoch += 1
        self.booted = False
        self.sms_ready = False
        self._reset_state()
        self._rx.clear()
        self._out.clear()
        self._line = bytearray()
        self._body = bytearray()
        with self._lock:
            for n in [n for n in self.faults if self.FAULTS[n][0] in _CLEARED_BY_POWER]:
                del self.faults[n]
        self.power_log.append({"t": round(self.now(), 3), "event": "off", "why": why})
        self._log("module off (%s)" % why)

    def _reboot(self, why):
        self._halt(why)
        self._power = "on"
        self.power_log.append({"t": round(self.now(), 3), "event": "on", "why": why})
        self._later(self.boot_s, self._boot)

    def _boot(self):
        self.booted = True
        self.boots += 1
        self._rx.clear()  # whatever arrived before is lost
        self.power_log.append({"t": round(self.now(), 3), "event": "boot", "why": ""})
        if "no_sim" in self.faults:
            self._hit("no_sim")
            self.sim_state = "absent"
            banners = [self.boot_banners[0], self.no_sim_banner]
        elif "sim_pin" in self.faults:
            self._hit("sim_pin")
            self.sim_state = "pin"
            self._pin_tries = 3
            banners = [self.boot_banners[0], "+CPIN: SIM PIN"]
        else:
            self.sim_state = "ready"
            banners = list(self.boot_banners)
        late = 0.0
        p = self.faults.get("sms_done_late")
        if p is not None:
            late = float(p["delay_s"])
            self._hit("sms_done_late")
            with self._lock:
                self.faults.pop("sms_done_late", None)  # one boot
        for i, banner in enumerate(banners):
            self._later(i * self.banner_gap_s + (late if i >= 2 else 0.0), lambda b=banner: self._banner(b))
        if self.boots > 1:
            self._reg_at = self.clock() + self.reregister_s
        if self.registered_after_s is not None:
            self._schedule(max(self._reg_at, self.clock()), self._emit_reg_urcs)
        if self.urc_rate_hz > 0:
            self._next_urc = self.clock() + self.rng.expovariate(self.urc_rate_hz)

    def _banner(self, line):
        self._emit_urc(line)
        if line == self.sms_ready_banner:
            self.sms_ready = True

    def _emit_reg_urcs(self):
        """+CREG/+CGREG/+CEREG URCs with the current state, for those the TE enabled."""
        if self.booted and self.cfun == 1:
            for name, n in (("CREG", self.creg_n), ("CGREG", self.cgreg_n), ("CEREG", self.cereg_n)):
                if n:
                    self._emit_urc(self._reg_urc(name, n))

    _on_registered = _emit_reg_urcs

    def _reg_stat(self):
        if self.registered():
            return 1
        return 2 if self.sim_state == "ready" else 0  # searching; not searching without a usable SIM

    def _reg_tail(self):
        """Location fields for n=2 (TAC, cell id, AcT 7 = E-UTRAN); absent while not registered."""
        return ',"1A2B","01A2B3C4",7' if self.registered() else ""

    def _reg_urc(self, name, n):
        return "+%s: %d%s" % (name, self._reg_stat(), self._reg_tail() if n >= 2 else "")

    def _urc_pool(self):
        """Realistic unsolicited lines for the current state (the A7670 emits all of these)."""
        pool = [
            "+CGEV: ME PDN ACT 1",
            "+CPIN: READY",
            '+CMTI: "SM",%d' % (self.cmti_index + 1),
            "+CTZV: %+03d,0" % self._tzq,
            '*ISIMAID: "%s"' % self.isim_aid,
        ]
        for name, n in (("CREG", self.creg_n), ("CEREG", self.cereg_n)):
            if n:
                pool.append(self._reg_urc(name, n))
        return pool

    def _random_urc(self, rng=None):
        line = (rng or self.rng).choice(self._urc_pool())
        if line.startswith("+CMTI:"):  # a real message, so that reading it works
            self._incoming("+33611223344", "Bonjour %d" % (self.cmti_index + 1))
        else:
            self._emit_urc(line)

    def _gnss_fix(self):
        """The fix dict, or None while GNSS is off or before gnss.after_s since power-on."""
        g = self.gnss
        if not g or self.gnss_on_at is None:
            return None
        if self.clock() - self.gnss_on_at < float(g.get("after_s", 0.0)):
            return None
        return g

    def _gnss_ready(self):
        if self.gnss_on_at is not None:
            self._emit_urc("+CGNSSPWR: READY!")

    def _utc_now(self):
        return self._utc0 + datetime.timedelta(seconds=self.now())

    # ---------------------------------------------------------------- input
    def _on_rx(self, data):
        if not self.booted:
            self._log("> (lost: module %s) %r" % ("booting" if self._power == "on" else self._power, data))
            return
        for b in data:
            if self._fault("rx", {"byte": b}):
                continue
            if self._dialing is not None and self._dial_rx():
                continue
            self._rx.append(b)
        self._process_rx()

    def _process_rx(self):
        while self._rx and not self._busy and self.booted:
            b = self._rx.pop(0)
            if self._mode == "cmd":
                self._feed_cmd(b)
            elif self._mode == "data":
                self._feed_data(b)
            else:
                self._feed_body(b)

    def _echo(self, data):
        if self.echo:
            self._write(data)

    def _feed_cmd(self, b):
        if b == _CR:
            self._echo(b"\r")
            line, self._line = bytes(self._line), bytearray()
            self._on_line(line)
        elif b == _LF:
            self._echo(b"\n")
        elif b == _BS:
            self._echo(b"\x08")
            if self._line:
                self._line.pop()
        else:
            self._echo(bytes((b,)))
            self._line.append(b)
            if len(self._line) > _MAX_LINE:
                self._log("> line too long, dropped")
                self._line = bytearray()

    def _on_line(self, raw):
        text = raw.decode("latin-1").strip()
        if not text:
            return
        self._log("> " + text)
        if text[:2].upper() != "AT":
            self._log("  (not a command, ignored)")
            return
        self._busy = True
        self._flush_injections("after_echo")
        body = text[2:]
        name, form, args = self._split(body)
        ctx = {"cmd": name, "form": form, "args": args, "lines": [], "final": "OK"}
        try:
            if form == "bad":
                raise CmdError("ERROR")
            handler = self._handler(body, name)
            res = handler(form, args)
            if res is _ASYNC:
                return
            ctx["lines"] = list(res or ())
        except CmdError as e:
            ctx["final"] = e.final
        self._fault("result", ctx)
        self._respond(ctx["lines"], ctx["final"])

    @staticmethod
    def _split(body):
        """'+CMGS=23' -> ('CMGS', 'set', ['23']); 'E0' -> ('E', 'set', ['0']); '' -> ('', 'exec', [])."""
        if not body:
            return "", "exec", []
        if body[0] in "+*$^":
            i = 1
            while i < len(body) and body[i] not in "=?":
                i += 1
            name, rest = body[1:i].upper(), body[i:]
            if rest == "":
                return name, "exec", []
            if rest == "?":
                return name, "read", []
            if rest == "=?":
                return name, "test", []
            if rest.startswith("="):
                return name, "set", parse_args(rest[1:])
            return name, "bad", []
        if body[0] == "&":
            return body[:2].upper(), "set", [body[2:]]
        return body[0].upper(), "set", [body[1:]]

    def _handler(self, body, name):
        if not body:
            return lambda form, args: []
        prefix = "x_" if body[0] in "+*$^" else "b_"
        fn = getattr(self, prefix + name.replace("&", "AMP_"), None)
        if fn is None:
            raise CmdError("ERROR")
        return fn

    # ---------------------------------------------------------------- basic commands
    def b_E(self, form, args):
        v = args[0] or "0"
        if v not in ("0", "1"):
            raise CmdError("ERROR")
        self.echo = v == "1"
        return []

    def b_I(self, form, args):
        if args[0] not in ("", "0"):
            raise CmdError("ERROR")
        # one information block: its lines are separated by a single CRLF, as the module prints it
        return ["\r\n".join(x.format(imei=self.imei) for x in self.ati_lines)]

    def b_Z(self, form, args):
        self.echo = True
        return []

    def b_AMP_F(self, form, args):
        return self.b_Z(form, args)

    def b_AMP_W(self, form, args):
        return []

    def b_D(self, form, args):
        """ATD*99# / ATD*99***<cid># (27.007 10.2.1.1): packet data on a PDP context. Voice: ERROR."""
        dial = args[0].strip()
        if dial == "*99#":
            cid = 1
        elif dial.startswith("*99***") and dial.endswith("#") and dial[6:-1].isdigit():
            cid = int(dial[6:-1])
        else:
            raise CmdError("ERROR")
        return self._data_call(cid)

    def b_H(self, form, args):
        """ATH: end the data call held after "+++" (V.250: OK with or without a call)."""
        if self._call:
            self._call = False
            self.data_log.append({"t": round(self.now(), 3), "event": "ath"})
        return []

    def x_CGDATA(self, form, args):
        if form == "test":
            return ['+CGDATA: ("PPP")']
        if form != "set" or not args or args[0].upper() != "PPP":
            raise CmdError(("cme", 4))
        return self._data_call(_int_arg(args, 1, 1, 15, default=1))

    def x_CGDCONT(self, form, args):
        if form == "read":
            return ['+CGDCONT: %d,"%s","%s"' % (c, t, a) for c, (t, a) in sorted(self.pdp.items())]
        if form == "test":
            return ['+CGDCONT: (1-15),"IP",,,(0-2),(0-4)']
        cid = _int_arg(args, 0, 1, 15)
        if len(args) == 1:
            self.pdp.pop(cid, None)
            return []
        ptype = args[1].upper()
        if ptype not in ("IP", "IPV6", "IPV4V6"):
            raise CmdError(("cme", 50))
        self.pdp[cid] = (ptype, args[2] if len(args) > 2 else "")
        return []

    def _data_call(self, cid):
        ctx = {"cid": cid}
        if cid not in self.pdp or not self.registered() or self._fault("dial", ctx):
            self.data_log.append({"t": round(self.now(), 3), "event": "refused", "cid": cid})
            self._later(self.cmd_latency_s, lambda: self._emit_final("NO CARRIER"))
            return _ASYNC
        token = object()
        self._dialing = (token, self.clock())
        self._later(self.dial_latency_s, lambda: self._dial_answered(token, cid))
        return _ASYNC

    def _dial_answered(self, token, cid):
        if self._dialing is None or self._dialing[0] is not token:
            return  # aborted by the TE meanwhile
        self._dialing = None
        self._connect(cid)

    # ITU-T V.250 5.6.1 "Aborting commands": any character from the DTE aborts an action command in
    # progress, except during the first 125 ms after the command line's termination character
    # (ignored, so that a DTE may follow CR with LF); for D the DCE then answers NO CARRIER and stays
    # in command mode. SIMCom's ATD entries (SIM900 AT manual V1.07 2.2.6) keep the rule: "can be
    # aborted generally when receiving a character during execution", though not "during some states
    # of connection establishment such as handshaking" (the A76xx manual found says nothing more).
    def _dial_rx(self):
        """A byte from the TE while a dial waits for the network: True when it was consumed."""
        if self.clock() - self._dialing[1] < 0.125:
            self._log("> (ignored: within 125 ms of the dial)")
            return True
        self._dialing = None
        self.data_log.append({"t": round(self.now(), 3), "event": "abort"})
        self._log("> (dial aborted by the TE)")
        self._emit_final("NO CARRIER")
        return True

    def _connect(self, cid):
        self._call = True
        self._mode = "data"
        self._plus = 0
        self._data_rx_t = self.clock()
        self.data_log.append({"t": round(self.now(), 3), "event": "connect", "apn": self.pdp[cid][1]})
        self._log("< CONNECT 115200 (data mode)")
        # the peer's first LCP frame follows CONNECT at once; it carries a CRLF OK CRLF inside, which
        # a TE still parsing lines would take for a result code
        self._write(b"\r\nCONNECT 115200\r\n" + PPP_FRAME)
        ctx = {}
        self._fault("connect", ctx)
        if "drop_s" in ctx:
            self._later(ctx["drop_s"], self._drop_call)
        self._done()

    def _drop_call(self):
        if self._mode == "data":
            self.data_log.append({"t": round(self.now(), 3), "event": "drop"})
            self._call = False
            self._mode = "cmd"
            self._write(b"\r\nNO CARRIER\r\n")

    def _feed_data(self, b):
        """Data mode: bytes go to the fake PPP peer, except a "+++" framed by guard times."""
        now = self.clock()
        quiet = now - self._data_rx_t >= self.guard_s
        self._data_rx_t = now
        self.data_rx.append(b)
        if b == 0x2B and (self._plus > 0 or quiet):
            self._plus += 1
            if self._plus == 3:
                self._plus = 0
                epoch = self._data_rx_t
                self._later(self.guard_s, lambda: self._escape(epoch))
            return
        self._plus = 0
        if self.data_echo:
            self._write(bytes((b,)))

    def _escape(self, last_rx):
        if self._mode != "data" or self._data_rx_t != last_rx:
            return  # not a silence after the "+++": it was data
        if self._fault("escape", {}):
            self._log("  (+++ ignored)")
            return
        self._mode = "cmd"
        self._line = bytearray()
        self.data_log.append({"t": round(self.now(), 3), "event": "escape"})
        self._emit_line("OK")

    def _fault_ignore_escape(self, stage, ctx, params):
        return self._take("ignore_escape", params)

    def _fault_dial_refused(self, stage, ctx, params):
        return self._take("dial_refused", params)

    def _fault_data_drop(self, stage, ctx, params):
        if self._take("data_drop", params):
            ctx["drop_s"] = float(params["after_s"])
        return False

    # ---------------------------------------------------------------- extended commands
    def x_CMEE(self, form, args):
        if form == "read":
            return ["+CMEE: %d" % self.cmee]
        if form == "test":
            return ["+CMEE: (0-2)"]
        self.cmee = _int_arg(args, 0, 0, 2, default=0)
        return []

    def x_CPIN(self, form, args):
        st = self.sim_state
        if form == "test":
            return []
        if st == "absent":
            raise CmdError(("cme", 10))
        if form == "read":
            return ["+CPIN: " + {"ready": "READY", "pin": "SIM PIN", "puk": "SIM PUK"}[st]]
        if st == "ready":
            raise CmdError(("cme", 3))  # no PIN to enter on this SIM
        if st == "puk":
            raise CmdError(("cme", 12))
        p = self.faults.get("sim_pin") or {}
        if args and args[0] == str(p.get("pin", "")):
            self.sim_state = "ready"
            self._reg_at = self.clock() + self.reregister_s
            self._schedule(self._reg_at, self._emit_reg_urcs)
            for i, banner in enumerate(self.boot_banners[1:]):  # after the OK
                self._later(self.cmd_latency_s + (i + 1) * self.banner_gap_s, lambda b=banner: self._banner(b))
            return []
        self._pin_tries -= 1
        if self._pin_tries <= 0:
            self.sim_state = "puk"
        raise CmdError(("cme", 16))

    def x_CGSN(self, form, args):
        if form == "test":
            return []
        return [self.imei]

    def x_SIMEI(self, form, args):
        if form == "read":
            return ["+SIMEI: " + self.imei]
        raise CmdError("ERROR")

    def x_CIMI(self, form, args):
        if form == "test":
            return []
        if self.sim_state != "ready":
            raise CmdError(("cme", {"absent": 10, "pin": 11, "puk": 12}[self.sim_state]))
        return [self.imsi]

    def x_CSQ(self, form, args):
        if form == "test":
            return ["+CSQ: (0-31,99),(0-7,99)"]
        return ["+CSQ: %d,99" % (self.csq if self.cfun == 1 else 99)]

    def x_CFUN(self, form, args):
        if form == "read":
            return ["+CFUN: %d" % self.cfun]
        if form == "test":
            return ["+CFUN: (0,1,4),(0-1)"]
        v = _int_arg(args, 0, 0, 4)
        if v not in (0, 1, 4):
            raise CmdError(("cme", 50))
        self.cfun = v
        return []

    def _xreg(self, name, form, args):
        attr = name.lower() + "_n"
        if form == "read":
            n = getattr(self, attr)
            return ["+%s: %d,%d%s" % (name, n, self._reg_stat(), self._reg_tail() if n >= 2 else "")]
        if form == "test":
            return ["+%s: (0-2)" % name]
        setattr(self, attr, _int_arg(args, 0, 0, 2, default=0))
        return []

    def x_CREG(self, form, args):
        return self._xreg("CREG", form, args)

    def x_CGREG(self, form, args):
        return self._xreg("CGREG", form, args)

    def x_CEREG(self, form, args):
        return self._xreg("CEREG", form, args)

    def x_COPS(self, form, args):
        if form == "read":
            if self.registered():
                return ['+COPS: 0,0,"%s",7' % self.operator[1]]
            return ["+COPS: 0"]
        if form == "test":
            return ['+COPS: (2,"%s","%s","%s",7),,(0-4),(0-2)' % (self.operator[1], self.operator[1][:6],
                                                                 self.operator[0])]
        _int_arg(args, 0, 0, 4)
        return []

    def x_CPSI(self, form, args):
        if form != "read":
            raise CmdError("ERROR")
        if not self.registered():
            return ["+CPSI: NO SERVICE,Online"]
        mcc, mnc = self.operator[0][:3], self.operator[0][3:]
        rsrp = -140 + 2 * self.csq  # a plausible value that follows csq
        return ["+CPSI: LTE,Online,%s-%s,0x1A2B,27447297,123,EUTRAN-BAND20,6300,5,5,-94,%d,-754,15"
                % (mcc, mnc, rsrp * 10)]

    def x_CCLK(self, form, args):
        if form == "read":
            if self.nitz and self.registered():
                local = self._utc_now() + datetime.timedelta(minutes=15 * self._tzq)
                return ['+CCLK: "%s%+03d"' % (local.strftime("%y/%m/%d,%H:%M:%S"), self._tzq)]
            # never synced: the module's RTC counts from 1970 like a real A7670 without NITZ
            t = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(self.now()))
            return ['+CCLK: "%s+00"' % t.strftime("%y/%m/%d,%H:%M:%S")]
        if form == "test":
            return []
        return []  # setting the clock is accepted and ignored

    def x_CBC(self, form, args):
        if form == "test":
            return []
        return ["+CBC: %.3fV" % self.vbat_v]

    def x_CTZU(self, form, args):
        return [] if form != "read" else ["+CTZU: 1"]

    def x_CTZR(self, form, args):
        return [] if form != "read" else ["+CTZR: 0"]

    def x_CSCLK(self, form, args):
        return [] if form != "read" else ["+CSCLK: 0"]

    # --- SMS (3GPP TS 27.005)
    def _sms_check(self):
        if not self.sms_ready:
            raise CmdError("ERROR")

    def x_CMGF(self, form, args):
        self._sms_check()
        if form == "read":
            return ["+CMGF: %d" % self.cmgf]
        if form == "test":
            return ["+CMGF: (0-1)"]
        self.cmgf = _int_arg(args, 0, 0, 1, default=0)
        return []

    def x_CSCS(self, form, args):
        if form == "read":
            return ['+CSCS: "%s"' % self.cscs]
        if form == "test":
            return ['+CSCS: ("IRA","GSM","UCS2")']
        if not args or args[0].upper() not in ("IRA", "GSM", "UCS2"):
            raise CmdError(("cme", 50))
        self.cscs = args[0].upper()
        return []

    def x_CNMI(self, form, args):
        """New message indications: <mode>,<mt>,<bm>,<ds>,<bfr>. ds=1 routes status reports to the TE
        as +CDS; ds=0 (power-on default) drops them; ds=2 (+CDSI, stored) is accepted, not simulated."""
        self._sms_check()
        if form == "read":
            return ["+CNMI: %d,%d,%d,%d,%d" % tuple(self.cnmi)]
        if form == "test":
            return ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0-1)"]
        his = (3, 3, 3, 2, 1)
        new = list(self.cnmi)
        for i in range(min(len(args), 5)):
            if args[i] != "":
                new[i] = _int_arg(args, i, 0, his[i])
        if len(args) > 5:
            raise CmdError(("cms", CMS_INVALID_TEXT))
        self.cnmi = new
        return []

    def x_CSMP(self, form, args):
        """Text-mode parameters <fo>,<vp>,<pid>,<dcs>; <fo> bit 5 (0x20) requests a status report."""
        self._sms_check()
        if form == "read":
            return ["+CSMP: %d,%d,%d,%d" % tuple(self.csmp)]
        if form == "test":
            return []
        for i in range(min(len(args), 4)):
            if args[i] != "":
                self.csmp[i] = _int_arg(args, i, 0, 255)
        return []

    def x_CSMS(self, form, args):
        """Message service: 0 (phase 2, no acknowledgement) or 1 (phase 2+, +CDS must be +CNMA'd)."""
        if form == "read":
            return ["+CSMS: %d,1,1,1" % self.csms]
        if form == "test":
            return ["+CSMS: (0,1)"]
        self.csms = _int_arg(args, 0, 0, 1)
        return ["+CSMS: 1,1,1"]

    def x_CNMA(self, form, args):
        """Acknowledge a +CDS/+CMT: only expected with AT+CSMS=1 (27.005 3.4.4), else +CMS ERROR 340.
        A missing acknowledgement is not simulated (the report is not repeated)."""
        if form == "test":
            return []
        if self.csms == 1 and self._cds_ack:
            self._cds_ack = False
            return []
        raise CmdError(("cms", CMS_NO_CNMA))

    def x_CSCA(self, form, args):
        if form == "read":
            return ['+CSCA: "%s",%d' % (self.smsc, 145 if self.smsc.startswith("+") else 129)]
        if form == "test":
            return []
        if not args or not args[0]:
            raise CmdError(("cms", CMS_INVALID_TEXT))
        self.smsc = args[0]
        return []

    def x_CPMS(self, form, args):
        self._sms_check()
        if form == "read":
            return ['+CPMS: "SM",{0},{1},"SM",{0},{1},"SM",{0},{1}'.format(len(self.store), self.store_size)]
        if form == "test":
            return ['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")']
        for a in args:
            if a.upper() not in ("SM", "ME", "MT"):
                raise CmdError(("cms", CMS_INVALID_TEXT))
        return ["+CPMS: {0},{1},{0},{1},{0},{1}".format(len(self.store), self.store_size)]

    def x_CMGR(self, form, args):
        """Read one stored message (PDU mode): '+CMGR: <stat>,,<length>' then the PDU on its own line;
        an empty index is +CMS ERROR 321 (invalid memory index)."""
        self._sms_check()
        if form == "test":
            return []
        i = _int_arg(args, 0, 0, 255)
        if i not in self.store or self.cmgf != 0:
            raise CmdError(("cms", 321 if self.cmgf == 0 else CMS_INVALID_TEXT))
        rec = self.store[i]
        out = ["+CMGR: %d,,%d\r\n%s" % (rec[0], rec[2], rec[1])]
        rec[0] = 1  # REC READ
        return out

    def x_CMGL(self, form, args):
        """List stored messages with <stat> (4 = all) in PDU mode, one header + PDU pair each."""
        self._sms_check()
        if form == "test":
            return ["+CMGL: (0-4)"]
        want = _int_arg(args, 0, 0, 4, default=0)
        out = []
        for i in sorted(self.store):
            rec = self.store[i]
            if want == 4 or rec[0] == want:
                out.append("+CMGL: %d,%d,,%d\r\n%s" % (i, rec[0], rec[2], rec[1]))
                if rec[0] == 0:
                    rec[0] = 1
        return ["\r\n".join(out)] if out else []

    def x_CMGD(self, form, args):
        """Delete <index>; <delflag> 1-4 deletes read / read+sent / read+sent+unsent / all messages."""
        self._sms_check()
        if form == "test":
            return ["+CMGD: (%s),(0-4)" % ",".join(str(i) for i in sorted(self.store))]
        i = _int_arg(args, 0, 0, 255)
        flag = _int_arg(args, 1, 0, 4, default=0)
        if flag == 0:
            self.store.pop(i, None)
        else:
            for k in [k for k, r in self.store.items() if flag == 4 or r[0] == 1]:
                del self.store[k]
        return []

    def x_CMGS(self, form, args):
        self._sms_check()
        if form == "test":
            return []
        if form != "set" or not args:
            raise CmdError("ERROR")
        if self.cmgf == 0:
            try:
                n = int(args[0])
            except ValueError:
                raise CmdError(("cms", CMS_INVALID_PDU)) from None
            if not 7 <= n <= 164:
                raise CmdError(("cms", CMS_INVALID_PDU))
            self._cmgs_len, self._cmgs_da = n, None
        else:
            if not args[0]:
                raise CmdError(("cms", CMS_INVALID_TEXT))
            self._cmgs_len, self._cmgs_da = 0, args[0]
        if self._fault("cmgs_cmd", {"cmd": "CMGS"}):
            return _ASYNC  # swallowed: the module hangs
        self._cmgs_active = True
        self._later(self.cmd_latency_s, self._prompt)
        return _ASYNC

    def _prompt(self):
        ctx = {}
        lost = self._fault("prompt", ctx)
        if lost and ctx.get("mode") == "ignored":
            self._log('  ("> " never comes: command dropped)')
            self._done()
            return
        self._mode = "pdu" if self._cmgs_da is None else "text"
        self._body = bytearray()
        if lost:
            self._log('  ("> " lost on the way: waiting for the PDU anyway)')
        else:
            self._log('< "> "')
            self._write(b"\r\n> ")
            self._flush_injections("after_prompt")
        self._busy = False
        self._process_rx()

    def _feed_body(self, b):
        if b == _CTRL_Z:
            self._busy = True
            body, self._body, mode = bytes(self._body), bytearray(), self._mode
            self._mode = "cmd"
            self._log("> %s <ctrl-Z>" % body.decode("latin-1"))
            self._submit(body.decode("latin-1"), mode)
        elif b == _ESC:
            self._busy = True
            self._body, self._mode = bytearray(), "cmd"
            self._log("> <ESC> (send cancelled)")
            if self.esc_reply_ok:
                self._later(self.cmd_latency_s, lambda: self._emit_final("OK"))
            else:
                self._later(self.cmd_latency_s, self._done)
        else:
            self._echo(bytes((b,)))
            if self._mode == "text" and b == _CR:
                # text mode: a new prompt after each CR (27.005 3.5.1)
                self._write(b"\n> " if self.echo else b"\r\n> ")
                self._body.append(_LF)
            elif len(self._body) < 2048:
                self._body.append(b)

    def _submit(self, body, mode):
        if mode == "pdu":
            code, decoded = check_submit_pdu(body, self._cmgs_len)
            if code is not None:
                self._later(self.cmd_latency_s, lambda: self._emit_final(("cms", code)))
                return
            raw = bytes.fromhex(body)
            rec = {"to": decoded["number"], "pdu": body.upper(), "text": decoded.get("text", ""),
                   "srr": bool(raw[1 + raw[0]] & 0x20)}  # TP-SRR: status report requested
            concat = [ie for ie in decoded.get("udh", ()) if hasattr(ie, "parts")]
            if concat:
                rec["concat"] = (concat[0].reference, concat[0].parts, concat[0].number)
        else:
            rec = {"to": self._cmgs_da, "pdu": None, "text": body, "srr": bool(self.csmp[0] & 0x20)}
        self.submits.append({"t": round(self.now(), 3), "to": rec["to"]})
        if not self.registered():
            self._later(self.cmd_latency_s, lambda: self._emit_final(("cms", CMS_NO_SERVICE)))
            return
        ctx = {"rec": rec, "latency": self.cmgs_latency_s}
        if self._fault("cmgs_pdu", ctx):
            return  # the fault owns what happens next
        self._later(ctx["latency"], lambda: self._cmgs_done(rec))

    def _cmgs_done(self, rec):
        ctx = {"cmd": "CMGS", "final": None, "to": rec["to"]}
        if self._fault("cmgs_submit", ctx):
            if ctx.get("swallow"):  # no answer at all; the module is free again
                if ctx.get("sent"):
                    self._accept(rec)
                self._log("  (+CMGS never comes)")
                self._done()
            else:
                self._emit_final(ctx["final"])
            return
        if not self.registered():  # lost the network while sending
            self._emit_final(("cms", CMS_NO_SERVICE))
            return
        rec = self._accept(rec)
        self._fault("cmgs_accepted", {"rec": rec})
        self._emit_line("+CMGS: %d" % rec["mr"])
        self._later(self.cmd_latency_s / 2, lambda: self._emit_final("OK"))

    def _accept(self, rec):
        """The network took the SMS: a message reference, the record, its status report(s)."""
        mr, self.mr = self.mr, (self.mr + 1) & 0xFF
        rec = dict(rec, t=round(self.now(), 3), mr=mr)
        with self._sms_cv:
            self.sms.append(rec)
            self._sms_cv.notify_all()
        self._log("SMS accepted: %r" % rec)
        if self.on_sms is not None:
            try:
                self.on_sms(rec)
            except Exception as e:
                self.error = e
                self._log("on_sms raised %r" % e)
        if rec.get("srr"):
            ctx = {"to": rec["to"], "mr": mr, "reports": [(self.delivery_s, ST_DELIVERED)]}
            self._fault("report", ctx)
            scts = self._utc_now()
            for delay, st in ctx["reports"]:
                self._reports_pending += 1
                self._schedule(self.clock() + delay, lambda st=st: self._deliver_report(rec, st, scts), net=True)
        return rec

    def _deliver_report(self, rec, status, scts):
        """The SC's SMS-STATUS-REPORT reaches the module; routed to the TE as +CDS when CNMI ds=1."""
        if not self.booted or not self.registered():
            # the network keeps it and tries again once the module is back
            self._schedule(self.clock() + 1.0, lambda: self._deliver_report(rec, status, scts), net=True)
            return
        self._reports_pending -= 1
        routed = self.cnmi[3] == 1
        self.reports.append({"t": round(self.now(), 3), "to": rec["to"], "mr": rec["mr"], "status": status,
                             "routed": routed})
        if not routed:
            self._log("status report mr=%d st=0x%02X dropped (CNMI ds=%d)" % (rec["mr"], status, self.cnmi[3]))
            return
        dt = self._utc_now()
        if self.cmgf == 0:
            pdu, n = status_report_pdu(rec["mr"], rec["to"], scts, dt, status, self._tzq, self.smsc)
            head = "+CDS: %d" % n
            self._log("< [urc] %s / %s" % (head, pdu))
            self._write(b"\r\n" + head.encode() + b"\r\n" + pdu.encode() + b"\r\n")
        else:
            ra = rec["to"]
            line = '+CDS: 6,%d,"%s",%d,"%s","%s",%d' % (rec["mr"], ra, 145 if ra.startswith("+") else 129,
                                                        text_timestamp(scts, self._tzq),
                                                        text_timestamp(dt, self._tzq), status)
            self._emit_urc(line)
        self._cds_ack = self.csms == 1

    # --- GNSS (A76XX AT Command Manual, GNSS chapter: AT+CGNSSPWR, AT+CGNSSINFO)
    def x_CGNSSPWR(self, form, args):
        if form == "read":
            return ["+CGNSSPWR: %d" % (self.gnss_on_at is not None)]
        if form == "test":
            return ["+CGNSSPWR: (0,1)"]
        on = _int_arg(args, 0, 0, 1)
        if on and self.gnss_on_at is None:
            self.gnss_on_at = self.clock()  # every power-on is a cold start for after_s
            self._later(self.cmd_latency_s + self.gnss_ready_s, self._gnss_ready)
        elif not on:
            self.gnss_on_at = None
        return []

    def x_CGNSSINFO(self, form, args):
        if form == "test":
            return []
        if form != "exec":
            raise CmdError("ERROR")  # periodic reporting (AT+CGNSSINFO=<n>) not simulated
        return [self.cgnssinfo_line(self._gnss_fix())]

    def cgnssinfo_line(self, fix):
        """A76xx layout, per the SIMCom A76XX Series AT Command Manual (V1.09, GNSS chapter),
        16 fields, decimal degrees (the SIM7600 prints ddmm.mmmmmm instead):
          +CGNSSINFO: <mode>,<GPS-SVs>,<GLONASS-SVs>,<BEIDOU-SVs>,<lat>,<N/S>,<log>,<E/W>,
                      <date ddmmyy>,<UTC-time hhmmss.s>,<alt m>,<speed knots>,<course deg>,
                      <PDOP>,<HDOP>,<VDOP>
        and 16 empty fields without a fix. (Some A7670 firmwares add a GALILEO-SVs field after
        BEIDOU-SVs; a later dialect variant can override this method.)"""
        if fix is None:
            return "+CGNSSINFO: " + "," * 15
        lat, lon = float(fix["lat"]), float(fix["lon"])
        hdop = float(fix.get("acc_m", 5.0)) / UERE_M
        vdop = hdop * 1.5
        pdop = (hdop * hdop + vdop * vdop) ** 0.5
        utc = self._utc_now()
        return "+CGNSSINFO: %s,%s,%s,%s,%s,%s,%s.%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f" % (
            self.cgnss_head, self.cgnss_coord(lat, 2), "N" if lat >= 0 else "S", self.cgnss_coord(lon, 3),
            "E" if lon >= 0 else "W", utc.strftime("%d%m%y"), utc.strftime("%H%M%S"),
            utc.microsecond // 100000, float(fix.get("alt_m", 35.0)), float(fix.get("speed_kn", 0.0)), 0.0,
            pdop, hdop, vdop)

    cgnss_head = "3,08,04,03"  # <mode>,<GPS-SVs>,<GLONASS-SVs>,<BEIDOU-SVs> of a simulated 3D fix

    @staticmethod
    def cgnss_coord(v, deg_digits):
        """A76xx: decimal degrees, unsigned (the hemisphere is its own field)."""
        return "%.6f" % abs(v)


DIALECTS = {"a76xx": ModemSim}


def create(scenario, **kw):
    """Build the simulator for scenario["modem"]["dialect"] (default "a76xx")."""
    name = ((scenario or {}).get("modem") or {}).get("dialect", "a76xx").lower()
    if name not in DIALECTS:
        raise ValueError("unknown modem dialect %r (known: %s)" % (name, ", ".join(sorted(DIALECTS))))
    return DIALECTS[name](scenario, **kw)
