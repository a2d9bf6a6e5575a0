"""Typer CLI, `charter NOUN VERB`: talks to the API; init, serve, gateway, migrate and offline verifiers run locally."""
