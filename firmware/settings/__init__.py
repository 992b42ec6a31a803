# Settings: the versioned configuration and its checks, the record files it lives in, the
# technician PIN and the RAM profile.
