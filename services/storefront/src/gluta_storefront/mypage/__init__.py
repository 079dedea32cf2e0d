"""Storefront pages: mypage."""
