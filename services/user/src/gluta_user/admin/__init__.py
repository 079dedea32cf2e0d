"""Operators: their accounts and the member listing."""
