"""Talking to a connected button: technician commands, deploy, fleet provisioning, libraries, the pty serial cable."""
