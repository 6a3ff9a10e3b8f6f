"""JWTManager: create, verify and refresh with exp, aud and scopes; the verifier it shares with
the gateway refuses what fails a check, saying which."""

from __future__ import annotations

import jwt as pyjwt
import pytest

from sage_client.jwt import JWTManager, JWTVerifier, TokenError

SECRET = "a-test-secret-of-at-least-32-characters!"


def test_a_created_token_verifies_with_its_subject_scopes_and_audience() -> None:
    manager = JWTManager(SECRET, audience="sage-tests")
    token = manager.create_token("alice", scopes=["chat", "admin"], rpm=5)
    claims = manager.verify_token(token)
    assert claims["sub"] == "alice" and claims["aud"] == "sage-tests" and claims["rpm"] == 5
    assert manager.scopes(token) == {"chat", "admin"}


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda m: m.create_token("a", expires_s=-5), "expired"),
        (lambda m: m.create_token("a", audience="someone-else"), "audience"),
        (
            lambda m: JWTManager("another-secret-of-at-least-32-chars!!").create_token("a"),
            "signature",
        ),
        (lambda m: "not.a.jwt", "malformed"),
        (lambda m: pyjwt.encode({"sub": "a"}, SECRET, algorithm="HS256"), "invalid"),
    ],
)
def test_a_token_failing_a_check_is_refused_naming_it(make, reason: str) -> None:
    manager = JWTManager(SECRET, audience="sage-tests")
    with pytest.raises(TokenError) as refused:
        manager.verify_token(make(manager))
    assert refused.value.reason == reason


def test_refresh_keeps_subject_scopes_and_claims_with_a_later_expiry() -> None:
    manager = JWTManager(SECRET, audience="sage-tests")
    old = manager.create_token("bob", scopes=["chat"], expires_s=10, tpm=100)
    new = manager.refresh_token(old, expires_s=3600)
    before, after = manager.verify_token(old), manager.verify_token(new)
    assert after["exp"] > before["exp"] and after["tpm"] == 100 and after["sub"] == "bob"
    assert manager.scopes(new) == {"chat"}
    with pytest.raises(TokenError, match="expired"):
        manager.refresh_token(manager.create_token("bob", expires_s=-1))


def test_settings_come_from_config_yaml_and_a_short_secret_is_refused() -> None:
    config = {"middleware": {"auth": {"secret_key": SECRET, "algorithm": "HS256"}}}
    token = JWTManager(config=config).create_token("carol")
    assert JWTVerifier({"HS256": SECRET}).verify(token)["sub"] == "carol"
    with pytest.raises(ValueError, match="32 characters"):
        JWTManager("short")
    with pytest.raises(ValueError, match="needs a secret"):
        JWTManager(config={})


def test_a_malformed_scope_claim_is_refused() -> None:
    token = pyjwt.encode({"sub": "a", "exp": 4102444800, "scope": 7}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="scope"):
        JWTVerifier({"HS256": SECRET}).verify(token)
