# The modem's error types, shared by the modem drivers (which raise them) and the device logic (which
# decides what a failure means for an alert) without the logic importing a driver.

class AtTimeout(Exception):
    pass


class AtReleased(AtTimeout):
    """The UART belonged to PPP (data mode) for the whole timeout: the command was never sent."""


class AtError(Exception):
    """The modem answered a command with an error final result code."""

    def __init__(self, final):
        super().__init__(final)
        self.final = final

    def code(self):
        """Numeric part of +CMS ERROR / +CME ERROR (verbose texts give -1), or -1."""
        f = self.final
        i = f.find(b":")
        if i < 0:
            return -1
        try:
            return int(f[i + 1:].strip())
        except ValueError:
            return -1


# +CMS ERROR codes that mean this destination or message will never succeed (24.011 E.2 causes:
# unassigned number, operator barring, call barred, transfer rejected, unidentified/unknown subscriber,
# facility rejected/not subscribed, invalid mandatory information; 27.005: invalid PDU parameter).
# Anything else is retried: wrongly giving up on a contact is worse than one retry too many.
PERMANENT_CMS = (1, 8, 10, 21, 28, 29, 30, 50, 96, 97, 304)


class SmsError(Exception):
    def __init__(self, reason, code=-1, transient=True):
        super().__init__(reason, code)
        self.reason = reason
        self.code = code
        self.transient = transient
