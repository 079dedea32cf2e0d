"""The registry: instances register, heartbeat and expire when they fall silent."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Instance:
    service: str
    instance_id: str
    url: str
    registered_at: float = field(default_factory=time.time)
    last_heartbeat: float = field(default_factory=time.monotonic)

    def to_dict(self, now: float) -> dict[str, object]:
        return {"service": self.service, "instanceId": self.instance_id, "url": self.url, "status": "UP",
                "registeredAt": self.registered_at, "secondsSinceHeartbeat": round(now - self.last_heartbeat, 3)}


class Registry:
    """Live instances by service; an instance silent for longer than `expire_after` is dropped."""

    def __init__(self, expire_after: float) -> None:
        self.expire_after = expire_after
        self._instances: dict[str, dict[str, Instance]] = {}
        self._clock = time.monotonic

    def register(self, service: str, instance_id: str, url: str) -> Instance:
        """Add or refresh an instance."""
        instance = Instance(service, instance_id, url.rstrip("/"), last_heartbeat=self._clock())
        self._instances.setdefault(service, {})[instance_id] = instance
        return instance

    def heartbeat(self, service: str, instance_id: str) -> bool:
        """Mark an instance alive; False when it is unknown (expired or never registered)."""
        self.expire()
        instance = self._instances.get(service, {}).get(instance_id)
        if instance is None:
            return False
        instance.last_heartbeat = self._clock()
        return True

    def deregister(self, service: str, instance_id: str) -> bool:
        """Remove an instance."""
        return self._instances.get(service, {}).pop(instance_id, None) is not None

    def expire(self) -> list[Instance]:
        """Drop instances whose heartbeat is overdue; return them."""
        now = self._clock()
        dropped = []
        for instances in self._instances.values():
            for instance_id, instance in list(instances.items()):
                if now - instance.last_heartbeat > self.expire_after:
                    dropped.append(instances.pop(instance_id))
        return dropped

    def list(self, service: str) -> list[dict[str, object]]:
        """Return the live instances of one service, in registration order."""
        self.expire()
        now = self._clock()
        return [i.to_dict(now) for i in self._instances.get(service, {}).values()]

    def all(self) -> dict[str, list[dict[str, object]]]:
        """Return every live instance by service."""
        self.expire()
        now = self._clock()
        return {s: [i.to_dict(now) for i in items.values()] for s, items in self._instances.items() if items}
