"""Product types: list, create, delete."""
