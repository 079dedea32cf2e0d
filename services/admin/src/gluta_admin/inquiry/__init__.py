"""Customer inquiries and their answers."""
