"""Products: list, search, create, edit with images, delete."""
