"""Storefront pages: catalog."""
