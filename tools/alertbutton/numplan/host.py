"""The host's check of a contact number with phonenumbers (Google libphonenumber): the same acceptance
as the device's generated rules (firmware/core/numplan.py), decided by the library itself.

Accepted: a valid number of a served region (firmware/core/numplan.REGIONS) of type mobile, or in the
French numbering zone (numplan.ZONE) also fixed line or VoIP. National numbers (0 + 9 digits) are read
as French, else as the first overseas region of the zone where they are valid.
"""
import phonenumbers

from alertbutton import fwimport  # noqa: F401  (firmware modules importable in CPython)
from firmware.core import numplan

T = phonenumbers.PhoneNumberType
KINDS = {T.MOBILE: "mobile", T.FIXED_LINE: "landline", T.VOIP: "VoIP", T.FIXED_LINE_OR_MOBILE: "mobile"}


def classify(e164):
    """(region, country name, kind, written form) as phonenumbers sees an E.164 number, when the button
    accepts it; None otherwise."""
    try:
        n = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    region = phonenumbers.region_code_for_number(n)
    if region not in numplan.REGIONS:
        return None
    kind = KINDS.get(phonenumbers.number_type(n))
    if kind is None or (region not in numplan.ZONE and kind != "mobile"):
        return None
    return (region, numplan.REGIONS[region][1], kind,
            phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def national(raw):
    """E.164 of a national number of the French zone (digits only, 0 + 9), or None."""
    for region in numplan.ZONE:
        try:
            n = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_valid_number(n):
            e164 = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
            if classify(e164):
                return e164
    return None


def check(e164):
    """ValueError unless phonenumbers accepts what the button's rules accepted (they are generated from
    the same metadata; a difference means firmware/core/numplan.py must be regenerated)."""
    if classify(e164) is None:
        raise ValueError("%s: phonenumbers %s does not accept this number although the button's rules do: "
                         "regenerate firmware/core/numplan.py (python -m alertbutton.numplan.generate)"
                         % (e164, phonenumbers.__version__))
    return e164


def national_form(e164):
    """'06 12 34 56 01' (the number as written inside its own country), or None when phonenumbers does
    not read it: what the web page shows beside the country."""
    try:
        n = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.NATIONAL)


def country_names(e164):
    """{'fr': 'La Réunion', 'en': 'Reunion'}: the country of a number the button accepts, in the page's
    two languages: English as the CLI and the button say it (firmware/core/numplan.REGIONS), French from
    phonenumbers' locale data for the same region; None when phonenumbers does not accept the number."""
    from phonenumbers import geocoder
    info = classify(e164)
    if info is None:
        return None
    # country_name_for_number says nothing for a code several regions share (+590, +39): the region's
    # own name is read where that function reads it
    fr = geocoder.country_name_for_number(phonenumbers.parse(e164), "fr") or geocoder._region_display_name(info[0], "fr")
    return {"fr": fr or info[1], "en": info[1]}
