"""What a transport failure means for a send: was the request out when it failed?

Before the request was written (no connection, a connect timeout) the provider cannot have the
message: retry. After it (a read timeout, the connection reset or closed before an answer) the
provider may have accepted it: the outcome is ambiguous (`base.AMBIGUOUS`), and the sender
settles it from the provider's records instead of resending.
"""

from __future__ import annotations

import http.client

import urllib3

from engage.errors import DeliveryError

_NOT_SENT = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
_TIMED_OUT = (urllib3.exceptions.ReadTimeoutError, TimeoutError)
_CUT_OFF = (urllib3.exceptions.ProtocolError, http.client.HTTPException, OSError)


def transport_error(provider: str, exc: BaseException) -> DeliveryError:
    """The DeliveryError for a failure below HTTP; its code says whether it is ambiguous."""
    kind = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        reason, code = f"connection failed ({kind})", "connection"
    elif isinstance(exc, _TIMED_OUT) or isinstance(getattr(exc, "reason", None), TimeoutError):
        reason, code = "timed out waiting for the answer", "timeout"
    elif isinstance(exc, _CUT_OFF):
        reason, code = f"connection reset before an answer ({kind})", "reset"
    else:
        reason, code = f"connection failed ({kind})", "connection"
    return DeliveryError(f"{provider}: {reason}", permanent=False, code=code)
