"""Delivery channels: one module per provider behind the `Channel` interface in `base`.

Adding a channel (say a second SMS provider):
1. a module here with a class that has `name` and `send(Outgoing) -> Receipt`, making exactly one
   attempt and raising `DeliveryError(reason, permanent=..., retry_after=..., code=...)`;
2. the vendor's error codes in that module, sorted into permanent and retryable, with a test row
   per code against `tests/fakes/provider_server.py` (teach it the vendor's endpoint);
3. one line in `registry.build_channels`, chosen from settings; a rate in `ratelimit` if metered.
Never log bodies or addresses, and never put the vendor's error text in the reason (it echoes them).
"""
