"""The HTTP API: thin Tornado handlers, one module per resource, routes in `routes.py`."""
