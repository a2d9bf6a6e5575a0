"""Deployments: a licensed model version served at an upstream in one environment, and the per-call decision."""
