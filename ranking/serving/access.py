"""Access to the machine API: an API key per client, and a per-key rate limit.

Keys are djangorestframework-api-key's (hashed with SHA-512, revocable in the admin), sent
as ``Authorization: Api-Key <key>``. Verifying one costs a database query, so a verified
key is remembered by each worker for ``SEARCHOP_API_KEY_CACHE_SECONDS`` (default 5 s): a
revocation takes effect within that time. With ``SEARCHOP_REQUIRE_API_KEY`` off (the
embedded demo) no key is needed and nothing is throttled.

While the database is unreachable a worker keeps answering for the keys it verified (or
refused) within the last ``SEARCHOP_API_KEY_OUTAGE_GRACE_SECONDS`` (default 10 min), so
ranking goes on from memory through an outage. The price: a key revoked just before the
outage (within the cache time) stays usable for the grace period, and a revocation cannot
be made while the database is down anyway. A key the worker has not seen within the grace
period gets a 503 with ``Retry-After``: it cannot be checked, and it is not let in unchecked.

The rate limit is a fixed one-minute window per key, counted in Redis so that it holds
across every worker; without Redis, or while Redis is unreachable, it is counted per worker
(so a key may then get up to its limit from each worker: accepted, and documented). A key with a high limit does
not pay a Redis round trip per request: a worker adds its requests to the shared count in
batches (``INCRBY``) of up to 20 requests (one per 1,000 of the per-minute limit), so the
whole service may admit at most that batch less one per worker above the limit. Keys with
a limit under 2,000 a minute are counted exactly, request by request. Either way a request
costs at most one round trip to Redis (the count and its expiry in one pipeline), and a key's
verification none while it is remembered.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import permissions, throttling
from rest_framework_api_key.permissions import KeyParser

from ranking.models import ApiClient
from ranking.serving.http import DATABASE_UNAVAILABLE, DatabaseUnavailable

logger = logging.getLogger(__name__)
_KEY_PARSER = KeyParser()


@dataclass(frozen=True)
class VerifiedClient:
    id: int
    requests_per_minute: int
    checked_at: float


class _KeyCache:
    def __init__(self, size: int = 1024):
        self._entries: dict[str, VerifiedClient | None] = {}
        self._times: dict[str, float] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str, max_age: float | None = None) -> tuple[bool, VerifiedClient | None]:
        """(found, client) for ``key`` if it was checked within ``max_age`` seconds (default:
        the cache time); the client is None for a key that was refused."""
        checked = self._times.get(key)
        limit = settings.SEARCHOP_API_KEY_CACHE_SECONDS if max_age is None else max_age
        if checked is None or time.monotonic() - checked > limit:
            return False, None
        return True, self._entries.get(key)

    def put(self, key: str, client: VerifiedClient | None) -> None:
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.clear()
                self._times.clear()
            self._entries[key] = client
            self._times[key] = time.monotonic()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._times.clear()


KEY_CACHE = _KeyCache()


def api_client_verify(key: str) -> VerifiedClient | None:
    """The client a key belongs to if it is valid (not revoked, not expired), else None."""
    hit, client = KEY_CACHE.get(key)
    if hit:
        return client
    client = None
    try:
        found = ApiClient.objects.get_from_key(key)
    except (ApiClient.DoesNotExist, ValidationError, ValueError):
        found = None
    except DATABASE_UNAVAILABLE as error:
        hit, client = KEY_CACHE.get(key, max_age=settings.SEARCHOP_API_KEY_OUTAGE_GRACE_SECONDS)
        if hit:
            return client  # the answer it had, kept through the outage (see the docstring)
        raise DatabaseUnavailable("authorization: the key cannot be checked now; retry shortly") from error
    if found is not None and not found.revoked and not found.has_expired:
        client = VerifiedClient(
            id=found.pk,
            requests_per_minute=found.requests_per_minute or settings.SEARCHOP_DEFAULT_REQUESTS_PER_MINUTE,
            checked_at=time.time(),
        )
    KEY_CACHE.put(key, client)
    return client


class ApiKeyRequired(permissions.BasePermission):
    message = "a valid API key is required: send the header 'Authorization: Api-Key <key>'"

    def has_permission(self, request, view) -> bool:
        if not settings.SEARCHOP_REQUIRE_API_KEY:
            return True
        key = _KEY_PARSER.get(request)
        if not key:
            return False
        client = api_client_verify(key)
        request.api_client = client
        return client is not None


class _LocalWindows:
    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], int] = {}
        self.lock = threading.Lock()

    def incr(self, client_id: int, window: int) -> int:
        with self.lock:
            if len(self.counts) > 10_000:
                self.counts = {k: v for k, v in self.counts.items() if k[1] >= window}
            key = (client_id, window)
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]


_LOCAL = _LocalWindows()
# After Redis fails, requests count per worker for this long before Redis is tried again:
# an unreachable Redis then costs one socket timeout (0.5 s) every few seconds, not one
# per request.
REDIS_RETRY_SECONDS = 2.0


class _RedisLink:
    """The shared counters' Redis (one client per URL), or None while it is failing."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.retry_at = 0.0

    def get(self):
        url = settings.REDIS_URL
        if not url or time.monotonic() < self.retry_at:
            return None
        found = self.clients.get(url)
        if found is None:
            import redis

            found = self.clients[url] = redis.Redis.from_url(
                url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
        return found

    def failed(self, error: Exception) -> None:
        if not self.retry_at:
            logger.warning("Redis unreachable, throttling per worker: %s", error)
        self.retry_at = time.monotonic() + REDIS_RETRY_SECONDS

    def recovered(self) -> None:
        if self.retry_at:
            logger.info("Redis reachable again, throttling across workers")
        self.retry_at = 0.0


REDIS = _RedisLink()


class _SharedCounts:
    """This worker's view of each key's count in the current window: the last total Redis
    returned plus the requests not sent yet."""

    def __init__(self) -> None:
        self.entries: dict[tuple[int, int], list[int]] = {}  # (client, window) -> [known, pending]
        self.lock = threading.Lock()

    def count(self, client_redis, client: VerifiedClient, window: int) -> int:
        batch = max(1, min(20, client.requests_per_minute // 1000))
        with self.lock:
            entry = self.entries.get((client.id, window))
            if entry is None:
                if len(self.entries) > 10_000:
                    self.entries = {k: v for k, v in self.entries.items() if k[1] >= window}
                entry = self.entries[(client.id, window)] = [0, 0]
            entry[1] += 1
            if entry[1] < batch:
                return entry[0] + entry[1]
            pending, entry[1] = entry[1], 0
        key = f"searchop:throttle:{client.id}:{window}"
        # One round trip: the count and the key's expiry (past its minute) in one pipeline.
        total, _ = client_redis.pipeline(transaction=False).incrby(key, pending).expire(key, 61).execute()
        total = int(total)
        with self.lock:
            entry[0] = max(entry[0], total)
            return entry[0] + entry[1]


_BATCHES = _SharedCounts()


class ApiKeyRateThrottle(throttling.BaseThrottle):
    """At most ``requests_per_minute`` per key in each clock minute; a 429 says when to retry."""

    def allow_request(self, request, view) -> bool:
        client: VerifiedClient | None = getattr(request, "api_client", None)
        if client is None:
            return True
        now = time.time()
        window = int(now // 60)
        self._wait = 60 - (now % 60)
        client_redis = REDIS.get()
        if client_redis is None:
            count = _LOCAL.incr(client.id, window)
        else:
            try:
                count = _BATCHES.count(client_redis, client, window)
            except Exception as error:  # Redis down: throttle per worker rather than fail
                REDIS.failed(error)
                count = _LOCAL.incr(client.id, window)
            else:
                REDIS.recovered()
        return count <= client.requests_per_minute

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
