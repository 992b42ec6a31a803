# Hand-written crypto primitives for MicroPython and CPython (MicroPython has only hashlib.sha256/sha1
# and, on the ESP32, cryptolib AES): ChaCha20-Poly1305 (RFC 8439), HKDF-SHA256 (RFC 5869), X25519
# (RFC 7748), SHA-512 (FIPS 180-4) and Ed25519 (RFC 8032). Not constant-time: see docs/evidence-crypto.md.
