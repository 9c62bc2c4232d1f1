"""The domain: enums, IDs, the event catalog, the pure fold (`apply`) and the pure commands."""
