"""Sound evidence on the host: list, export and verify a button's recordings; the encoder bench."""
