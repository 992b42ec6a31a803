"""Benchmarks that print figures: alert latency, the heap a full alert needs, NMEA parser cost beside as_GPS,
the evidence crypto's cost."""
