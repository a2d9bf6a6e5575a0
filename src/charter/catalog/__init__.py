"""Catalog: AI systems (EU AI Act questionnaire → tier and obligations), model versions, datasets, lineage."""
