"""Licenses: the signed grant that one model artifact may serve a scope, its state machine, tokens and status list."""
