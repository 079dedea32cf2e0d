"""Storefront pages: checkout."""
