# Optional features that fail while the App is built must not stop the boot (the button, the alert
# and the watchdog come after them): App._make_fall_monitor and App._make_gnss on fake boards.
from firmware.app import App


class _Accel:
    rate_hz = 50


class _Board:
    def __init__(self, accel=None, gnss_error=None):
        self._accel = accel
        self._gnss_error = gnss_error

    def make_accel(self):
        return self._accel

    def make_gnss(self, log):
        raise self._gnss_error


class _Host:  # the attributes the factories read on an App
    def __init__(self, board, **cfg):
        self.board = board
        self.cfg = {"fall_detection": True}
        self.cfg.update(cfg)
        self.events = []
        self.log = lambda ev, **kw: self.events.append(ev)
        self.alert = None
        self.vibrator = None
        self.modem = "modem"


def test_a_fall_monitor_that_cannot_start_only_disables_fall_detection():
    ok = _Host(_Board(_Accel()))
    assert App._make_fall_monitor(ok) is not None and ok.events == []
    bad = _Host(_Board(_Accel()), fall_cancel_s="thirty")  # a damaged setting: int() raises
    assert App._make_fall_monitor(bad) is None
    assert bad.events == ["fall_detection_unavailable"]
    odd = _Host(_Board(object()))  # an accelerometer object without rate_hz
    assert App._make_fall_monitor(odd) is None and odd.events == ["fall_detection_unavailable"]


def test_a_gnss_receiver_that_cannot_start_leaves_the_modem_gnss():
    for err in (OSError(19), ValueError("pins"), TypeError("bad profile"), AttributeError("uart")):
        h = _Host(_Board(gnss_error=err))
        assert App._make_gnss(h) == "modem" and h.events == ["gnss_receiver_missing"]
