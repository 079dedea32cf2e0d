"""Login, access and refresh tokens, signing keys, login throttling."""
