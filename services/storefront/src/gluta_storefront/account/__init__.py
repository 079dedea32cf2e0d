"""Storefront pages: account."""
