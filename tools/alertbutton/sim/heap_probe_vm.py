# Runs INSIDE the MicroPython VM, imported before boot.py and main.py when `alertbutton bench heap`
# profiles a simulated alert: where the heap goes. Nothing in the firmware changes; this module only
# watches it, through three hooks:
#   - builtins.__import__: the live heap (gc.collect() then gc.mem_alloc()) around every import that
#     loads a module. Each module's row is its OWN cost: the modules it imports in turn have their
#     own rows and are subtracted, so the rows add up and follow the firmware's own import order.
#   - __init__ of the big objects (WATCH): the heap each construction keeps, less the imports and
#     watched constructions made inside it.
#   - EventLog.__call__: the live heap at chosen events of the firmware's own log (MARKS).
# Output: "HEAP <kind> <name> <bytes> [<free>]" lines on stdout, which the simulator writes to
# firmware.log, each import's followed by micropython.qstr_info()'s line: the interned-name (qstr)
# table grows in blocks of doubling size, and the import that overflows it pays for the block (the
# table shows it). The probe's own bookkeeping is measured and charged to nobody.
import builtins
import gc
import micropython
import sys

_real_import = builtins.__import__
_acc = [0]  # per open measurement: what nested measurements took (theirs, not the caller's)
_seen = set()  # modules already given a row
_MARKS = ("boot", "button_armed", "modem_ready", "trigger", "dispatch_done", "evidence_done",
          "fall_during_alert", "fall_detected")
# module -> classes whose construction gets a row (only those the firmware builds once)
WATCH = {
    "boards.sim": ("Board",),
    "firmware.app": ("App",),
    "firmware.alert.manager": ("AlertManager",),
    "firmware.fall.monitor": ("FallMonitor",),
    "firmware.evidence.recorder": ("Recorder",),
    "firmware.evidence.audio_ring": ("AudioRing",),
    "firmware.console.commands": ("Console",),
    "firmware.sms.two_way": ("TwoWay",),
    "firmware.system.eventlog": ("EventLog",),
    "firmware.wearer.actions": ("WearerGestures",),
    "drivers.modem.simcom_a76xx": ("SimcomA76xx",),
    "drivers.inmp441": ("Inmp441",),
    "drivers.lis3dh": ("LIS3DH",),
}


def _live():
    gc.collect()
    return gc.mem_alloc()


def _emit(kind, name, n, free=None):
    if free is None:
        print("HEAP", kind, name, n)
    else:
        print("HEAP", kind, name, n, free)


def _loaded(name, fromlist):
    m = sys.modules.get(name)
    if m is None:
        return False
    if isinstance(fromlist, tuple):
        for f in fromlist:
            if not hasattr(m, f):
                return False
    return True


def _measured(fn, report):
    """Run fn() with the live heap measured around it; report(own_bytes) gets its own cost."""
    _acc.append(0)
    m0 = _live()
    try:
        return fn()
    finally:
        m1 = _live()
        nested = _acc.pop()
        report(m1 - m0 - nested)
        m2 = _live()  # the report's bookkeeping (a set entry, ...) is nobody's cost
        _acc[-1] += m2 - m0


def _import(name, globals=None, locals=None, fromlist=None, level=0):
    # a relative import (asyncio loads its submodules lazily, with globals=None) cannot be resolved
    # here: always measured, the new entries of sys.modules name it
    if not level and _loaded(name, fromlist):
        return _real_import(name, globals, locals, fromlist, level)
    before = set(sys.modules)

    def report(own):
        new = [k for k in sys.modules if k not in before and k not in _seen]
        for k in new:
            _seen.add(k)
            _watch(k)
        if new:
            _emit("import", "+".join(sorted(new)), own)
            micropython.qstr_info()  # "qstr pool: n_pool=..": tells a row that grew the name table

    return _measured(lambda: _real_import(name, globals, locals, fromlist, level), report)


def _watch(modname):
    if modname == "firmware.system.eventlog":
        _watch_log(sys.modules[modname])
    for cls_name in WATCH.get(modname, ()):
        cls = getattr(sys.modules[modname], cls_name, None)
        if cls is not None:
            _wrap(cls, modname.split(".")[-1] + "." + cls_name)


def _wrap(cls, label):
    orig = cls.__init__

    def init(self, *a, **k):
        _measured(lambda: orig(self, *a, **k), lambda own: _emit("build", label, own))

    cls.__init__ = init


def _watch_log(mod):
    orig = mod.EventLog.__call__

    def call(self, event, **fields):
        r = orig(self, event, **fields)
        if event in _MARKS:
            _emit("mark", event, _live(), gc.mem_free())
        return r

    mod.EventLog.__call__ = call


builtins.__import__ = _import
_emit("mark", "start", _live(), gc.mem_free())
