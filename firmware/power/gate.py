# Whether a boot needs the power modules at all (issue 8: firmware/power/task.py, power.py,
# modem_power.py, boot_wake.py; ~20 KB of heap together). Low power is on as shipped (issue 22); with
# "power": {"low_power": false} (and no accounting), after any boot but a deep-sleep wake, none of them
# is loaded (issue 17: the heap a board without PSRAM has). Kept apart so that App can ask without
# importing them.


def wanted(cfg, board):
    """True if power_task.start() has anything to do: the settings turn the power task on, or this
    boot is a deep-sleep wake (whose waking press must reach the gesture recogniser)."""
    if not hasattr(board, "power_hw"):
        return False
    return enabled(cfg) or board.reset_cause() == "deepsleep"


def enabled(cfg):
    """The power task runs (issue 22: low power is on as shipped) unless the settings' "power" section
    turns low power off without asking for the accounting alone."""
    p = cfg.get("power")
    if p is None:
        return True
    return not isinstance(p, dict) or p.get("low_power") is not False or bool(p.get("accounting"))
