"""The enforcement gateway: a thin ASGI proxy that checks a license on every call and audits it before answering."""
