# AT line engine: framing, URC routing, echo, prompt and final result codes, fed byte by byte.
import asyncio
from drivers.modem.at_channel import AtChannel, Response
from firmware.core.errors import AtError


class NullStream:  # never read here: bytes are fed straight into the line splitter
    def write(self, b):
        return len(b)


def make():
    ch = AtChannel(NullStream())
    got = []
    ch.on_urc(b"+CMTI:", got.append)
    ch.on_urc(b"+CEREG:", got.append)
    return ch, got


def feed(ch, data, step=1):
    buf = bytearray(data)
    for i in range(0, len(buf), step):
        part = buf[i:i + step]
        ch._feed(part, len(part))


def pending(ch, cmd, expect=None, prompt=False):
    ch._cmd = cmd
    ch._expect = expect
    ch._lines = []
    ch._final = None
    ch._done = asyncio.Event()
    ch._prompt = asyncio.Event()
    ch._want_prompt = prompt


def test_urc_between_response_and_ok_goes_to_its_handler():
    for step in (1, 3, 7, 64):
        ch, urcs = make()
        pending(ch, b"AT+CSQ", b"+CSQ:")
        feed(ch, b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\n+CMTI: \"SM\",3\r\n\r\nOK\r\n", step)
        assert ch._final == b"OK" and ch._lines == [b"+CSQ: 21,99"], (step, ch._lines)
        assert urcs == [b'+CMTI: "SM",3']


def test_urc_with_the_commands_own_prefix_is_a_response_while_pending():
    ch, urcs = make()
    pending(ch, b"AT+CEREG?", b"+CEREG:")
    feed(ch, b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n")
    assert ch._lines == [b"+CEREG: 0,1"] and urcs == []
    ch._cmd = None
    feed(ch, b"\r\n+CEREG: 5\r\n")
    assert urcs == [b"+CEREG: 5"]


def test_prompt_without_line_end_is_detected_in_pieces():
    ch, _ = make()
    pending(ch, b"AT+CMGS=20", b"+CMGS:", prompt=True)
    feed(ch, b"\r\n>")
    assert not ch._prompt.is_set()
    feed(ch, b" ")
    assert ch._prompt.is_set()


def test_error_instead_of_prompt_releases_the_waiter():
    ch, _ = make()
    pending(ch, b"AT+CMGS=20", b"+CMGS:", prompt=True)
    feed(ch, b"\r\n+CMS ERROR: 331\r\n")
    assert ch._prompt.is_set() and ch._done.is_set()
    try:
        ch._result()
    except AtError as e:
        assert e.code() == 331
    else:
        raise AssertionError("no error")


def test_garbage_and_overlong_lines_are_counted_not_fatal():
    ch, urcs = make()
    feed(ch, bytes(range(256)) * 3 + b"\r\n" + b"X" * 2000 + b"\r\n+CMTI: \"SM\",1\r\n", 13)
    assert urcs == [b'+CMTI: "SM",1']
    assert ch.stats["overflow"] >= 1 and ch.stats["stray"] >= 1


def test_bare_info_lines_without_expected_prefix():
    ch, _ = make()
    pending(ch, b"AT+CGSN", None)
    feed(ch, b"\r\n860000001234563\r\n\r\nOK\r\n")
    assert ch._lines == [b"860000001234563"]


def test_response_line_helper():
    r = Response(b"OK", [b"+CSQ: 21,99"])
    assert r.line(b"+CSQ:") == b"21,99" and r.line(b"+X:") is None


def test_cms_and_cme_codes():
    assert AtError(b"+CMS ERROR: 500").code() == 500
    assert AtError(b"+CME ERROR: SIM not inserted").code() == -1
    assert AtError(b"ERROR").code() == -1


async def test_error_before_prompt_never_sends_the_payload():
    f = open("uart.bin", "w+b")  # a regular file stands in for the UART: it records what was written
    ch = AtChannel(f)

    async def modem():
        await asyncio.sleep_ms(20)
        data = bytearray(b"\r\n+CMS ERROR: 302\r\n")
        ch._feed(data, len(data))

    asyncio.create_task(modem())
    try:
        await ch.command_with_prompt("AT+CMGS=20", "0011AA", timeout_ms=500, prompt_ms=300)
        raise AssertionError("no error")
    except AtError as e:
        assert e.code() == 302
    f.seek(0)
    assert f.read() == b"AT+CMGS=20\r"
