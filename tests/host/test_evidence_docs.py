"""docs/evidence.md describes the evidence formats to the byte: its tables of offsets and widths must be
those of the struct formats the code reads and writes (the chunk codec the firmware uses, the host's
sealed-file and signed-head readers), and the block count it states must be the recorder's."""
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from alertbutton import vm  # noqa: E402
from alertbutton.evidence import anchors  # noqa: E402
from firmware.core import evidence_chunk as C  # noqa: E402
from firmware.core import evidence_seal  # noqa: E402

DOC = open(os.path.join(vm.REPO, "docs", "evidence.md"), encoding="utf-8").read()


def layout(fmt):
    """[(offset, width)] of each field of a little-endian struct format."""
    out, off = [], 0
    for count, code in re.findall(r"(\d*)([a-zA-Z])", fmt.lstrip("<")):
        w = struct.calcsize("<" + (count or "") + code)
        out.append((off, w))
        off += w
    return out


def table_after(title, first_col_header):
    """[(offset, width)] of the first table with that header after the heading `title`."""
    i = DOC.index(title)
    j = DOC.index("| " + first_col_header, i)
    rows = []
    for line in DOC[j:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append((int(cells[0]), int(cells[1])))
    return rows


def test_chunk_header_and_trailer_tables_are_the_codec_s():
    assert table_after("### Plaintext chunk", "offset | width | type | field") == layout(C.HEADER_FMT)
    assert table_after("### Plaintext chunk", "offset | width | type | trailer field") == layout(C.TRAILER_FMT)
    assert struct.calcsize(C.HEADER_FMT) == 100 and struct.calcsize(C.TRAILER_FMT) == 16


def test_envelope_and_signed_head_tables_are_the_readers():
    assert table_after("### Sealed chunk file", "offset | width | type | envelope field") == layout(evidence_seal.ENVELOPE_FMT)
    signed = table_after("### Signed head record", "offset | width | type | field")
    assert signed == layout(anchors.HEAD_FMT) + [(56, 64)]


def test_flag_bits_and_block_count_are_the_code_s():
    for name, bit in (("PREALERT", C.H_PREALERT), ("TIME", C.H_TIME), ("POSITION", C.H_POS),
                      ("MIC_WARMUP", C.H_MIC_WARMUP)):
        assert re.search(r"bit\s+%d\s+\(0x%02X\)\s+%s" % (bit.bit_length() - 1, bit, name), DOC, re.I), name
    for name, bit in (("FINAL", C.T_FINAL), ("INTERRUPTED", C.T_INTERRUPTED), ("GAP", C.T_GAP),
                      ("FLASH_FULL", C.T_FLASH_FULL)):
        assert re.search(r"bit\s+%d\s+\(0x%02X\)\s+%s" % (bit.bit_length() - 1, bit, name), DOC, re.I), name
    p = vm.run(code="from firmware.evidence.audio_ring import blocks_for\nprint(blocks_for(10, 8000))", timeout=60)
    n = int(p.stdout.split()[-1])  # the recorder's own count, computed in the MicroPython VM
    assert n == 159 and "has %d blocks: 116 + %d × 256 = 40,820 bytes" % (n, n) in DOC
    assert "158 blocks" not in DOC
