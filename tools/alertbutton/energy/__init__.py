"""Energy: battery life of a simulated day from the firmware's power accounting; falls starting in deep sleep."""
