"""RSVP and reply tokens."""

import base64

import pytest

from planner.tokens import (
    TokenError,
    derived_reply_token,
    derived_token,
    hash_reply_token,
    hash_token,
    new_reply_token,
    new_seed,
    new_token,
)


def test_tokens_are_long_random_and_only_their_hash_is_kept():
    tokens = {new_token()[0] for _ in range(200)}
    assert len(tokens) == 200
    token, stored = new_token()
    assert len(token) == 32 and stored == hash_token(token) and token not in stored
    assert len(stored) == 64


def test_reply_tokens_survive_lower_casing_by_mail_servers():
    token, stored = new_reply_token()
    assert token == token.lower() and len(token) == 32
    assert hash_reply_token(token.upper()) == stored


@pytest.mark.parametrize("bad", ["", "short", "x" * 31, "x" * 33, "../../etc/passwd_______________", None, "é" * 32])
def test_malformed_tokens_are_refused(bad):
    with pytest.raises(TokenError):
        hash_token(bad)
    with pytest.raises(TokenError):
        hash_reply_token(bad)


def test_seeds_are_long_and_random():
    seeds = {new_seed() for _ in range(200)}
    assert len(seeds) == 200 and all(len(seed) >= 43 for seed in seeds)  # 32 random bytes


def test_derived_tokens_have_the_shape_of_random_ones_and_depend_on_secret_seed_and_purpose():
    seed = new_seed()
    token, reply = derived_token("secret", seed), derived_reply_token("secret", seed)
    assert len(token) == 32 and hash_token(token) and len(reply) == 32 and hash_reply_token(reply) and reply == reply.lower()
    assert derived_token("secret", seed) == token and derived_reply_token(b"secret", seed) == reply
    assert derived_token("other secret", seed) != token and derived_token("secret", new_seed()) != token
    assert derived_reply_token("other secret", seed) != reply
    assert base64.urlsafe_b64decode(token)[:20] != base64.b32decode(reply.upper()), "one derivation per purpose"
    assert seed not in (token, reply)


@pytest.mark.parametrize(("secret", "seed"), [("", "seed"), (b"", "seed"), ("secret", ""), ("secret", None)])
def test_deriving_needs_a_secret_and_a_seed(secret, seed):
    with pytest.raises(ValueError):
        derived_token(secret, seed)
    with pytest.raises(ValueError):
        derived_reply_token(secret, seed)
