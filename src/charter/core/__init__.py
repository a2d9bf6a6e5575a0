"""Kernel: errors, ids, clock, canonical JSON, hashing. Imports nothing else from charter."""
