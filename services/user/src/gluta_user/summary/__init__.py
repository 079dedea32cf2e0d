"""The member's page summary, composed from the order and product services."""
