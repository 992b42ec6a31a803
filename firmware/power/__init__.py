# Power: the MCU sleep policy and state-time accounting, the modem's power modes, the power
# task that applies them, the battery gauge.
