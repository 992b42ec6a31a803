# Cellular modems: the AT channel, the 27.005/27.007 commands every dialect shares, received
# SMS, and one module per dialect (SIMCom A76xx, SIM7600, SIM7080, Quectel BG95).
