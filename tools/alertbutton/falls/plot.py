"""`alertbutton fall-plot FILE --png OUT`: one trial's acceleration magnitude over time with the
firmware fall detector's phases shaded, its impact and alarm instants marked.

The detector is the firmware module itself (firmware.fall.detector, run here in CPython: same code
as on the device). The PNG is drawn by a tiny pure-Python raster (zlib + struct), so no matplotlib.
"""
import struct
import sys
import zlib

from alertbutton.falls import mobifall

# phase -> background colour (light), same order as FallDetector.PHASE_NAMES
PHASE_COLOURS = {
    0: (255, 255, 255),  # idle
    1: (255, 226, 190),  # impact seen, waiting for the body to settle
    2: (205, 225, 255),  # checking posture change + stillness
    3: (255, 190, 190),  # fall confirmed (alarm hold-off)
}
BLACK = (0, 0, 0)
GREY = (170, 170, 170)
BLUE = (20, 60, 200)
RED = (210, 0, 0)
ORANGE = (230, 120, 0)
GREEN = (0, 140, 60)

# 3x5 bitmap font, rows top to bottom, 3 bits per row (MSB = left column)
_FONT = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 2, 2),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), ".": (0, 0, 0, 0, 2), "-": (0, 0, 7, 0, 0),
    " ": (0, 0, 0, 0, 0), ":": (0, 2, 0, 2, 0), "/": (1, 1, 2, 4, 4), "_": (0, 0, 0, 0, 7),
    "=": (0, 7, 0, 7, 0), "(": (1, 2, 2, 2, 1), ")": (4, 2, 2, 2, 4), "%": (5, 1, 2, 4, 5),
    "A": (2, 5, 7, 5, 5), "B": (6, 5, 6, 5, 6), "C": (7, 4, 4, 4, 7), "D": (6, 5, 5, 5, 6),
    "E": (7, 4, 6, 4, 7), "F": (7, 4, 6, 4, 4), "G": (7, 4, 5, 5, 7), "H": (5, 5, 7, 5, 5),
    "I": (7, 2, 2, 2, 7), "J": (1, 1, 1, 5, 7), "K": (5, 5, 6, 5, 5), "L": (4, 4, 4, 4, 7),
    "M": (5, 7, 7, 5, 5), "N": (6, 5, 5, 5, 5), "O": (7, 5, 5, 5, 7), "P": (7, 5, 7, 4, 4),
    "Q": (7, 5, 5, 7, 1), "R": (7, 5, 6, 5, 5), "S": (7, 4, 7, 1, 7), "T": (7, 2, 2, 2, 2),
    "U": (5, 5, 5, 5, 7), "V": (5, 5, 5, 5, 2), "W": (5, 5, 7, 7, 5), "X": (5, 5, 2, 5, 5),
    "Y": (5, 5, 2, 2, 2), "Z": (7, 1, 2, 4, 7),
}


class Canvas:
    """RGB raster with the few primitives a time-series plot needs."""

    def __init__(self, width, height, bg=(255, 255, 255)):
        self.w = width
        self.h = height
        self.px = bytearray(bytes(bg) * (width * height))

    def set(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        x0, x1 = max(0, min(x0, x1)), min(self.w - 1, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.h - 1, max(y0, y1))
        row = bytes(c) * (x1 - x0 + 1)
        for y in range(y0, y1 + 1):
            i = (y * self.w + x0) * 3
            self.px[i:i + len(row)] = row

    def line(self, x0, y0, x1, y1, c, thick=1):
        # Bresenham; thickness by drawing a small square at each point
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        r = thick // 2
        while True:
            if thick > 1:
                self.rect(x0 - r, y0 - r, x0 - r + thick - 1, y0 - r + thick - 1, c)
            else:
                self.set(x0, y0, c)
            if x0 == x1 and y0 == y1:
                break
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def dashed_hline(self, x0, x1, y, c, dash=6):
        for x in range(x0, x1 + 1):
            if (x - x0) // dash % 2 == 0:
                self.set(x, y, c)

    def text(self, x, y, s, c=BLACK, scale=2):
        for ch in s.upper():
            glyph = _FONT.get(ch, _FONT[" "])
            for row, bits in enumerate(glyph):
                for col in range(3):
                    if bits & (4 >> col):
                        self.rect(x + col * scale, y + row * scale,
                                  x + col * scale + scale - 1, y + row * scale + scale - 1, c)
            x += 4 * scale

    def png(self):
        def chunk(kind, data):
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

        stride = self.w * 3
        raw = b"".join(b"\x00" + bytes(self.px[y * stride:(y + 1) * stride]) for y in range(self.h))
        return (b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def trace(samples, rate_hz, **params):
    """Run the firmware detector over milli-g samples. Returns (magnitudes, phases, impacts,
    alarms, detector): impacts = sample indices of every examined impact peak, alarms = indices
    where EV_FALL was returned."""
    from alertbutton.falls.evaluate import detector_module
    fd = detector_module()
    det = fd.FallDetector(rate_hz=rate_hz, **params)
    mags, phases, impacts, alarms = [], [], [], []
    for i, (x, y, z) in enumerate(samples):
        ev = det.update(x, y, z)
        mags.append((x * x + y * y + z * z) ** 0.5)
        phases.append(det.phase)
        if ev == fd.EV_FALL or ev == fd.EV_REJECT:
            impacts.append(det.decided_n)
            if ev == fd.EV_FALL:
                alarms.append(i)
    return mags, phases, sorted(set(impacts)), alarms, det


def render(samples, rate_hz, title="", width=1000, height=420, **params):
    mags, phases, impacts, alarms, det = trace(samples, rate_hz, **params)
    cv = Canvas(width, height)
    left, right, top, bottom = 70, width - 15, 40, height - 45
    n = max(1, len(mags) - 1)
    ymax = max(3500, int(max(mags) / 500 + 1) * 500)

    def X(i):
        return left + (right - left) * i // n

    def Y(mg):
        return bottom - int((bottom - top) * min(mg, ymax) / ymax)

    # phase shading
    i = 0
    while i < len(phases):
        j = i
        while j + 1 < len(phases) and phases[j + 1] == phases[i]:
            j += 1
        if phases[i]:
            cv.rect(X(i), top, X(j + 1), bottom, PHASE_COLOURS.get(phases[i], GREY))
        i = j + 1
    # grid: every 500 mg and every second
    for mg in range(0, ymax + 1, 500):
        cv.dashed_hline(left, right, Y(mg), GREY, 3)
        cv.text(8, Y(mg) - 5, "%.1f" % (mg / 1000.0), BLACK, 2)
    secs = len(mags) / rate_hz
    step = 1 if secs <= 20 else (5 if secs <= 120 else 30)
    for s in range(0, int(secs) + 1, step):
        x = X(int(s * rate_hz))
        for y in range(bottom, bottom + 6):
            cv.set(x, y, BLACK)
        cv.text(x - 4, bottom + 10, str(s), BLACK, 2)
    cv.text(right - 150, bottom + 26, "TIME (S)", BLACK, 2)
    cv.text(8, top - 30, "G", BLACK, 2)
    # detector thresholds: trigger, minimum peak, 1 g
    cv.dashed_hline(left, right, Y(det.trigger_mg), ORANGE, 8)
    cv.dashed_hline(left, right, Y(det.peak_mg), RED, 8)
    cv.dashed_hline(left, right, Y(1000), GREEN, 8)
    # magnitude trace
    prev = None
    for i, m in enumerate(mags):
        p = (X(i), Y(m))
        if prev:
            cv.line(prev[0], prev[1], p[0], p[1], BLUE)
        prev = p
    for i in impacts:  # every impact peak the detector examined
        cv.line(X(i), top, X(i), bottom, ORANGE, 2)
    for i in alarms:
        cv.line(X(i), top, X(i), bottom, RED, 3)
    # frame + title + legend
    cv.line(left, top, right, top, BLACK)
    cv.line(left, bottom, right, bottom, BLACK)
    cv.line(left, top, left, bottom, BLACK)
    cv.line(right, top, right, bottom, BLACK)
    cv.text(left, 10, title, BLACK, 3)
    lx = left + 420
    for name, col in (("PEAK", ORANGE), ("ALARM", RED)):
        cv.rect(lx, 12, lx + 14, 24, col)
        cv.text(lx + 20, 13, name, BLACK, 2)
        lx += 20 + 8 * len(name) + 18
    for ph in (1, 2, 3):
        cv.rect(lx, 12, lx + 14, 24, PHASE_COLOURS[ph])
        cv.text(lx + 20, 13, det.PHASE_NAMES[ph], BLACK, 2)
        lx += 20 + 8 * len(det.PHASE_NAMES[ph]) + 18
    return cv.png(), impacts, alarms


def add_arguments(p):
    p.add_argument("file", help="a MobiFall accelerometer file (*_acc_*.txt)")
    p.add_argument("--png", required=True, help="output PNG path")
    p.add_argument("--rate", type=int, default=50, help="device sample rate in Hz (default 50)")
    p.add_argument("--width", type=int, default=1000)
    p.add_argument("--height", type=int, default=420)


def run(args):
    samples = mobifall.load_mg(args.file, args.rate)
    parsed = mobifall.parse_name(args.file)
    title = "%s S%d T%d" % parsed if parsed else ""
    data, impacts, alarms = render(samples, args.rate, title, args.width, args.height)
    with open(args.png, "wb") as f:
        f.write(data)
    sys.stderr.write("%s: %d samples at %d Hz, impacts at %s s, alarms at %s s\n" % (
        args.png, len(samples), args.rate,
        [round(i / args.rate, 2) for i in impacts], [round(i / args.rate, 2) for i in alarms]))
    return 0
