# The alert gesture from deep sleep (issue 8). The press that woke the MCU (ext0 on the button's RTC
# GPIO) happened before MicroPython ran: no interrupt saw it. At boot, before the button task drains
# its first edge, the recogniser gets a synthetic press dated at the wake, so that press still counts
# toward "3 presses within 2.5 s" (or starts a hold).
#
# What is known at that point: the wake time (ticks ~0 on the ESP32: the clock restarts at boot), the
# button level now, and the edges the ISR stored since the board armed it. So:
#  - no stored edge, button up: released before the ISR was armed -> a tap, released WAKE_TAP_MS after
#    the wake (a tap of the alert gesture, whose taps must last 100-400 ms; an unseen release can
#    never make a hold);
#  - no stored edge, button down: still held -> a hold runs from the wake;
#  - the first stored edge is a press: the release fell before arming -> a synthetic release first;
#  - the first stored edge is a release: the real one, fed as is.
# Presses that start and end before the ISR is armed (other than the waking one) are lost: the time
# from wake to armed must stay short (target <= 1 s, "button_armed" in the event log).
from time import ticks_add, ticks_diff

from firmware.wearer.gestures import SETTLE_MS

WAKE_BUTTON = "button"
WAKE_TAP_MS = 150  # the assumed length of a waking press released before the ISR was armed


def woke_by_button(reset_cause, wake_reason):
    """True if this boot is a deep-sleep wake by the button (ext0). Reset cause first: a wake reason
    left over from an earlier sleep means nothing after a power-on or a watchdog reset."""
    return reset_cause == "deepsleep" and wake_reason == WAKE_BUTTON


def feed_wake_press(logic, edges, t_wake):
    """Give `logic` (gestures.ButtonLogic) the waking press at t_wake, then every edge the ISR
    stored (`edges`: drivers.button.ButtonEdges, drained here before the button task runs).
    Returns (pressed_now, stored_edges)."""
    logic.edge(t_wake, True)
    logic.poll(ticks_add(t_wake, SETTLE_MS))  # the press is accepted, dated t_wake
    # it began before the clock started (the boot from deep sleep takes tens to hundreds of ms): a
    # firm tap would read shorter than min_press_ms and the alert gesture would be lost
    logic.waive_min_press()
    t = ticks_add(t_wake, WAKE_TAP_MS)
    stored = []
    edges.drain(lambda tk, p, busy=False: stored.append((tk, p, busy)))
    down = edges.is_pressed()
    if not stored:
        if not down:
            _release(logic, t)
        return down, 0
    if stored[0][1]:  # a new press: its release before it was missed
        t_rel = t
        if ticks_diff(stored[0][0], ticks_add(t_rel, 2 * SETTLE_MS)) < 0:
            t_rel = ticks_add(stored[0][0], -2 * SETTLE_MS)  # keep it a separate, settled burst
        _release(logic, t_rel)
    for tk, p, busy in stored:
        logic.edge(tk, p, busy)  # settles what the live task would have before this edge came
    return down, len(stored)


def _release(logic, t):
    logic.edge(t, False)
    logic.poll(ticks_add(t, SETTLE_MS))
