"""RSVP and reply tokens."""

import pytest

from planner.tokens import TokenError, hash_reply_token, hash_token, new_reply_token, new_token


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
