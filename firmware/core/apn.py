# The APN rule, shared by the platform settings check and the modem driver's dial().


def apn_ok(apn):
    """An APN that can go between quotes in AT+CGDCONT: 1..62 printable ASCII characters, no space,
    no quote (the config check and the modem driver's dial() both use it)."""
    if not isinstance(apn, str) or not 1 <= len(apn) <= 62:
        return False
    for ch in apn:
        if not 32 < ord(ch) < 127 or ch == '"':
            return False
    return True
