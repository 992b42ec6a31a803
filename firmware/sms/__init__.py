# SMS texts and replies: the alert texts and their preview, received commands (OK, POSITION,
# STOP), the two-way wiring and the low-battery warnings.
