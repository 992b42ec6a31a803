# Whether a boot needs the power modules at all (issue 8: firmware/power/task.py, power.py,
# modem_power.py, boot_wake.py; ~20 KB of heap together). The default firmware never sleeps: without a
# "power" section asking for low power or accounting, and after any boot but a deep-sleep wake, none
# of them is loaded (issue 17: the heap a board without PSRAM has). Kept apart so that App can ask
# without importing them.


def wanted(cfg, board):
    """True if power_task.start() has anything to do: the settings turn the power task on, or this
    boot is a deep-sleep wake (whose waking press must reach the gesture recogniser)."""
    if not hasattr(board, "power_hw"):
        return False
    return enabled(cfg) or board.reset_cause() == "deepsleep"


def enabled(cfg):
    """The settings' "power" section asks for the power task (low power, or only its accounting)."""
    p = cfg.get("power")
    return isinstance(p, dict) and bool(p.get("low_power") or p.get("accounting"))
