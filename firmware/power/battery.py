# Battery state of charge from the cell voltage (single-cell LiPo, at rest, 3.3 V cut-off).
# Piecewise-linear open-circuit curve; coarse, but what the SMS needs ("Batterie 40%").
_CURVE = ((4200, 100), (4100, 90), (4000, 80), (3900, 66), (3800, 50), (3750, 40), (3700, 30),
          (3650, 20), (3600, 12), (3500, 5), (3300, 0))


def percent_from_mv(mv):
    if mv >= _CURVE[0][0]:
        return 100
    for i in range(1, len(_CURVE)):
        v1, p1 = _CURVE[i]
        if mv >= v1:
            v0, p0 = _CURVE[i - 1]
            return p1 + (p0 - p1) * (mv - v1) // (v0 - v1)
    return 0
