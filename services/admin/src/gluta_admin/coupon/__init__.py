"""First-come coupons."""
