"""Storefront pages: coupon."""
