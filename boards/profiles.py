# Modem driver per dialect: a board profile (or the simulated board's wiring, "dialect") names its
# modem and gets the driver class here. Imported on demand: the device loads only its own driver.
DRIVERS = {
    "a76xx": ("drivers.modem.simcom_a76xx", "SimcomA76xx"),  # A7670E reference board
    "sim7600": ("drivers.modem.simcom_sim7600", "SimcomSim7600"),
    "sim7080": ("drivers.modem.simcom_sim7080", "SimcomSim7080"),  # GNSS and LTE exclusive
    "bg95": ("drivers.modem.quectel_bg95", "QuectelBG95"),
}


def modem_class(dialect="a76xx"):
    """The driver class for a dialect name; ValueError for an unknown one (a typo in a board profile
    must stop the build test, never fall back to another modem's commands)."""
    try:
        mod, cls = DRIVERS[dialect]
    except KeyError:
        raise ValueError("unknown modem dialect %r (known: %s)" % (dialect, ", ".join(sorted(DRIVERS))))
    return getattr(__import__(mod, None, None, [cls]), cls)
