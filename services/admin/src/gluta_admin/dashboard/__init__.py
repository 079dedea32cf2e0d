"""The sales dashboard: revenue, units, orders, VIPs, best products, coupons."""
