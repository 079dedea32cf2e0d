"""Orders by status."""
