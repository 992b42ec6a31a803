"""alertbutton.bench.nmea_parser: both parsers in one VM run. as_GPS itself is never in the repository, so the
comparison path is exercised with a stand-in module written here that has its interface."""
import glob
import os

from alertbutton.bench import nmea_parser
from alertbutton.checks import nmea_decode

HERE = os.path.dirname(os.path.abspath(__file__))
LOGS = sorted(glob.glob(os.path.join(os.path.dirname(HERE), "data", "nmea", "*.log")))[:3]

STAND_IN = '''
import asyncio
class AS_GPS:
    def __init__(self, sreader):
        self.clean_sentences = self.parsed_sentences = self.crc_fails = self.unsupported_sentences = 0
    async def _update(self, line):
        await asyncio.sleep(0)
        if not line.startswith("$"):
            return
        self.clean_sentences += 1
        if line.startswith("$GPGSV"):
            raise IndexError  # like as_GPS on a short GSV: must be counted, not kill the run
        self.parsed_sentences += 1
'''


def test_our_figures_without_as_gps(capsys):
    assert nmea_parser.main(["--repeat", "1"] + LOGS) == 0
    out = capsys.readouterr().out
    assert "as_GPS: not provided" in out and "firmware/core/nmea.py" in out


def test_counts_match_the_parser_and_the_stand_in(tmp_path):
    path = tmp_path / "as_GPS.py"
    path.write_text(STAND_IN)
    r = nmea_parser.run_bench(LOGS, str(path), repeat=1)
    data_lines = 0
    for log in LOGS:
        with open(log, "rb") as f:
            data_lines += sum(1 for ln in f if not ln.startswith(b"#") and ln.strip())
    assert r["lines"] == data_lines
    # our counters are those `alertbutton nmea --verbose` reports for the same bytes, log by log
    ok = 0
    for log in LOGS:
        _, c, _ = nmea_decode.run_vm(log, verbose=True)
        ok += c["ok"]
    assert r["ours"]["ok"] == ok and r["ours"]["errors"] == 0
    a = r["as_gps"]
    dollar = sum(1 for log in LOGS for ln in open(log, "rb") if ln.startswith(b"$"))
    gsv = sum(1 for log in LOGS for ln in open(log, "rb") if ln.startswith(b"$GPGSV"))
    assert a["clean"] == dollar and a["raised"] == gsv and a["parsed"] == dollar - gsv
    assert r["ours"]["us"] > 0 and a["us"] > 0 and r["pystones"] > 1000
    f = nmea_parser.figures(r)
    assert f["ours"]["esp32_ms_per_line"] > f["ours"]["vm_us_per_line"] / 1000  # the ESP32 is slower
    assert not os.path.exists(os.path.join(nmea_parser.REPO, "as_GPS.py"))
