"""User service settings."""

import os
from typing import ClassVar

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_validator

from gluta_kit.settings import RELOADABLE, ServiceSettings


class UserSettings(ServiceSettings):
    """Settings of the user service (env `GLUTA_<FIELD>`)."""

    service_name: ClassVar[str] = "user"
    port: int = 8101

    # where the password-reset link points
    storefront_url: str = "http://127.0.0.1:8090"
    # mail: `.eml` files under `<data_dir>/mail` unless an SMTP URL is given (smtp://user:pass@host:port, smtps://)
    smtp_url: str | None = None
    mail_from: str = "Glutathione <no-reply@glutathione.local>"
    mail_timeout_seconds: float = Field(default=10.0, gt=0)

    # tokens
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=3600)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=60, le=90 * 24 * 3600)
    reset_token_ttl_seconds: int = Field(default=900, ge=60, le=24 * 3600)

    # signing keys: private keys are stored encrypted with this secret; without it (local mode only) a random
    # secret is generated once under `<data_dir>/secrets/`. The production profile refuses to start without it.
    key_encryption_secret: SecretStr | None = None
    key_rotation_lead_seconds: float = Field(default=30.0, ge=0, le=3600)
    key_reload_seconds: float = Field(default=10.0, gt=0, le=600)
    key_publish_grace_seconds: float = Field(default=120.0, ge=0, le=3600)

    # Argon2id cost (OWASP: m=19 MiB, t=2, p=1); hashes made with other parameters are upgraded at login
    argon2_time_cost: int = Field(default=2, ge=1, le=20)
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8, le=1024 * 1024)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    # hashes computed at once (each holds `argon2_memory_kib`); default: one per core
    argon2_max_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1, le=256)

    # login throttling: counted in Redis when redis_url is set, else in the database (every instance sees both)
    redis_url: str | None = None
    redis_key_prefix: str = "gluta:user:"
    login_max_failures_per_account: int = Field(default=5, ge=1, le=1000, json_schema_extra=RELOADABLE)
    login_max_failures_per_address: int = Field(default=50, ge=1, le=100_000, json_schema_extra=RELOADABLE)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=24 * 3600, json_schema_extra=RELOADABLE)
    login_lockout_seconds: int = Field(default=300, ge=1, le=24 * 3600, json_schema_extra=RELOADABLE)
    # the gateway sets X-Forwarded-For; its first hop is the client address
    trust_forwarded_for: bool = True

    # /members/me/summary: each downstream call gets this long, all run at once
    summary_timeout_seconds: float = Field(default=1.5, gt=0, le=30, json_schema_extra=RELOADABLE)

    # an operator account ensured at start (GLUTA_ADMIN_LOGIN_ID / GLUTA_ADMIN_PASSWORD)
    admin_login_id: str | None = None
    admin_password: SecretStr | None = None

    janitor_interval_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("admin_login_id")
    @classmethod
    def _admin_login_id_rules(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from gluta_user.validation import LoginId

        try:
            return TypeAdapter(LoginId).validate_python(value.strip().lower())
        except ValidationError as exc:
            raise ValueError("GLUTA_ADMIN_LOGIN_ID must be 4-20 of a-z, 0-9 and _") from exc

    @field_validator("admin_password")
    @classmethod
    def _admin_password_rules(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        from gluta_user.validation import NewPassword

        try:
            TypeAdapter(NewPassword).validate_python(value.get_secret_value())
        except ValidationError as exc:
            raise ValueError("GLUTA_ADMIN_PASSWORD must be 8-64 characters with a letter and a digit") from exc
        return value
