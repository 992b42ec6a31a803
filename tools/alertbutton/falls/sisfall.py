"""SisFall reader (host side): lists trials, unpacks the per-subject archives into a cache outside
the repository and reads either accelerometer in integer milli-g at the device's rate.

Layout of the shared copy: ROOT/<SUBJECT>.tar.xz (SA01..SA23 young adults, SE01..SE15 elderly), each
holding <SUBJECT>/<CODE>_<SUBJECT>_R<NN>.txt, falls F01-F15, activities D01-D19. That copy is the
original decimated to 50 Hz (every 4th line, no filter) with the two accelerometers only, one line
"ax,ay,az,bx,by,bz;" in raw counts: a = ADXL345 (+-16 g, 3.90625 mg per count), b = MMA8451Q (+-8 g,
0.9765625 mg per count). An already unpacked tree (ROOT/<SUBJECT>/*.txt) is read as it is.
Waist-worn (a belt). Subject SA15's D17 trials are named D17_SE15_R0n.txt (an error of the original):
the subject is the folder's. (Sucerquia, Lopez, Vargas-Bonilla, Sensors 17(1):198, 2017.)
"""
import os
import re
import tarfile

SENSORS = {"adxl345": 3.90625, "mma8451q": 0.9765625}  # mg per count
SENSOR_ALIASES = {"adxl": "adxl345", "adxl345": "adxl345", "a": "adxl345",
                  "mma": "mma8451q", "mma8451q": "mma8451q", "b": "mma8451q"}
SOURCE_HZ = 50
DEFAULT_SENSOR = "mma8451q"  # +-8 g like the device's LIS3DH; adxl345 is the harder one (gain off)
FALL_CODES = tuple("F%02d" % k for k in range(1, 16))
ADL_CODES = tuple("D%02d" % k for k in range(1, 20))
_NAME = re.compile(r"^([DF]\d\d)_(S[AE]\d\d)_R(\d\d)\.txt$")
_SUBJECT = re.compile(r"^(S[AE]\d\d)(\.tar\.xz)?$")


def cache_dir():
    """Where archives are unpacked: $ALERTBUTTON_CACHE/sisfall or ~/.cache/alertbutton/sisfall (never
    inside the repository)."""
    base = os.environ.get("ALERTBUTTON_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "alertbutton")
    return os.path.join(base, "sisfall")


def sensor_name(name):
    try:
        return SENSOR_ALIASES[name.lower()]
    except KeyError:
        raise ValueError("SisFall sensor must be one of adxl345 (adxl), mma8451q (mma), got %r" % name)


def is_subject(name):
    return bool(_SUBJECT.match(name)) and not name.endswith(".tar.xz")


def is_layout(root):
    """True if root looks like a SisFall folder (subject archives or subject folders)."""
    if not os.path.isdir(root):
        return False
    return any(_SUBJECT.match(n) for n in os.listdir(root))


class Trial:
    """One SisFall recording of one sensor: path, subject ('SA01'), code ('F05'), trial number."""

    dataset = "SisFall"

    def __init__(self, path, subject, code, trial, sensor):
        self.path = path
        self.subject = subject
        self.code = code
        self.trial = trial
        self.sensor = sensor
        self.is_fall = code in FALL_CODES
        self.name = "%s_%s_R%02d" % (code, subject, trial)

    def __repr__(self):
        return "Trial(%s %s #%d %s)" % (self.code, self.subject, self.trial, self.sensor)


def _unpacked(root, subject):
    """Folder holding subject's .txt files: ROOT/SUBJECT if it exists, else the archive unpacked into
    the cache (once; a marker file says the unpacking finished)."""
    d = os.path.join(root, subject)
    if os.path.isdir(d):
        return d
    arch = os.path.join(root, subject + ".tar.xz")
    dest = os.path.join(cache_dir(), subject)
    mark = os.path.join(dest, ".unpacked")
    st = os.stat(arch)
    stamp = "%d %d" % (st.st_size, int(st.st_mtime))
    if os.path.exists(mark):
        with open(mark) as f:
            if f.read() == stamp:
                return dest
    os.makedirs(cache_dir(), exist_ok=True)
    with tarfile.open(arch, "r:xz") as tf:
        for m in tf.getmembers():
            base = os.path.basename(m.name)
            if not m.isfile() or not base.endswith(".txt") or os.path.dirname(m.name).strip("/") != subject:
                continue  # only SUBJECT/<file>.txt: nothing is written outside dest
            os.makedirs(dest, exist_ok=True)
            src = tf.extractfile(m)
            with open(os.path.join(dest, base), "wb") as out:
                out.write(src.read())
    with open(mark, "w") as f:
        f.write(stamp)
    return dest


def subjects_in(root):
    return sorted(set(_SUBJECT.match(n).group(1) for n in os.listdir(root) if _SUBJECT.match(n)))


def list_trials(root, subjects=None, codes=None, sensor=DEFAULT_SENSOR):
    """Every trial of the selected subjects (all found if None), sorted; unpacks archives as needed."""
    sensor = sensor_name(sensor)
    out = []
    for subject in subjects_in(root):
        if subjects is not None and subject not in subjects:
            continue
        d = _unpacked(root, subject)
        for fn in sorted(os.listdir(d)):
            m = _NAME.match(fn)
            if not m:
                continue
            code, _named, trial = m.group(1), m.group(2), int(m.group(3))
            if codes is not None and code not in codes:
                continue
            out.append(Trial(os.path.join(d, fn), subject, code, trial, sensor))
    out.sort(key=lambda t: (t.subject, not t.is_fall, t.code, t.trial))
    return out


def read_counts(path):
    """[(ax, ay, az, bx, by, bz)] raw counts of one file."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip().rstrip(";")
            if not line:
                continue
            parts = line.split(",")
            if len(parts) < 6:
                continue
            try:
                rows.append(tuple(int(p) for p in parts[:6]))
            except ValueError:
                continue
    if not rows:
        raise ValueError("no samples in %s" % path)
    return rows


def load_mg(trial, rate_hz=50):
    """The trial's sensor in integer milli-g at rate_hz (50: as stored; other rates by linear
    interpolation of the 50 Hz samples)."""
    rows = read_counts(trial.path)
    k = SENSORS[trial.sensor]
    c0 = 0 if trial.sensor == "adxl345" else 3
    cols = [[r[c0 + c] * k for r in rows] for c in range(3)]
    if rate_hz != SOURCE_HZ:
        from alertbutton.falls.mobifall import resample
        t = [i / float(SOURCE_HZ) for i in range(len(rows))]
        cols = resample(t, cols, rate_hz)
    return [(int(round(x)), int(round(y)), int(round(z))) for x, y, z in zip(*cols)]
