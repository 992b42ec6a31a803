"""`alertbutton web`: a local page for the technician (command.py, app.py, guard.py, static/)."""
