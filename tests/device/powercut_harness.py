# Power cuts during configuration changes, inside the MicroPython VM, on the real LittleFS driver
# (os.VfsLfs2) over a RAM flash whose power can be cut at any block operation.
#
# For each change of a history of configuration changes, a dry run counts the flash operations the
# change makes (block programs and block erases). Then, for N = 1 .. that count, the same change is
# replayed from the same flash image with the power cut at operation N: the Nth operation is done
# partly (nothing, half, or all of it, the three "modes") and it and every later operation fail, as
# when the supply collapses. The flash is then mounted again from what it holds, as after a reboot,
# and the configuration is loaded the way the firmware boots. The result must be the configuration
# before the change ("old") or after it ("new"); "empty", "corrupt" or an unmountable filesystem
# are failures.
#
# Run: alertbutton powercut [--rounds R] (prints the figures); tests/device/test_powercut_config.py
# runs a smaller history in CI and a negative control (a naive writer that flushes mid-write and
# keeps no CRC nor backup must be caught by the same harness).
import json
import os

from firmware.settings import config as settings
from firmware.settings.config_store import RecordFile

MOUNT = "/pc"
BLOCK = 512
BLOCKS = 64
_EIO = -5


class RamFlash:
    """A NOR-like flash: erase sets a block to 0xFF, program can only clear bits."""

    def __init__(self, image=None):
        self.data = bytearray(image) if image is not None else bytearray(b"\xff" * (BLOCK * BLOCKS))
        self.ops = 0
        self.cut_at = 0  # 0: never
        self.mode = 0  # at the cut: 0 nothing done, 1 half done, 2 all done (but reported failed)
        self.dead = False

    def readblocks(self, n, buf, off=0):
        a = n * BLOCK + off
        buf[:] = self.data[a:a + len(buf)]

    def _power(self):
        """True to do the operation, None to do part of it (the cut), False when already off."""
        if self.dead:
            return False
        self.ops += 1
        if self.cut_at and self.ops >= self.cut_at:
            self.dead = True
            return None
        return True

    def _part(self, n):
        return (0, n // 2, n)[self.mode]

    def writeblocks(self, n, buf, off=0):
        p = self._power()
        if p is False:
            return _EIO
        a = n * BLOCK + off
        ln = len(buf) if p else self._part(len(buf))
        d = self.data
        for i in range(ln):
            d[a + i] &= buf[i]
        return 0 if p else _EIO

    def ioctl(self, op, arg):
        if op == 4:
            return BLOCKS
        if op == 5:
            return BLOCK
        if op == 6:
            p = self._power()
            if p is False:
                return _EIO
            ln = BLOCK if p else self._part(BLOCK)
            a = arg * BLOCK
            self.data[a:a + ln] = b"\xff" * ln
            return 0 if p else _EIO
        return 0


def mount(flash):
    try:
        os.umount(MOUNT)
    except OSError:
        pass
    os.mount(os.VfsLfs2(flash), MOUNT)


def unmount():
    try:
        os.umount(MOUNT)
    except OSError:
        pass


def fresh_image():
    f = RamFlash()
    os.VfsLfs2.mkfs(f)
    return bytes(f.data)


# --- the configuration under test --------------------------------------------------------------------

class RecordConfig:
    """The firmware's way: settings + config_store on the mounted filesystem."""
    name = "record"

    def rec(self):
        return RecordFile(MOUNT + "/" + settings.PATH, settings.MAGIC)

    def load(self):
        return settings.load(self.rec(), legacy=MOUNT + "/" + settings.LEGACY_PATH)

    def save(self, cfg):
        r = self.rec()
        r.read()  # sequence number, as the firmware's single store instance knows it
        keep = not cfg.pop("_factory", False)
        settings.save(cfg, r, keep_backup=keep)

    def snapshot(self, cfg):
        return json.loads(json.dumps(settings.to_payload(cfg)))  # compared with == (dicts are unordered)


class NaiveConfig:
    """Negative control: one JSON file rewritten in place, flushed half way, no CRC, no backup."""
    name = "naive"
    path = MOUNT + "/naive.json"

    def load(self):
        try:
            with open(self.path) as f:
                d = json.load(f)
        except (OSError, ValueError):
            d = {}
        cfg = settings.from_payload(settings.migrate(1, d) if "slots" not in d else d)
        cfg["config_source"] = "main" if d else "none"
        return cfg

    def save(self, cfg):
        cfg.pop("_factory", None)
        data = json.dumps(settings.to_payload(cfg))
        with open(self.path, "w") as f:
            f.write(data[:len(data) // 2])
            f.flush()
            f.write(data[len(data) // 2:])

    def snapshot(self, cfg):
        return json.loads(json.dumps(settings.to_payload(cfg)))  # compared with == (dicts are unordered)


# --- the history of changes ----------------------------------------------------------------------------

LEGACY = {"wearer": "Camille", "lang": "fr", "contacts": [
    {"name": "Sophie", "number": "+33612345601"}, {"name": "Karim", "number": "06 12 34 56 02"},
    {"name": "Association", "number": "+33612345603"}, {"name": "Julie", "number": "+33752345604"},
    {"name": "Nadia", "number": "0612345605"}], "alert_active_s": 3600}


def _pin(cfg, round_no):
    cfg["pin"] = {"salt": "%08d" % round_no, "hash": "ab" * 32}


def _factory_reset(cfg):
    settings.reset(cfg)
    cfg["_factory"] = True  # tells RecordConfig.save to drop the last good copy, as the console does


def changes(round_no):
    """(label, fn(cfg)) of one round; each round differs so the files keep changing."""
    r = str(round_no)
    return [
        ("contact", lambda c: settings.set_contact(c, 2, "+336123459%02d" % (round_no % 100), "Karim " + r)),
        ("wearer", lambda c: settings.set_wearer(c, "Camille-Marie " + r)),
        ("pin", lambda c: _pin(c, round_no)),
        # a map the default arming gesture (hold, then 2 taps) can sit beside: no alert hold, and a max press
        ("gesture", lambda c: settings.set_gestures(c, "alert", [
            {"action": "alert", "presses": 3 + round_no % 3, "within_ms": 2500, "max_press_ms": 400}])),
        ("lang", lambda c: settings.set_lang(c, "en" if round_no % 2 == 0 else "fr")),
        ("clear", lambda c: settings.clear_contact(c, 5)),
        ("import", lambda c: settings.apply_import(c, settings.check_import({
            "wearer": "Import " + r, "contacts": [{"slot": i, "name": "Contact %d %s" % (i, r),
                                                  "number": "+3375000000%d" % i} for i in range(1, 6)]}))),
        ("factory-reset", _factory_reset),
        ("after-reset", lambda c: settings.set_contact(c, 1, "+33612345601", "Sophie")),
    ]


def setup_legacy(store):
    """A device as firmware 0.1.0 left it: config.json only; returns the image after the first boot."""
    f = RamFlash(fresh_image())
    mount(f)
    if store.name == "record":
        with open(MOUNT + "/" + settings.LEGACY_PATH, "w") as fh:
            fh.write(json.dumps(LEGACY))
        store.load()  # the first boot migrates it to the record
    else:
        store.save(settings.from_payload(settings.migrate(1, LEGACY)))
    unmount()
    return bytes(f.data)


def classify(store, image, old, new):
    """Mount what the flash holds after the cut and load as at boot."""
    f = RamFlash(image)
    try:
        mount(f)
    except OSError:
        return "unmountable"
    try:
        cfg = store.load()
    finally:
        unmount()
    snap = store.snapshot(cfg)
    if snap == old:
        return "old"
    if snap == new:
        return "new"
    if not cfg["contacts"]:
        return "empty"
    return "corrupt"


def run_change(store, image, fn, modes, counts, first_boot=False):
    """All cut points of one change from image; returns the image after the change completed."""
    f = RamFlash(image)
    mount(f)
    start = f.ops
    cfg = store.load()
    if first_boot:  # the change is the load itself (migration): old and new hold the same settings
        old = new = store.snapshot(cfg)
    else:
        old = store.snapshot(cfg)
        start = f.ops
        fn(cfg)
        store.save(cfg)
        new = store.snapshot(store.load())
    total = f.ops - start
    unmount()
    after = bytes(f.data)
    for n in range(1, total + 1):
        for mode in modes:
            g = RamFlash(image)
            mount(g)
            try:
                if first_boot:
                    g.cut_at = g.ops + n
                    g.mode = mode
                c = store.load()
                if not first_boot:
                    g.cut_at = g.ops + n
                    g.mode = mode
                    fn(c)
                    store.save(c)
            except OSError:
                pass  # the cut: the write fails as the supply collapses
            unmount()
            res = classify(store, g.data, old, new)
            counts[res] = counts.get(res, 0) + 1
            counts["cuts"] = counts.get("cuts", 0) + 1
            if res not in ("old", "new"):
                counts.setdefault("bad", []).append("%s op %d/%d mode %d" % (counts.get("label"), n, total, mode))
    return after, total


def run(rounds=1, modes=(0, 1, 2), store=None):
    """Counts of results over the whole history: {"cuts", "old", "new", "empty", "corrupt", ...}."""
    store = store or RecordConfig()
    counts = {"changes": 0, "ops": 0}
    if store.name == "record":
        # the first boot's migration of a 0.1.0 config.json is a write too: cut it as well
        f = RamFlash(fresh_image())
        mount(f)
        with open(MOUNT + "/" + settings.LEGACY_PATH, "w") as fh:
            fh.write(json.dumps(LEGACY))
        unmount()
        counts["label"] = "migration"
        _img, ops = run_change(store, bytes(f.data), None, modes, counts, first_boot=True)
        counts["changes"] += 1
        counts["ops"] += ops
    image = setup_legacy(store)
    for rnd in range(rounds):
        for label, fn in changes(rnd):
            counts["label"] = label
            image, ops = run_change(store, image, fn, modes, counts)
            counts["changes"] += 1
            counts["ops"] += ops
    counts.pop("label", None)
    return counts


def report(counts):
    return ("%d changes, %d flash operations, %d power cuts tried: %d old, %d new, %d empty, %d corrupt, "
            "%d unmountable" % (counts["changes"], counts["ops"], counts.get("cuts", 0), counts.get("old", 0),
                                counts.get("new", 0), counts.get("empty", 0), counts.get("corrupt", 0),
                                counts.get("unmountable", 0)))


if __name__ == "__main__":
    import sys
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    c = run(rounds)
    print(report(c))
    for b in c.get("bad", [])[:20]:
        print("  failure:", b)
    n = run(1, store=NaiveConfig())
    print("negative control (naive writer): " + report(n))
