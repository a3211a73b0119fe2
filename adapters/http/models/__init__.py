"""The contract's pydantic models, named as in api.md (and as the vendor SDK names them).

One module per resource; import from the module (e.g. `adapters.http.models.chargers`).
"""
