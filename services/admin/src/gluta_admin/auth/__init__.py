"""Admin login and logout, and the language switch."""
