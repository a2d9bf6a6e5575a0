"""Read-only reports over every domain: Annex IV dossiers, compliance summaries, evidence packs."""
