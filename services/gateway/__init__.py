"""The gateway: the only client of the SpaceTraders API.

Callers send `flotilla.v1.ApiCall` messages over NATS request/reply; the gateway queues them by
priority class, spends the account's rate limit exactly (two pools, corrected from response
headers), sends them over a bounded connection pool with bounded retries, replies with an
`ApiResult` and logs one `RequestLog` event per call. `gateway.declaration.SERVICE` is how the
service kit runs it.
"""

__all__: list[str] = []
