"""Signed one-click unsubscribe links (RFC 8058), one per message.

The token is an HMAC of the message id under the clinic's signing secret, so the link needs no
stored state and cannot be forged for another patient's message.
"""

from __future__ import annotations

import hashlib
import hmac


def token(message_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"unsubscribe:{message_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def verify(message_id: int, candidate: str, secret: str) -> bool:
    return hmac.compare_digest(token(message_id, secret), candidate)


def url(public_url: str, message_id: int, secret: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{message_id}/{token(message_id, secret)}"
