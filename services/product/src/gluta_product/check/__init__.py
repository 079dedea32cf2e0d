"""The product service's invariants for `gluta check`: stock that adds up, reservations by order."""
