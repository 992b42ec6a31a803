# The link to the association's platform: its settings, event documents, flash queue and
# transports.
