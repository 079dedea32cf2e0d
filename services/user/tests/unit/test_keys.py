"""Where the key-encryption secret comes from."""

import stat

import pytest

from gluta_kit.testing import make_settings
from gluta_user.auth.keys import SECRET_FILE, resolve_secret
from gluta_user.settings import UserSettings


def test_the_configured_secret_is_used(tmp_path) -> None:
    settings = make_settings(UserSettings, tmp_path, key_encryption_secret="from-env")
    assert resolve_secret(settings) == b"from-env"
    assert not (tmp_path / "secrets").exists()


def test_local_mode_makes_a_private_secret_file_once(tmp_path) -> None:
    settings = make_settings(UserSettings, tmp_path)
    first = resolve_secret(settings)
    path = tmp_path / "secrets" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and resolve_secret(settings) == first


def test_production_refuses_to_start_without_a_secret(tmp_path) -> None:
    settings = make_settings(UserSettings, tmp_path, profile="production")
    with pytest.raises(RuntimeError, match="GLUTA_KEY_ENCRYPTION_SECRET"):
        resolve_secret(settings)
