"""Identity and access: principals, teams, API keys, role bindings and THE `authorize()` check."""
