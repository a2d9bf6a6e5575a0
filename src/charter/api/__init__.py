"""REST API (FastAPI) under /api/v1: thin routes that authenticate, call services and map errors."""
