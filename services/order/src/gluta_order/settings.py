"""Order service settings (env `GLUTA_<FIELD>`)."""

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from gluta_kit.settings import RELOADABLE, ServiceSettings


class OrderSettings(ServiceSettings):
    """Settings of the order service."""

    service_name: ClassVar[str] = "order"
    port: int = 8103

    # --- checkout saga ----------------------------------------------------------------------------
    # a PENDING order older than this is cancelled (TIMEOUT) by the sweeper, with every compensation
    checkout_timeout_seconds: float = Field(default=60.0, gt=0, le=24 * 3600, json_schema_extra=RELOADABLE)
    sweeper_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    sweeper_batch_size: int = Field(default=200, ge=1, le=10_000)

    # --- the product copy ---------------------------------------------------------------------------
    # a product the local copy does not know yet is asked of the product service (GET /products/{id}):
    # each attempt waits this long, and a failed one is tried again this many times on another instance
    product_lookup_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    product_lookup_retries: int = Field(default=1, ge=0, le=5)

    # --- first-come coupons -----------------------------------------------------------------------
    # redis: one Lua script in Redis (needs redis_url); sql: one conditional UPDATE; lock: SELECT ... FOR UPDATE
    # (the pessimistic baseline, for the benchmark). Default: redis when redis_url is set, else sql.
    coupon_gate: Literal["redis", "sql", "lock"] | None = None
    redis_url: str | None = None
    redis_key_prefix: str = "gluta:order:"
    redis_max_connections: int = Field(default=128, ge=1, le=10_000)
    # coupon definitions (not counters) are cached this long per instance; a disable elsewhere shows after it
    coupon_cache_seconds: float = Field(default=1.0, ge=0, le=60)

    # --- pay money ----------------------------------------------------------------------------------
    # a PortOne v2 style provider: GET {url}/payments/{paymentId} with `Authorization: PortOne <secret>`.
    # Without a URL, the local sandbox approves every charge at once.
    payment_provider_url: str | None = None
    payment_api_secret: SecretStr | None = None
    payment_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    # --- demo mode ----------------------------------------------------------------------------------
    demo_login_id: str = "demo"
    demo_pay_money: int = Field(default=500_000, ge=0, le=100_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> "OrderSettings":
        if self.coupon_gate == "redis" and not self.redis_url:
            raise ValueError("coupon_gate=redis needs redis_url (GLUTA_REDIS_URL)")
        if self.payment_provider_url and not (self.payment_api_secret and self.payment_api_secret.get_secret_value()):
            raise ValueError("payment_provider_url needs payment_api_secret (GLUTA_PAYMENT_API_SECRET)")
        return self

    @property
    def gate_strategy(self) -> str:
        """Return the coupon gate in use: the setting, else redis when Redis is configured, else sql."""
        if self.coupon_gate:
            return self.coupon_gate
        return "redis" if self.redis_url else "sql"
