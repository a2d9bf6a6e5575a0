"""Server-rendered dashboard (Jinja2 + HTMX) over the domain services."""
