"""Settings resolution and the rule that keys never show themselves."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from gameball_batch.settings import Secret, load_settings


def test_no_credentials_means_sandbox(tmp_path: Path) -> None:
    settings = load_settings(env={}, secrets_path=tmp_path / "missing.toml")
    assert settings.use_sandbox
    assert settings.environment == "sandbox"


def test_environment_wins_over_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[gameball]\napi_key = "file-key"\nsecret_key = "file-secret"\n'
        'base_url = "https://file.example/"\n[limits]\nconcurrency = 2\n'
    )
    env = {"GAMEBALL_API_KEY": "env-key", "GAMEBALL_CONCURRENCY": "8"}
    settings = load_settings(env=env, secrets_path=secrets)
    assert settings.api_key == Secret("env-key")
    assert settings.secret_key == Secret("file-secret")
    assert settings.base_url == "https://file.example"
    assert settings.concurrency == 8
    assert settings.environment == "production"


@pytest.mark.parametrize(("file_text", "env", "shared"), [
    ("", {}, False),  # Gameball counts GET and POST apart: so do we, unless told otherwise
    ("[limits]\nrate_shared = true\n", {}, True),
    ("", {"GAMEBALL_RATE_SHARED": "true"}, True),
])
def test_request_budgets_are_per_method_unless_shared_is_set(
    tmp_path: Path, file_text: str, env: dict[str, str], shared: bool
) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(file_text)
    assert load_settings(env=env, secrets_path=secrets).rate_shared is shared


def test_secret_never_appears_in_repr_str_or_format() -> None:
    secret = Secret("sk_live_very_secret_value")
    settings = load_settings(env={"GAMEBALL_API_KEY": "sk_live_very_secret_value"})
    for text in (repr(secret), str(secret), f"{secret}", repr(settings), secret.masked()):
        assert "very_secret" not in text


def test_secret_refuses_to_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))


def test_broken_secrets_file_gives_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "secrets.toml"
    bad.write_text("[gameball\napi_key=")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_settings(env={}, secrets_path=bad)


@pytest.mark.parametrize(("file_text", "env", "routes"), [
    ("", {}, "auto"),  # find the documented pair that answers
    ('[gameball]\nroutes = "openapi"\n', {}, "openapi"),
    ('[gameball]\nroutes = "openapi"\n', {"GAMEBALL_ROUTES": "GitBook"}, "gitbook"),
])
def test_the_status_and_stop_routes_are_found_unless_a_setting_pins_them(
    tmp_path: Path, file_text: str, env: dict[str, str], routes: str
) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(file_text)
    assert load_settings(env=env, secrets_path=secrets).routes == routes


def test_an_unknown_routes_setting_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="auto, gitbook, openapi, got 'swagger'"):
        load_settings(env={"GAMEBALL_ROUTES": "swagger"}, secrets_path=tmp_path / "none.toml")
