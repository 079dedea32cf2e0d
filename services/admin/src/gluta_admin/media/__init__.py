"""Product images served through the admin (the API gives gateway-relative URLs)."""
