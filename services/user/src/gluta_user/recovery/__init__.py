"""Account recovery: find the login id, reset the password, by mail."""
