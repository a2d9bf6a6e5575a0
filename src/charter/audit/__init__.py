"""Tamper-evident audit log: RFC 6962 Merkle tree over canonical JSON entries, signed checkpoints."""
