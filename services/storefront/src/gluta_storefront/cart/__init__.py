"""Storefront pages: cart."""
