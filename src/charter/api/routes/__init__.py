"""One module per domain; each defines `router`. Discovered by `charter.api.app.discover_routers`."""
