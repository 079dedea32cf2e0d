"""The order service's invariants for `gluta check`: wallets, coupons, orders and what the saga left."""
