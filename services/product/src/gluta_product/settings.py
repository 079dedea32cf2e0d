"""Product service settings."""

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from gluta_kit.settings import ServiceSettings
from gluta_product.image.storage import check_storage_url

MIB = 1024 * 1024


class ProductSettings(ServiceSettings):
    """Settings of the product service."""

    # a refused value is not echoed back in the error (a storage URL or key must not reach the logs)
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    service_name: ClassVar[str] = "product"
    port: int = 8102
    # Where image files live: unset = `<data_dir>/images`; `file:///abs/path` = that folder;
    # `s3://bucket[/prefix][?endpoint=http://host:port&region=eu-west-1]` = an S3-compatible bucket (see README).
    image_storage_url: str | None = None
    # S3 credentials; when unset the usual AWS variables / roles are used. Never put them in the URL.
    image_storage_access_key_id: str | None = None
    image_storage_secret_access_key: SecretStr | None = None
    max_image_bytes: int = Field(default=10 * MIB, ge=1024, le=100 * MIB)
    max_image_pixels: int = Field(default=40_000_000, ge=10_000)

    @field_validator("image_storage_url")
    @classmethod
    def _known_storage(cls, value: str | None) -> str | None:
        check_storage_url(value)  # fails fast at start with the reason; never opens a connection
        return value or None

    @model_validator(mode="after")
    def _both_keys_or_neither(self) -> "ProductSettings":
        secret = self.image_storage_secret_access_key
        if bool(self.image_storage_access_key_id) != bool(secret and secret.get_secret_value()):
            raise ValueError("set both GLUTA_IMAGE_STORAGE_ACCESS_KEY_ID and GLUTA_IMAGE_STORAGE_SECRET_ACCESS_KEY, "
                             "or neither (then the AWS_* variables or the instance's role are used)")
        return self
