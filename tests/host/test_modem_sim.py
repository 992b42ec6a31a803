"""The A76xx modem simulator, driven over its pty exactly as the firmware's UART would drive it.

SMS PDUs are built with python-gsmmodem-new's encoder, so the sim's decoding is checked against an
encoder that shares no code with the firmware or the sim.
"""
import os
import re
import select
import time
import tty

import pytest
from gsmmodem.pdu import encodeSmsSubmitPdu

from alertbutton import vm
from alertbutton.sim.modem import a76xx
from alertbutton.sim.modem.a76xx import ModemSim
from alertbutton.sim.modem.gnss import UERE_M
from alertbutton.sim.modem.pdu import check_submit_pdu

FAST = {"boot_s": 0.05, "banner_gap_s": 0.01, "cmd_latency_s": 0.01, "cmgs_latency_s": 0.05,
        "gnss_ready_s": 0.02}
BANNERS = b"\r\n*ATREADY: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n"
TIMEOUT = 3.0  # generous: the machine is shared; no assertion depends on fast scheduling


class Port:
    """The TE side: the pty slave opened raw, like the firmware's UART."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.buf = b""

    def close(self):
        os.close(self.fd)

    def send(self, data):
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def _fill(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            self.buf += os.read(self.fd, 4096)
            return True
        return False

    def until(self, token, timeout=TIMEOUT):
        """Everything received up to and including token (bytes or compiled regex)."""
        end = time.monotonic() + timeout
        while True:
            if isinstance(token, bytes):
                idx = self.buf.find(token)
                idx = idx + len(token) if idx >= 0 else -1
            else:
                m = token.search(self.buf)
                idx = m.end() if m else -1
            if idx >= 0:
                out, self.buf = self.buf[:idx], self.buf[idx:]
                return out
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("timeout waiting for %r; got %r" % (token, self.buf))
            self._fill(left)

    def quiet(self, seconds):
        """Bytes that arrive within `seconds` (expected to be none in most uses)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._fill(max(0.0, end - time.monotonic()))
        out, self.buf = self.buf, b""
        return out

    def cmd(self, line, final=re.compile(rb"\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*)\r\n")):
        self.send(line + "\r")
        return self.until(final)


class FakeClock:
    """A sim clock the test moves by hand: the timing tests below are deterministic."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


def fake_boot(sim, port, clock):
    """Walk a fake-clock sim through its boot banners (boot_s, then one banner_gap_s per banner)."""
    clock.advance(sim.boot_s)
    port.until(b"*ATREADY: 1\r\n")
    for banner in (b"+CPIN: READY", b"SMS DONE", b"PB DONE"):
        clock.advance(sim.banner_gap_s)
        port.until(banner + b"\r\n")
    assert port.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"


@pytest.fixture
def make():
    made = []

    def _make(modem=None, gnss=None, boot=True, echo_off=True, **kw):
        sim = ModemSim({"modem": dict(FAST, **(modem or {})), "gnss": gnss}, **kw)
        port = Port(sim.start())
        made.append((sim, port))
        if boot:
            banners = port.until(b"PB DONE\r\n")
            if not (modem or {}).get("urc_rate_hz"):  # random URCs may land between banners
                assert banners == BANNERS
            if echo_off:
                assert port.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
        return sim, port

    yield _make
    for sim, port in made:
        sim.stop()
        port.close()
        assert sim.error is None, sim.error


def submit_pdu(number, text):
    pdu = encodeSmsSubmitPdu(number, text, requestStatusReport=False)[0]
    return str(pdu), pdu.tpduLength


def send_sms(port, number, text, length_delta=0):
    hexpdu, n = submit_pdu(number, text)
    port.send("AT+CMGS=%d\r" % (n + length_delta))
    assert port.until(b"> ") == b"\r\n> "
    port.send(hexpdu + "\x1a")
    return port.until(re.compile(rb"\r\n(OK|ERROR|\+CMS ERROR: \d+)\r\n"))


def test_boot_banners_then_at(make):
    sim, port = make(echo_off=False)  # the fixture checked the exact banner bytes and order
    assert port.cmd("AT") == b"AT\r\r\nOK\r\n"
    assert port.cmd("ATI").startswith(b"ATI\r\r\nManufacturer: SIMCOM INCORPORATED\r\nModel: A7670E")


def test_input_before_boot_is_lost(make):
    sim, port = make(modem={"boot_s": 0.3}, boot=False)
    port.send("AT\r")
    assert port.until(b"PB DONE\r\n") == BANNERS  # no echo, no OK: the line was lost
    assert port.quiet(0.1) == b""
    assert port.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_echo_until_ate0(make):
    sim, port = make(echo_off=False)
    assert port.cmd("AT+CSQ") == b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert port.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert port.cmd("AT+CSQ") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert port.cmd("ATE1") == b"\r\nOK\r\n"
    assert port.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_cmee_modes_and_unknown_command(make):
    sim, port = make()
    assert port.cmd("AT+FOO") == b"\r\nERROR\r\n"
    assert port.cmd("AT+CMEE=9") == b"\r\nERROR\r\n"          # CMEE=0: plain ERROR
    assert port.cmd("AT+CMEE=1") == b"\r\nOK\r\n"
    assert port.cmd("AT+CMEE=9") == b"\r\n+CME ERROR: 50\r\n"
    assert port.cmd("AT+CMEE=2") == b"\r\nOK\r\n"
    assert port.cmd("AT+CMEE=9") == b"\r\n+CME ERROR: Incorrect parameters\r\n"
    assert port.cmd("AT+CMEE?") == b"\r\n+CMEE: 2\r\n\r\nOK\r\n"


def test_status_commands(make):
    sim, port = make()
    assert port.cmd("AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"
    imei = re.fullmatch(rb"\r\n(\d{15})\r\n\r\nOK\r\n", port.cmd("AT+CGSN")).group(1)
    digits = [int(c) for c in imei.decode()]
    luhn = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    assert luhn % 10 == 0
    assert re.fullmatch(rb"\r\n\d{15}\r\n\r\nOK\r\n", port.cmd("AT+CIMI"))
    assert re.fullmatch(rb'\r\n\+CCLK: "26/11/26,15:30:0\d\+04"\r\n\r\nOK\r\n', port.cmd("AT+CCLK?"))
    assert re.fullmatch(rb"\r\n\+CBC: \d\.\d{3}V\r\n\r\nOK\r\n", port.cmd("AT+CBC"))
    assert port.cmd("AT+CPSI?").startswith(b"\r\n+CPSI: LTE,Online,208-01,")
    assert port.cmd("AT+COPS?") == b'\r\n+COPS: 0,0,"Orange F",7\r\n\r\nOK\r\n'


def test_registration_delay_and_network_time(make):
    clock = FakeClock()
    sim, port = make(modem={"registered_after_s": 10.0, "cmd_latency_s": 0}, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    assert port.cmd("AT+CEREG?") == b"\r\n+CEREG: 0,2\r\n\r\nOK\r\n"
    assert port.cmd("AT+COPS?") == b"\r\n+COPS: 0\r\n\r\nOK\r\n"
    # no network time yet: the RTC counts from 1970 (boot took 0.05 + 3 * 0.01 s)
    assert port.cmd("AT+CCLK?") == b'\r\n+CCLK: "70/01/01,00:00:00+00"\r\n\r\nOK\r\n'
    assert port.cmd("AT+CEREG=1") == b"\r\nOK\r\n"
    clock.advance(9.0)
    assert port.cmd("AT+CEREG?") == b"\r\n+CEREG: 1,2\r\n\r\nOK\r\n"
    clock.advance(1.0)
    assert port.until(b"\r\n+CEREG: 1\r\n") == b"\r\n+CEREG: 1\r\n"  # the registration URC
    assert port.cmd("AT+CEREG?") == b"\r\n+CEREG: 1,1\r\n\r\nOK\r\n"
    assert port.cmd("AT+CREG?") == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    assert port.cmd("AT+CEREG=2") == b"\r\nOK\r\n"
    assert port.cmd("AT+CEREG?") == b'\r\n+CEREG: 2,1,"1A2B","01A2B3C4",7\r\n\r\nOK\r\n'
    assert port.cmd("AT+CCLK?") == b'\r\n+CCLK: "26/11/26,15:30:10+04"\r\n\r\nOK\r\n'
    assert port.cmd("AT+CFUN=4") == b"\r\nOK\r\n"  # flight mode drops the registration
    assert port.cmd("AT+CEREG?") == b"\r\n+CEREG: 2,2\r\n\r\nOK\r\n"


def test_cmgs_round_trip_and_mr_increments(make):
    got = []
    sim, port = make(on_sms=got.append)
    assert port.cmd("AT+CMGF=0") == b"\r\nOK\r\n"
    hexpdu, n = submit_pdu("+33612345678", "ALERTE: j'ai besoin d'aide")
    port.send("AT+CMGS=%d\r" % n)
    assert port.until(b"> ") == b"\r\n> "
    assert port.quiet(0.1) == b""  # the prompt is not followed by a CRLF
    port.send(hexpdu + "\x1a")
    out = port.until(b"\r\nOK\r\n")
    mr0 = int(re.fullmatch(rb"\r\n\+CMGS: (\d+)\r\n\r\nOK\r\n", out).group(1))
    assert len(got) == 1 and got[0]["to"] == "+33612345678"
    assert got[0]["text"] == "ALERTE: j'ai besoin d'aide"
    assert got[0]["pdu"] == hexpdu.upper() and got[0]["mr"] == mr0 and got[0]["t"] > 0
    out = send_sms(port, "0612345678", "Łódź ☎ aide")  # UCS2, national number
    assert re.fullmatch(rb"\r\n\+CMGS: (\d+)\r\n\r\nOK\r\n", out).group(1) == b"%d" % (mr0 + 1)
    assert [s["text"] for s in sim.sms] == ["ALERTE: j'ai besoin d'aide", "Łódź ☎ aide"]
    assert sim.sms[1]["to"] == "0612345678" and got == sim.sms


def test_cmgs_latency_and_echoed_pdu(make):
    sim, port = make(modem={"cmgs_latency_s": 0.3}, echo_off=False)
    hexpdu, n = submit_pdu("+33612345678", "x")
    port.send("AT+CMGS=%d\r" % n)
    assert port.until(b"> ") == b"AT+CMGS=%d\r\r\n> " % n
    t = time.monotonic()
    port.send(hexpdu + "\x1a")
    assert port.until(hexpdu.encode()) == hexpdu.encode()  # echo on: the PDU is echoed
    port.until(b"\r\nOK\r\n")
    assert time.monotonic() - t >= 0.3


def test_mr_wraps(make):
    sim, port = make(modem={"mr0": 255})
    assert b"+CMGS: 255\r\n" in send_sms(port, "+33612345678", "a")
    assert b"+CMGS: 0\r\n" in send_sms(port, "+33612345678", "b")


def test_concatenated_parts_reported(make):
    sim, port = make()
    for pdu in encodeSmsSubmitPdu("+33612345678", "y" * 200, reference=7, requestStatusReport=False):
        port.send("AT+CMGS=%d\r" % pdu.tpduLength)
        port.until(b"> ")
        port.send(str(pdu) + "\x1a")
        port.until(b"\r\nOK\r\n")
    assert [s["concat"] for s in sim.sms] == [(7, 2, 1), (7, 2, 2)]
    assert "".join(s["text"] for s in sim.sms) == "y" * 200


@pytest.mark.parametrize("delta", [1, -1])
def test_cmgs_wrong_length_is_refused(make, delta):
    sim, port = make()
    assert send_sms(port, "+33612345678", "hello", length_delta=delta) == b"\r\n+CMS ERROR: 304\r\n"
    assert sim.sms == []
    assert b"+CMGS: 0\r\n" in send_sms(port, "+33612345678", "hello")  # no MR was consumed


def test_cmgs_non_hex_and_bad_pdus(make):
    sim, port = make()
    hexpdu, n = submit_pdu("+33612345678", "hello")
    for bad in (hexpdu[:-2] + "ZZ", hexpdu[:-1], hexpdu + "\r", ""):
        port.send("AT+CMGS=%d\r" % n)
        assert port.until(b"> ") == b"\r\n> "
        port.send(bad + "\x1a")
        assert port.until(b"\r\n") == b"\r\n" and port.until(b"\r\n") == b"+CMS ERROR: 304\r\n"
    assert port.cmd("AT+CMGS=3") == b"\r\n+CMS ERROR: 304\r\n"  # below any SMS-SUBMIT: no prompt
    assert sim.sms == []


def test_check_submit_pdu_unit():
    hexpdu, n = submit_pdu("+33612345678", "bonjour")
    code, dec = check_submit_pdu(hexpdu, n)
    assert code is None and dec["text"] == "bonjour" and dec["number"] == "+33612345678"
    # UDL claims one more septet than the user data holds: truncated PDU
    raw = bytearray.fromhex(hexpdu)
    raw[-1 - (len("bonjour") * 7 + 7) // 8] += 2
    assert check_submit_pdu(raw.hex(), n)[0] == 304
    # an explicit SMSC field is not counted in n
    with_smsc = "07913306092011F0" + hexpdu[2:]
    assert check_submit_pdu(with_smsc, n)[0] is None
    assert check_submit_pdu(with_smsc, n + 8)[0] == 304
    # an SMS-DELIVER is not something to send
    assert check_submit_pdu("00" + "04" + hexpdu[4:], n)[0] == 304


def test_esc_cancels_without_sending(make):
    sim, port = make()
    hexpdu, n = submit_pdu("+33612345678", "never sent")
    port.send("AT+CMGS=%d\r" % n)
    assert port.until(b"> ") == b"\r\n> "
    port.send(hexpdu + "\x1b")
    assert port.until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
    assert sim.sms == []
    assert port.cmd("AT") == b"\r\nOK\r\n"


def test_cmgs_not_registered(make):
    sim, port = make(modem={"registered_after_s": None})
    assert send_sms(port, "+33612345678", "hello") == b"\r\n+CMS ERROR: 331\r\n"
    assert sim.sms == []


def test_sms_commands_fail_before_sms_done(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0}, clock=clock, boot=False)
    clock.advance(sim.boot_s)
    port.until(b"*ATREADY: 1\r\n")
    assert port.cmd("AT+CMGF=0") == b"AT+CMGF=0\r\r\nERROR\r\n"
    assert port.cmd("AT") == b"AT\r\r\nOK\r\n"
    clock.advance(2 * sim.banner_gap_s)
    port.until(b"SMS DONE\r\n")
    assert port.cmd("AT+CMGF=0") == b"AT+CMGF=0\r\r\nOK\r\n"


def test_gnss_fix_after_delay(make):
    clock = FakeClock()
    gnss = {"lat": -33.456789, "lon": -70.654321, "acc_m": 8.0, "after_s": 30.0}
    sim, port = make(modem={"cmd_latency_s": 0}, gnss=gnss, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    empty = b"\r\n+CGNSSINFO: ,,,,,,,,,,,,,,,\r\n\r\nOK\r\n"
    assert port.cmd("AT+CGNSSINFO") == empty  # GNSS still off
    clock.advance(100.0)
    assert port.cmd("AT+CGNSSINFO") == empty
    assert port.cmd("AT+CGNSSPWR=1") == b"\r\nOK\r\n"  # at t0 + 100.08
    assert port.cmd("AT+CGNSSPWR?") == b"\r\n+CGNSSPWR: 1\r\n\r\nOK\r\n"
    clock.advance(sim.gnss_ready_s)
    assert port.until(b"+CGNSSPWR: READY!\r\n") == b"\r\n+CGNSSPWR: READY!\r\n"
    clock.advance(29.9 - sim.gnss_ready_s)
    assert port.cmd("AT+CGNSSINFO") == empty
    clock.advance(0.2)
    line = re.fullmatch(rb"\r\n\+CGNSSINFO: ([^\r]*)\r\n\r\nOK\r\n", port.cmd("AT+CGNSSINFO")).group(1)
    f = line.decode().split(",")
    assert len(f) == 16 and f[0] == "3"
    assert f[5] == "S" and f[7] == "W"
    lat = float(f[4]) * (1 if f[5] == "N" else -1)
    lon = float(f[6]) * (1 if f[7] == "E" else -1)
    assert abs(lat - gnss["lat"]) < 1e-6 and abs(lon - gnss["lon"]) < 1e-6
    # 15:30:00+04 is local time with the zone in quarter hours (+01:00): 14:30:00 UTC at t0
    assert f[8] == "261126" and f[9] == "143210.1"  # t0 + 130.18 s
    assert abs(float(f[14]) * UERE_M - gnss["acc_m"]) <= 0.05 * UERE_M
    assert float(f[13]) >= float(f[14])  # PDOP >= HDOP
    assert port.cmd("AT+CGNSSPWR=0") == b"\r\nOK\r\n"
    assert port.cmd("AT+CGNSSINFO") == empty
    assert port.cmd("AT+CGNSSPWR=1") == b"\r\nOK\r\n"  # every power-on waits after_s again
    assert port.cmd("AT+CGNSSINFO") == empty


def test_gnss_null_never_fixes(make):
    sim, port = make(gnss=None)
    port.cmd("AT+CGNSSPWR=1")
    port.until(b"READY!\r\n")
    assert port.cmd("AT+CGNSSINFO") == b"\r\n+CGNSSINFO: ,,,,,,,,,,,,,,,\r\n\r\nOK\r\n"


def test_injected_urc_between_response_and_ok(make):
    sim, port = make()
    sim.inject('+CMTI: "SM",3', when="before_final")
    assert port.cmd("AT+CSQ") == b'\r\n+CSQ: 20,99\r\n\r\n+CMTI: "SM",3\r\n\r\nOK\r\n'
    sim.inject("+CGEV: ME PDN ACT 1", when="after_prompt")
    hexpdu, n = submit_pdu("+33612345678", "ok")
    port.send("AT+CMGS=%d\r" % n)
    assert port.until(b"ACT 1\r\n") == b"\r\n> \r\n+CGEV: ME PDN ACT 1\r\n"
    port.send(hexpdu + "\x1a")
    assert re.fullmatch(rb"\r\n\+CMGS: 0\r\n\r\nOK\r\n", port.until(b"\r\nOK\r\n"))
    sim.inject("RDY?", when="after_echo")
    assert port.cmd("AT") == b"\r\nRDY?\r\n\r\nOK\r\n"
    with pytest.raises(ValueError):
        sim.inject("x", when="whenever")


def test_commands_do_not_block_urcs(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0, "cmgs_latency_s": 5.0}, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    hexpdu, n = submit_pdu("+33612345678", "slow network")
    port.send("AT+CMGS=%d\r" % n)
    port.until(b"> ")
    port.send(hexpdu + "\x1a")
    sim.inject("+CPIN: READY")  # while the SMS is still being sent
    assert port.until(b"READY\r\n") == b"\r\n+CPIN: READY\r\n"
    assert port.quiet(0.1) == b""
    clock.advance(5.0)
    assert port.until(b"\r\nOK\r\n") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    assert sim.sms[0]["t"] == pytest.approx(5.0 + sim.boot_s + 3 * sim.banner_gap_s)


def test_random_urcs_are_whole_lines(make):
    sim, port = make(modem={"urc_rate_hz": 60.0, "cmd_latency_s": 0.02}, seed=3)
    port.cmd("AT+CEREG=1")
    finals = 0
    for _ in range(15):
        port.send("AT+CSQ\r")
        out = port.until(b"\r\nOK\r\n")
        finals += 1
        # every byte belongs to a "\r\n<line>\r\n" frame; info and URC lines are known ones
        assert re.fullmatch(rb"(\r\n[^\r\n]+\r\n)+", out), out
        lines = re.findall(rb"\r\n([^\r\n]+)\r\n", out)
        assert lines.count(b"+CSQ: 20,99") == 1 and lines[-1] == b"OK"
        for x in lines[:-1]:
            assert x == b"+CSQ: 20,99" or re.fullmatch(
                rb'\+CGEV: ME PDN ACT 1|\+CPIN: READY|\+CMTI: "SM",\d+|\+CTZV: \+04,0|'
                rb'\*ISIMAID: "[0-9A-F]+"|\+CEREG: 1', x), x
    assert finals == 15
    assert b"\r\n" in port.quiet(0.3)  # at 60 Hz, URCs keep coming while idle


def test_cms_error_fault(make):
    sim, port = make()
    sim.fault("cms_error", code=500, times=2)
    assert send_sms(port, "+33612345678", "try") == b"\r\n+CMS ERROR: 500\r\n"
    assert send_sms(port, "+33612345678", "try") == b"\r\n+CMS ERROR: 500\r\n"
    assert b"+CMGS: 0\r\n" in send_sms(port, "+33612345678", "try")
    assert len(sim.sms) == 1 and "cms_error" not in sim.faults
    sim.fault("cms_error", code=42, times=1, cmd="CSQ")
    assert port.cmd("AT+CSQ") == b"\r\n+CMS ERROR: 42\r\n"
    assert port.cmd("AT+CSQ") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    with pytest.raises(ValueError):
        sim.fault("no_such_fault")


def test_silent_fault(make):
    sim, port = make(echo_off=False)
    sim.fault("silent")
    port.send("AT\r")
    sim.inject("+CPIN: READY")
    assert port.quiet(0.15) == b""
    sim.clear_fault("silent")
    assert port.cmd("AT") == b"AT\r\r\nOK\r\n"
    sim.fault("silent", times=1)  # swallow exactly one command line
    port.send("AT+CSQ\r")
    assert port.quiet(0.15) == b""
    assert port.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_on_log_traces_commands(make):
    logs = []
    sim, port = make(on_log=logs.append)
    port.cmd("AT+CSQ")
    text = "\n".join(logs)
    assert "> AT+CSQ" in text and "< +CSQ: 20,99" in text and "< OK" in text


def test_create_picks_dialect():
    assert isinstance(a76xx.create({"modem": {"dialect": "A76xx"}}), ModemSim)
    with pytest.raises(ValueError):
        a76xx.create({"modem": {"dialect": "nokia3310"}})


def test_pipelined_commands_answered_in_order(make):
    sim, port = make()
    port.send("AT+CSQ\rAT+CMEE?\r")
    assert port.until(b"+CMEE: 0\r\n\r\nOK\r\n") == \
        b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n\r\n+CMEE: 0\r\n\r\nOK\r\n"


def test_text_mode_cmgs(make):
    sim, port = make()
    assert port.cmd("AT+CMGF=1") == b"\r\nOK\r\n"
    port.send('AT+CMGS="+33612345678"\r')
    assert port.until(b"> ") == b"\r\n> "
    port.send("Alerte texte\x1a")
    assert port.until(b"\r\nOK\r\n") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    assert sim.sms[0]["to"] == "+33612345678" and sim.sms[0]["text"] == "Alerte texte"
    assert sim.sms[0]["pdu"] is None


def test_uere_matches_firmware():
    """The firmware turns HDOP back into metres with its own UERE_M (firmware/location/last_fix.py, MicroPython
    only): both sides must agree or every SMS would misstate its accuracy."""
    proc = vm.run(code="from firmware.core.fix import UERE_M; print(repr(UERE_M))", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.strip()) == UERE_M


# ------------------------------------------------------------------------------------------------
# Delivery reports, power key and the named faults (issue 5). Timings on a FakeClock where they
# matter; PDUs of status reports are checked with python-gsmmodem-new's decoder.

import datetime  # noqa: E402

from gsmmodem.pdu import decodeSmsPdu  # noqa: E402

from alertbutton.sim.modem.faults import FAULTS  # noqa: E402
from alertbutton.sim.modem.pdu import status_report_pdu  # noqa: E402

FINAL = re.compile(rb"\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*)\r\n")
CDS = re.compile(rb"\r\n\+CDS: (\d+)\r\n([0-9A-F]+)\r\n")


def srr_pdu(number, text="alerte"):
    pdu = encodeSmsSubmitPdu(number, text, requestStatusReport=True)[0]
    return str(pdu), pdu.tpduLength


def send_pdu(port, hexpdu, n):
    port.send("AT+CMGS=%d\r" % n)
    assert port.until(b"> ") == b"\r\n> "
    port.send(hexpdu + "\x1a")
    return port.until(FINAL)


def utc(*a):
    return datetime.datetime(*a)


@pytest.mark.parametrize("number,tzq,smsc", [("+33612345601", 4, "+33689004000"), ("0612345678", -20, ""),
                                             ("+4915123456789", 0, "+491770610000")])
def test_status_report_pdu_matches_independent_decoder(number, tzq, smsc):
    scts, dt = utc(2026, 11, 26, 14, 30, 0), utc(2026, 11, 26, 14, 31, 7)
    for mr in (0, 0x2A, 255):
        for st in (0x00, 0x21, 0x41, 0x65):
            pdu, n = status_report_pdu(mr, number, scts, dt, st, tzq, smsc)
            d = decodeSmsPdu(pdu)
            assert d["type"] == "SMS-STATUS-REPORT" and d["tpdu_length"] == n
            assert (d["reference"], d["number"], d["status"]) == (mr, number, st)
            assert d["smsc"] == (smsc or None)
            for got, want in ((d["time"], scts), (d["discharge"], dt)):
                assert got.utcoffset() == datetime.timedelta(minutes=15 * tzq)
                assert got.replace(tzinfo=None) - got.utcoffset() == want
    with pytest.raises(ValueError):
        status_report_pdu(256, number, scts, dt, 0)


def test_cds_after_delivery_s_only_when_requested_and_routed(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0, "cmgs_latency_s": 0, "delivery_s": 2.0}, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    assert port.cmd("AT+CNMI?") == b"\r\n+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n"
    send_pdu(port, *srr_pdu("+33612345601"))           # ds=0: the report exists but is not routed
    clock.advance(2.0)
    assert port.quiet(0.15) == b""
    assert [(r["mr"], r["routed"]) for r in sim.reports] == [(0, False)]
    assert port.cmd("AT+CNMI=2,1,0,1,0") == b"\r\nOK\r\n"
    assert port.cmd("AT+CNMI?") == b"\r\n+CNMI: 2,1,0,1,0\r\n\r\nOK\r\n"
    assert b"+CMGS: 1" in send_pdu(port, *submit_pdu("+33612345602", "no report asked"))
    out = send_pdu(port, *srr_pdu("+33612345603"))
    assert b"+CMGS: 2" in out
    clock.advance(1.9)
    assert port.quiet(0.15) == b""
    assert sim.reports_pending() == 1
    clock.advance(0.1)
    m = CDS.fullmatch(port.until(CDS))
    d = decodeSmsPdu(m.group(2).decode())
    assert int(m.group(1)) == d["tpdu_length"]
    assert (d["reference"], d["number"], d["status"]) == (2, "+33612345603", 0)
    assert (d["discharge"] - d["time"]).total_seconds() == 2
    assert sim.reports_pending() == 0 and [r["mr"] for r in sim.reports] == [0, 2]


def test_cds_text_mode(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0, "cmgs_latency_s": 0, "delivery_s": 1.0}, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    for c in ("AT+CMGF=1", "AT+CNMI=2,1,0,1,0", "AT+CSMP=49,167,0,0"):
        assert port.cmd(c) == b"\r\nOK\r\n"
    port.send('AT+CMGS="+33612345601"\r')
    port.until(b"> ")
    port.send("aide\x1a")
    port.until(b"\r\nOK\r\n")
    clock.advance(1.0)
    assert port.until(b"\r\n", ) == b"\r\n"
    assert port.until(b"\r\n") == b'+CDS: 6,0,"+33612345601",145,"26/11/26,15:30:00+04","26/11/26,15:30:01+04",0\r\n'


def test_csms_and_cnma(make):
    sim, port = make()
    assert port.cmd("AT+CNMA") == b"\r\n+CMS ERROR: 340\r\n"
    assert port.cmd("AT+CSMS?") == b"\r\n+CSMS: 0,1,1,1\r\n\r\nOK\r\n"
    assert port.cmd("AT+CSCA?") == b'\r\n+CSCA: "+33689004000",145\r\n\r\nOK\r\n'


def test_power_key_cycle_resets_settings_keeps_mr(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0, "cmgs_latency_s": 0, "power_down_s": 1.0},
                     clock=clock, boot=False)
    fake_boot(sim, port, clock)
    assert port.cmd("AT+CNMI=2,1,0,1,0") == b"\r\nOK\r\n"
    assert b"+CMGS: 0" in send_pdu(port, *submit_pdu("+33612345601", "a"))
    sim.power_key(1)                       # a release without a press: nothing
    sim.power_key(0)
    clock.advance(1.0)                     # a 1 s press on a running module: ignored
    sim.power_key(1)
    assert port.cmd("AT") == b"\r\nOK\r\n"
    sim.power_key(0)
    clock.advance(2.5)
    sim.power_key(1)                       # >= 2.5 s: powers down
    port.send("AT\r")
    assert port.quiet(0.2) == b""
    assert not sim.powered()
    sim.power_key(0)
    clock.advance(0.1)
    sim.power_key(1)                       # still powering down: ignored
    clock.advance(1.0)
    sim.power_key(0)
    clock.advance(0.03)
    sim.power_key(1)                       # 30 ms < 50 ms: too short
    assert port.quiet(0.1) == b"" and not sim.powered()
    sim.power_key(0)
    clock.advance(0.06)
    sim.power_key(1)                       # on again
    port.quiet(0.1)
    assert sim.powered()
    fake_boot(sim, port, clock)            # banners again, echo was back on (ATE0 echoed)
    assert port.cmd("AT+CNMI?") == b"\r\n+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n"
    clock.advance(sim.reregister_s)
    assert b"+CMGS: 1" in send_pdu(port, *submit_pdu("+33612345601", "b"))  # TP-MR lives on the SIM
    assert [e["event"] for e in sim.power_log] == ["boot", "off", "on", "boot"]


def test_fault_table_refuses_unknown_names_and_parameters():
    sim = ModemSim({})
    with pytest.raises(ValueError, match="unknown fault"):
        sim.fault("cms_39")
    with pytest.raises(ValueError, match="unknown parameter"):
        sim.fault("cms_500", time=3)
    with pytest.raises(ValueError, match="needs to"):
        sim.fault("cms_permanent")
    with pytest.raises(ValueError, match="unknown fault"):
        ModemSim({"faults": [{"name": "nope"}]})
    assert len(FAULTS) >= 25


def test_cms_alias_times_then_success_and_permanent_for_one_number(make):
    sim, port = make()
    sim.fault("cms_permanent", to="+33612345609", code=21)  # faults are consulted in arming order
    sim.fault("cms_38", times=2)
    assert send_pdu(port, *submit_pdu("+33612345601", "x")) == b"\r\n+CMS ERROR: 38\r\n"
    assert send_pdu(port, *submit_pdu("+33612345609", "x")) == b"\r\n+CMS ERROR: 21\r\n"
    assert send_pdu(port, *submit_pdu("+33612345601", "x")) == b"\r\n+CMS ERROR: 38\r\n"
    assert b"+CMGS: 0" in send_pdu(port, *submit_pdu("+33612345601", "x"))
    for _ in range(3):
        assert send_pdu(port, *submit_pdu("+33612345609", "x")) == b"\r\n+CMS ERROR: 21\r\n"
    assert [s["to"] for s in sim.sms] == ["+33612345601"]
    assert len(sim.submits) == 7
    assert sim.fault_hits == {"cms_38": 2, "cms_permanent": 4}


def test_no_sim(make):
    sim, port = make(boot=False)
    sim.fault("no_sim")
    assert port.until(b"REMOVED\r\n") == b"\r\n*ATREADY: 1\r\n\r\n+CPIN: SIM REMOVED\r\n"
    assert port.quiet(0.2) == b""          # no SMS DONE, no PB DONE
    port.cmd("ATE0")
    assert port.cmd("AT+CMEE=2") == b"\r\nOK\r\n"
    assert port.cmd("AT+CPIN?") == b"\r\n+CME ERROR: SIM not inserted\r\n"
    assert port.cmd("AT+CIMI") == b"\r\n+CME ERROR: SIM not inserted\r\n"
    assert port.cmd("AT+CMGF=0") == b"\r\nERROR\r\n"
    assert port.cmd("AT+CEREG?") == b"\r\n+CEREG: 0,0\r\n\r\nOK\r\n"


def test_sim_pin(make):
    sim, port = make(boot=False)
    sim.fault("sim_pin", pin="4321")
    assert port.until(b"SIM PIN\r\n") == b"\r\n*ATREADY: 1\r\n\r\n+CPIN: SIM PIN\r\n"
    port.cmd("ATE0")
    assert port.cmd("AT+CPIN?") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    assert port.cmd("AT+CMGF=0") == b"\r\nERROR\r\n"
    assert port.cmd("AT+CMEE=1") == b"\r\nOK\r\n"
    assert port.cmd('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
    assert port.cmd('AT+CPIN="4321"') == b"\r\nOK\r\n"
    assert port.until(b"PB DONE\r\n") == b"\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n"
    assert port.cmd("AT+CMGF=0") == b"\r\nOK\r\n"


def test_not_registered_for(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0, "cmgs_latency_s": 0}, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    assert port.cmd("AT+CEREG=1") == b"\r\nOK\r\n"
    sim.fault("not_registered_for", duration_s=120)
    assert port.until(b"\r\n+CEREG: 2\r\n") == b"\r\n+CEREG: 2\r\n"
    assert send_pdu(port, *submit_pdu("+33612345601", "x")) == b"\r\n+CMS ERROR: 331\r\n"
    clock.advance(119.9)
    assert send_pdu(port, *submit_pdu("+33612345601", "x")) == b"\r\n+CMS ERROR: 331\r\n"
    clock.advance(0.1)
    assert port.until(b"\r\n+CEREG: 1\r\n") == b"\r\n+CEREG: 1\r\n"
    assert b"+CMGS: 0" in send_pdu(port, *submit_pdu("+33612345601", "x"))


def test_no_prompt_lost_then_esc_gives_ok(make):
    sim, port = make()
    sim.fault("no_prompt")
    hexpdu, n = submit_pdu("+33612345601", "x")
    port.send("AT+CMGS=%d\r" % n)
    assert port.quiet(0.2) == b""
    port.send("\x1b")                      # the TE gives up: the module was waiting for the PDU
    assert port.until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
    assert b"+CMGS: 0" in send_pdu(port, hexpdu, n)
    sim.fault("no_prompt", mode="ignored")
    port.send("AT+CMGS=%d\r" % n)
    assert port.quiet(0.2) == b""
    assert port.cmd("AT") == b"\r\nOK\r\n"  # command mode all along
    assert len(sim.sms) == 1


def test_no_cmgs(make):
    sim, port = make()
    sim.fault("no_cmgs")
    hexpdu, n = submit_pdu("+33612345601", "x")
    port.send("AT+CMGS=%d\r" % n)
    port.until(b"> ")
    port.send(hexpdu + "\x1a")
    assert port.quiet(0.3) == b""
    assert sim.sms == [] and port.cmd("AT") == b"\r\nOK\r\n"
    sim.fault("no_cmgs", sent=True)        # the network got it, the TE never hears of it
    port.send("AT+CMGS=%d\r" % n)
    port.until(b"> ")
    port.send(hexpdu + "\x1a")
    assert port.quiet(0.3) == b""
    assert [s["mr"] for s in sim.sms] == [0]
    assert b"+CMGS: 1" in send_pdu(port, hexpdu, n)


def _lines(raw):
    return [x for x in re.split(rb"[\r\n]+", raw) if x]


def test_garbage_never_breaks_a_real_line_and_is_seeded(make):
    outs = []
    for _ in range(2):
        sim, port = make(modem={"cmd_latency_s": 0.002}, seed=7)
        sim.fault("garbage", rate=0.9, idle_hz=0)
        raw = b""
        for _ in range(20):
            port.send("ATI\r")
            raw += port.until(b"\r\nOK\r\n")
        outs.append(raw)
        lines = _lines(raw)
        assert lines.count(b"OK") == 20 and lines.count(b"Model: A7670E-LASE") == 20
        junk = [x for x in lines if not re.fullmatch(rb"[A-Za-z+][ -~]*", x)]
        assert junk and sim.fault_hits["garbage"] >= len(junk) // 2, "no garbage at all"
        for x in junk:  # junk never spells anything the firmware listens for
            assert not re.search(rb"OK|ERROR|\+C|> |RING", x), x
    assert outs[0] == outs[1]


def test_baud_noise_high_bit_bursts_between_frames(make):
    sim, port = make(modem={"cmd_latency_s": 0.002}, seed=3)
    sim.fault("baud_noise", rate=1.0, idle_hz=20)
    raw = b""
    for _ in range(10):
        port.send("AT+CSQ\r")
        raw += port.until(b"\r\nOK\r\n")
    lines = _lines(raw)
    assert lines.count(b"+CSQ: 20,99") == 10 and lines.count(b"OK") == 10
    noise = [x for x in lines if x not in (b"+CSQ: 20,99", b"OK")]
    assert len(noise) >= 10 and all(all(c >= 0x80 for c in x) for x in noise)


def test_partial_lines_come_one_byte_at_a_time(make):
    sim, port = make(modem={"cmd_latency_s": 0.002})
    sim.fault("partial_lines", min_gap_ms=2, max_gap_ms=3)
    reads = []
    port.send("AT+CSQ\r")
    want = b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    got = b""
    end = time.monotonic() + TIMEOUT
    while len(got) < len(want) and time.monotonic() < end:
        r, _, _ = select.select([port.fd], [], [], 0.5)
        if r:
            chunk = os.read(port.fd, 4096)
            reads.append(len(chunk))
            got += chunk
    assert got == want
    assert max(reads) <= 2 and len(reads) >= len(want) - 2


def test_urc_storm_during_cmgs(make):
    sim, port = make(modem={"cmgs_latency_s": 0.4}, seed=5)
    sim.fault("urc_storm_during_cmgs", rate_hz=100)
    hexpdu, n = submit_pdu("+33612345601", "x")
    port.send("AT+CMGS=%d\r" % n)
    before = port.until(b"> ")
    assert before.endswith(b"\r\n> ")       # URCs may come before the prompt, and right after it
    port.send(hexpdu + "\x1a")
    lines = _lines(before[:-2] + port.until(b"\r\nOK\r\n"))
    assert b"+CMGS: 0" in lines and lines[-1] == b"OK"
    assert len(lines) >= 10                # dozens of URCs while the SMS was in flight
    assert port.cmd("AT+CSQ") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"  # the storm ended with the command


@pytest.mark.parametrize("sent", [False, True])
def test_reboot_mid_sms(make, sent):
    sim, port = make(modem={"cmgs_latency_s": 0.2})
    port.cmd("AT+CNMI=2,1,0,1,0")
    sim.fault("reboot_mid_sms", skip=1, sent=sent)
    assert b"+CMGS: 0" in send_pdu(port, *submit_pdu("+33612345601", "first"))
    hexpdu, n = submit_pdu("+33612345602", "in flight")
    port.send("AT+CMGS=%d\r" % n)
    port.until(b"> ")
    port.send(hexpdu + "\x1a")
    assert port.until(b"PB DONE\r\n") == BANNERS   # no +CMGS, no OK: the boot banners instead
    assert port.cmd("AT") == b"AT\r\r\nOK\r\n"      # echo is back
    assert port.cmd("AT+CNMI?").endswith(b"+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n")
    assert [s["to"] for s in sim.sms] == ["+33612345601"] + (["+33612345602"] if sent else [])
    assert [e["event"] for e in sim.power_log] == ["boot", "off", "on", "boot"]


def test_spontaneous_reboot_from_scenario_timer():
    sim2 = ModemSim({"modem": dict(FAST), "faults": [{"name": "spontaneous_reboot", "at_s": 0.4}]})
    p2 = Port(sim2.start())
    try:
        assert p2.until(b"PB DONE\r\n") == BANNERS
        assert p2.until(b"PB DONE\r\n", timeout=3) == BANNERS
        assert sim2.boots == 2
    finally:
        sim2.stop()
        p2.close()


def test_echo_reenabled_after_first_sms(make):
    sim, port = make()
    sim.fault("echo_reenabled")
    assert port.cmd("AT") == b"\r\nOK\r\n"
    send_pdu(port, *submit_pdu("+33612345601", "x"))
    assert port.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_slow_cmgs(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0, "cmgs_latency_s": 0.5}, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    sim.fault("slow_cmgs", latency_s=30)
    hexpdu, n = submit_pdu("+33612345601", "x")
    port.send("AT+CMGS=%d\r" % n)
    port.until(b"> ")
    port.send(hexpdu + "\x1a")
    port.quiet(0.1)
    clock.advance(29.9)
    assert port.quiet(0.15) == b""
    clock.advance(0.1)
    assert b"+CMGS: 0" in port.until(b"\r\nOK\r\n")
    port.send("AT+CMGS=%d\r" % n)             # used up: the next one takes cmgs_latency_s
    port.until(b"> ")
    port.send(hexpdu + "\x1a")
    port.quiet(0.1)
    clock.advance(0.5)
    assert b"+CMGS: 1" in port.until(b"\r\nOK\r\n")


def test_cds_faults(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0, "cmgs_latency_s": 0, "delivery_s": 1.0}, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    port.cmd("AT+CNMI=2,1,0,1,0")
    sim.fault("cds_failed", to="+33612345601")
    sim.fault("cds_never", to="+33612345602")
    sim.fault("cds_temporary_then_delivered", to="+33612345603", then_s=2.0)
    for k in range(1, 5):
        send_pdu(port, *srr_pdu("+3361234560%d" % k))
    got = []
    for step, count in ((1.0, 3), (2.0, 1)):  # delivery_s, then the temporary one's then_s
        clock.advance(step)
        for _ in range(count):
            d = decodeSmsPdu(CDS.search(port.until(CDS)).group(2).decode())
            got.append((step, d["number"], d["status"]))
        assert port.quiet(0.15) == b""
    assert sorted(got) == [(1.0, "+33612345601", 0x41), (1.0, "+33612345603", 0x21),
                           (1.0, "+33612345604", 0), (2.0, "+33612345603", 0)]


def test_ring_and_cmti_flood_during_cmgs(make):
    sim, port = make(modem={"cmgs_latency_s": 0.5})
    sim.fault("ring_during_cmgs", count=3, gap_s=0.1)
    sim.fault("cmti_flood", count=10, rate_hz=100)
    hexpdu, n = submit_pdu("+33612345601", "x")
    port.send("AT+CMGS=%d\r" % n)
    before = port.until(b"> ")
    port.send(hexpdu + "\x1a")
    lines = _lines(before[:-2] + port.until(b"\r\nOK\r\n"))
    assert lines.count(b"RING") == 3 and sum(x.startswith(b"+CMTI:") for x in lines) == 10
    assert b"+CMGS: 0" in lines


def test_sms_done_late(make):
    clock = FakeClock()
    sim = ModemSim({"modem": dict(FAST, cmd_latency_s=0), "faults": [{"name": "sms_done_late", "delay_s": 10}]},
                   clock=clock)
    port = Port(sim.start())
    try:
        clock.advance(sim.boot_s)
        assert port.until(b"ATREADY: 1\r\n") == b"\r\n*ATREADY: 1\r\n"
        clock.advance(sim.banner_gap_s)
        assert port.until(b"READY\r\n") == b"\r\n+CPIN: READY\r\n"
        clock.advance(sim.banner_gap_s)
        assert port.cmd("AT+CMGF=0") == b"AT+CMGF=0\r\r\nERROR\r\n"
        clock.advance(9.9)
        assert port.quiet(0.1) == b""
        clock.advance(0.2)
        assert port.until(b"PB DONE\r\n") == b"\r\nSMS DONE\r\n\r\nPB DONE\r\n"
        assert port.cmd("AT+CMGF=0") == b"AT+CMGF=0\r\r\nOK\r\n"
    finally:
        sim.stop()
        port.close()


def test_silent_until_power_cycle(make):
    clock = FakeClock()
    sim, port = make(modem={"cmd_latency_s": 0}, clock=clock, boot=False)
    fake_boot(sim, port, clock)
    sim.fault("silent_until_power_cycle")
    hexpdu, n = submit_pdu("+33612345601", "x")
    port.send("AT+CMGS=%d\r" % n)
    assert port.quiet(0.15) == b""
    port.send("\x1bAT\r")
    assert port.quiet(0.15) == b""
    sim.power_key(0)
    clock.advance(2.6)
    sim.power_key(1)
    clock.advance(sim.power_down_s + 1)
    sim.power_key(0)
    clock.advance(0.1)
    sim.power_key(1)
    port.quiet(0.1)
    fake_boot(sim, port, clock)
    assert "silent_until_power_cycle" not in sim.faults


def test_received_sms_stored_read_listed_deleted(make):
    sim, port = make()
    sim.deliver_sms("+33699887766", "Tu es où ? J'arrive")
    sim.deliver_sms("+33699887766", "Ça va ? ☎")           # not GSM-7: UCS2
    assert port.until(b'"SM",2\r\n') == b'\r\n+CMTI: "SM",1\r\n\r\n+CMTI: "SM",2\r\n'
    assert port.cmd("AT+CPMS?") == b'\r\n+CPMS: "SM",2,30,"SM",2,30,"SM",2,30\r\n\r\nOK\r\n'
    m = re.fullmatch(rb"\r\n\+CMGR: 0,,(\d+)\r\n([0-9A-F]+)\r\n\r\nOK\r\n", port.cmd("AT+CMGR=1"))
    d = decodeSmsPdu(m.group(2).decode())
    assert (d["type"], d["number"], d["text"], d["tpdu_length"]) == \
        ("SMS-DELIVER", "+33699887766", "Tu es où ? J'arrive", int(m.group(1)))
    assert port.cmd("AT+CMGR=1").startswith(b"\r\n+CMGR: 1,,")  # now REC READ
    out = port.cmd("AT+CMGL=4")
    pairs = re.findall(rb"\+CMGL: (\d+),(\d),,\d+\r\n([0-9A-F]+)\r\n", out)
    assert [(i, st) for i, st, _ in pairs] == [(b"1", b"1"), (b"2", b"0")]
    assert decodeSmsPdu(pairs[1][2].decode())["text"] == "Ça va ? ☎"
    assert port.cmd("AT+CMGD=1") == b"\r\nOK\r\n"
    assert port.cmd("AT+CMGR=1") == b"\r\n+CMS ERROR: 321\r\n"
    assert port.cmd("AT+CMGD=0,4") == b"\r\nOK\r\n" and sim.store == {}
    assert port.cmd("AT+CMGL=4") == b"\r\nOK\r\n"


def test_full_store_holds_messages_back(make):
    sim, port = make(modem={"store_size": 2})
    for k in range(3):
        sim.deliver_sms("+33699887766", "m%d" % k)
    assert port.until(b'"SM",2\r\n') == b'\r\n+CMTI: "SM",1\r\n\r\n+CMTI: "SM",2\r\n'
    assert port.quiet(0.3) == b""
    port.cmd("AT+CMGD=1")
    assert port.until(b'"SM",1\r\n', timeout=3) == b'\r\n+CMTI: "SM",1\r\n'   # the network retried
    assert decodeSmsPdu(sim.store[1][1])["text"] == "m2"


def test_data_mode_dial_escape_hangup_and_faults(make):
    """ATD*99# / AT+CGDATA -> CONNECT and the fake PPP peer's first frame; data mode swallows
    everything ("AT" included, and "+++" inside data); "+++" framed by guard times -> OK; ATH."""
    from alertbutton.sim.modem.data_mode import PPP_FRAME
    sim, port = make(modem={"guard_s": 0.2})
    port.send("ATD*99#\r")
    assert port.until(b"\r\nNO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"  # no PDP context defined yet
    assert port.cmd('AT+CGDCONT=1,"IP","free"') == b"\r\nOK\r\n"
    assert port.cmd("AT+CGDCONT?") == b'\r\n+CGDCONT: 1,"IP","free"\r\n\r\nOK\r\n'
    port.send("ATD*99#\r")
    assert port.until(PPP_FRAME) == b"\r\nCONNECT 115200\r\n" + PPP_FRAME
    port.send("AT\r")
    time.sleep(0.05)
    port.send("x+++")  # "+++" right after data is data
    assert port.quiet(0.6) == b""
    assert bytes(sim.data_rx) == b"AT\rx+++" and sim._mode == "data"
    port.send("+++")  # after more than guard_s of silence
    assert port.until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
    assert port.cmd("ATH") == b"\r\nOK\r\n"
    assert [e["event"] for e in sim.data_log] == ["refused", "connect", "escape", "ath"]
    assert sim.data_log[1]["apn"] == "free"
    sim.fault("ignore_escape", times=1)
    port.send('AT+CGDATA="PPP",1\r')
    port.until(PPP_FRAME)
    time.sleep(0.3)
    port.send("+++")
    assert port.quiet(0.6) == b"" and sim._mode == "data"  # ignored once
    port.send("+++")
    assert port.until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
    assert sim.fault_hits == {"ignore_escape": 1}


def test_slow_dial_is_aborted_by_any_character_after_125_ms(make):
    """dial_latency_s: the network answers a dial late. V.250 5.6.1: a character from the TE aborts
    it (NO CARRIER, command mode, the call never comes up), except within 125 ms of the dial's CR."""
    from alertbutton.sim.modem.data_mode import PPP_FRAME
    sim, port = make(modem={"dial_latency_s": 1.0})
    assert port.cmd('AT+CGDCONT=1,"IP","free"') == b"\r\nOK\r\n"
    t0 = time.monotonic()
    port.send("ATD*99***1#\r\n")  # the LF right after the CR is ignored, not an abort
    assert port.quiet(0.3) == b"" and sim._mode == "cmd"
    port.send("\r")
    assert port.until(b"\r\nNO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
    assert time.monotonic() - t0 < 0.9  # well before the network's answer
    assert port.quiet(1.2) == b"" and sim._mode == "cmd"  # the late answer never turns into CONNECT
    assert [e["event"] for e in sim.data_log] == ["abort"]
    assert port.cmd("AT") == b"\r\nOK\r\n"
    t0 = time.monotonic()
    port.send("ATD*99***1#\r")  # left alone: CONNECT after the dial latency
    assert port.until(PPP_FRAME) == b"\r\nCONNECT 115200\r\n" + PPP_FRAME
    assert 0.9 <= time.monotonic() - t0 < 2.0
    assert [e["event"] for e in sim.data_log] == ["abort", "connect"] and sim._mode == "data"
