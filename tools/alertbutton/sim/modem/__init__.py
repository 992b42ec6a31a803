"""The modem simulator: an A76xx and its sibling dialects on a pty, one module per part (see a76xx.py)."""
