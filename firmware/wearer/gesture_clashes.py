# The gesture map's cross-checks (firmware/wearer/gestures.py validate): another action's gesture must
# never fire on the alert gesture's presses (a prefix: it takes them and the alert never comes) nor have
# the alert fire on its own (arming would send an alert). Loaded for a check, then unloaded.
from micropython import const

_TAP_MAX_MS = const(400)  # a hold-then-taps' taps: a longer press is no tap (as in gestures.py)


def check(gestures):
    """ValueError when another action's gesture would fire on the alert's presses (a prefix: it takes
    them and the alert never comes) or the alert would fire on it (arming sends an alert)."""
    alerts = [g for g in gestures if g["action"] == "alert"]
    lo = max([g.get("min_press_ms", 0) for g in gestures if "presses" in g] or [0])
    hi = min([g["max_press_ms"] for g in gestures if "presses" in g and "max_press_ms" in g] or [0])
    for g in gestures:
        if g["action"] == "alert":
            continue
        for a in alerts:
            what = "%s would %s" % (g["action"], "%s")
            if "presses" in g and "presses" in a:
                if g["presses"] <= a["presses"]:
                    raise ValueError(what % "fire on the alert gesture's first presses and take them: "
                                     "give it a hold then taps instead")
                raise ValueError(what % "send an alert: the alert gesture fires on its first %d presses"
                                 % a["presses"])
            if "hold_ms" in g and "hold_ms" in a and "presses" not in a:
                raise ValueError(what % ("send an alert: the alert's hold fires while she holds"
                                         if "taps" in g or a["hold_ms"] <= g["hold_ms"] else
                                         "fire while she holds for the alert, and the alert would not come"))
            if "taps" in g and "presses" in a:
                # the hold counts toward the alert unless the map has a max_press_ms shorter than it
                held = 0 if 0 < hi < g["hold_ms"] else 1
                if g["taps"] + held >= a["presses"]:
                    raise ValueError(what % "send an alert: its presses make the alert gesture")
                if lo > _TAP_MAX_MS:
                    raise ValueError(what % "never count its taps: min_press_ms is over 400")
            if "presses" in g and "hold_ms" in a and "presses" not in a:
                continue  # taps never make a hold
