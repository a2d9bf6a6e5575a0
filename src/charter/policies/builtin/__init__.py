"""Shipped policy data: control catalogs, baselines, licensing requirements."""
