"""Small shared helpers (not an app)."""
