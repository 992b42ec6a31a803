# What every part uses: the event log and small-file storage.
