"""The operations page: instances, health, outbox lag, breakers, config version, dead letters."""
