"""Members: sign-up, own profile, password, withdrawal."""
