# Notices to the contacts that are not the alert itself: the follow-ups paused by a low battery, the
# end of the follow-ups at the alert's time limit. Each has its own words (never the alert's: a
# contact must never read "she pressed her alert button" for something else) and always fits one
# GSM-7 segment (tests/device/test_sms_text.py checks every wording with the longest names).
from firmware.core.sms_pdu import fits_one_segment

_TEXTS = {
    "fr": {
        "battery": ("SUIVI SUSPENDU: batterie du bouton de %s faible (%d%%). L'alerte reste active; "
                    "plus de SMS de position.",
                    "SUIVI SUSPENDU: batterie du bouton faible (%d%%). L'alerte reste active; "
                    "plus de SMS de position."),
        "end": ("FIN DU SUIVI: alerte de %s close après %d min (durée maximale). Plus de SMS de position.",
                "FIN DU SUIVI: alerte close après %d min (durée maximale). Plus de SMS de position."),
    },
    "en": {
        "battery": ("UPDATES PAUSED: %s's button battery is low (%d%%). The alert goes on; no more "
                    "position SMS.",
                    "UPDATES PAUSED: button battery low (%d%%). The alert goes on; no more position SMS."),
        "end": ("END OF UPDATES: %s's alert closed after %d min (time limit). No more position SMS.",
                "END OF UPDATES: alert closed after %d min (time limit). No more position SMS."),
    },
}


def _fit(what, wearer, n, lang):
    from firmware.sms.text import LIMIT_NAME, fold_name
    t = _TEXTS.get(lang, _TEXTS["fr"])[what]
    name = (wearer or "").strip()[:LIMIT_NAME] if isinstance(wearer, str) else ""
    for cand in (name, fold_name(name)[0].strip() if name else ""):
        if cand:
            text = t[0] % (cand, n)
            if fits_one_segment(text):
                return text
    return t[1] % n


def battery_text(wearer, pct, lang="fr"):
    """The periodic follow-ups stop at the battery floor: the contacts are told, once."""
    return _fit("battery", wearer, max(0, min(100, int(pct))), lang)


def end_text(wearer, minutes, lang="fr"):
    """The alert reached alert_active_s: no more follow-ups; the contacts are told."""
    return _fit("end", wearer, max(0, int(minutes)), lang)
