"""Home page banners."""
