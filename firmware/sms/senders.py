# Who sent an SMS: the contact slot a sender address belongs to, or nobody. Pure (no I/O).
#
# The network writes a sender's number as it likes: "+33612345601" (type of number 1, international),
# "0612345601" (national with its trunk 0), "612345601" (national without it) or "33612345601"
# (international digits with type of number 0, unknown). All are the same subscriber as the contact
# +33612345601, and each is tried through firmware.core.phone.normalize (the rules the technician's
# input goes through), never by comparing the last digits. Never a contact:
#  - an alphanumeric sender (type of number 5): anyone can write "0612345602" as a sender NAME;
#  - the other types of number (network specific, subscriber, abbreviated, reserved);
#  - a sender whose forms name two different contacts (it would be a guess);
#  - anything that is not digits (short codes and names with type of number 0 included).
from firmware.core import phone

TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_ALPHANUMERIC = 5


def _e164(s):
    try:
        return phone.normalize(s)
    except ValueError:
        return None


def is_digits(s):
    if not s:
        return False
    for ch in s:
        if ch < "0" or ch > "9":
            return False
    return True


def forms(sender, ton=None):
    """The E.164 numbers a sender address can mean (none, one, or two for bare digits). ton None: the
    type is read from the text ('+' international, digits unknown), for callers without the PDU."""
    if not isinstance(sender, str) or not sender:
        return ()
    if ton is None:
        ton = TON_INTERNATIONAL if sender[0] == "+" else TON_UNKNOWN
    if ton == TON_INTERNATIONAL:
        digits = sender[1:] if sender[0] == "+" else sender
        e = _e164("+" + digits) if is_digits(digits) else None
        return (e,) if e else ()
    if ton not in (TON_UNKNOWN, TON_NATIONAL) or not is_digits(sender):
        return ()
    if sender[0] == "0":  # "0612..." (national with its 0) or "0033..." (international prefix)
        e = _e164(sender)
        return (e,) if e else ()
    out = []
    for cand in ("+" + sender, "0" + sender):  # international digits without +, national without 0
        e = _e164(cand)
        if e and e not in out:
            out.append(e)
    return tuple(out)


def contact_of(contacts, sender, ton=None, limit=5):
    """(slot, why): slot in contacts (0-based) whose number is the sender's, or -1 with why
    ("alphanumeric", "not_a_number", "unknown", "ambiguous")."""
    if ton == TON_ALPHANUMERIC:
        return -1, "alphanumeric"
    fs = forms(sender, ton)
    if not fs:
        return -1, "not_a_number"
    found = -1
    for i, c in enumerate(contacts or ()):
        if i >= limit:
            break
        try:
            e = phone.normalize(c["number"])
        except (ValueError, KeyError, TypeError):
            continue
        if e in fs:
            if found >= 0 and _e164_of(contacts[found]) != e:
                return -1, "ambiguous"  # two contacts, two readings of the digits: never guess
            if found < 0:
                found = i
    return (found, None) if found >= 0 else (-1, "unknown")


def _e164_of(c):
    try:
        return phone.normalize(c["number"])
    except (ValueError, KeyError, TypeError):
        return None
