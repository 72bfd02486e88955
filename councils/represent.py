"""A small client for Open North's Represent API (https://represent.opennorth.ca/api/).

Represent allows 60 requests a minute and answers 503 beyond. Every process shares one pace
through the Django cache (Redis in production): a request takes the cache's slot, which
frees again after REPRESENT_MIN_INTERVAL rounded up to whole seconds (1.5 s: 2 s, so at most
30 requests a minute, whoever asks). A 503 or 429 makes every process wait: its Retry-After
(seconds or a date) is shared through the cache too. Without the cache, a resident's lookup
keeps its own process's pace (it waits two seconds at most and falls through), but the bulk
callers (imports, the sync) stop rather than risk going over the limit.
"""

import logging
import math
import threading
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

USER_AGENT = "council-letters (+https://github.com/; municipal letter campaigns)"
THROTTLE_KEY = "councils:represent:throttle"
# Until when (a Unix time) every process waits, after Represent answered 503 or 429.
BACKOFF_KEY = "councils:represent:backoff"
MAX_RETRIES = 3
# A Retry-After longer than this is not waited out in a worker: the caller gives up for now.
LONGEST_WAIT = 300.0

_local = threading.local()


class RepresentError(Exception):
    """Represent could not be reached or answered with an error."""


class RepresentNotFound(RepresentError):
    """Represent answered 404 (for example an unknown postal code)."""


class RepresentUnavailable(RepresentError):
    """Represent asks for a pause (503 or 429 after the retries, or a long Retry-After), or
    the shared pace cannot be kept because the cache is down: try again later."""


def _base_url() -> str:
    return settings.REPRESENT_API_URL.rstrip("/") + "/"


def _backoff_remaining() -> float:
    """Seconds left of a pause Represent asked for, 0 when none (or this process has already
    waited it out)."""
    until = cache.get(BACKOFF_KEY)
    if not until or until <= getattr(_local, "backoff_served", 0):
        return 0.0
    return max(0.0, until - time.time())


def _backoff_share(delay: float) -> None:
    """Tell every process to wait `delay` seconds; this one waits them out itself."""
    until = time.time() + delay
    cache.set(BACKOFF_KEY, until, timeout=max(1, math.ceil(delay)) + 1)
    _local.backoff_served = until


def _wait_for_slot(*, max_wait: float | None) -> bool:
    """Take the next request slot, waiting up to max_wait seconds (None: as long as needed).

    Returns False when no slot came up in time, so a resident's lookup can fall through rather
    than keep them waiting. Raises RepresentUnavailable for a caller without max_wait when the
    cache is down, or Represent asked for a pause longer than LONGEST_WAIT.
    """
    interval = float(getattr(settings, "REPRESENT_MIN_INTERVAL", 1.5))
    # The cache key expires after whole seconds; round up so we stay under the limit.
    timeout = max(1, math.ceil(interval))
    started = time.monotonic()
    while True:
        pause = _backoff_remaining()
        if pause > 0:
            if max_wait is not None:
                if time.monotonic() - started + pause > max_wait:
                    return False
            elif pause > LONGEST_WAIT:
                raise RepresentUnavailable(f"Represent asked to wait {pause:.0f} s")
            time.sleep(min(pause, 5.0))
            continue
        if interval <= 0:
            return True
        last = getattr(_local, "last_request", None)
        local_ready = last is None or time.monotonic() - last >= interval
        if local_ready:
            taken = cache.add(THROTTLE_KEY, 1, timeout=timeout)
            # add() answers None when the cache is down: a lookup keeps this process's own
            # pace; a bulk caller stops, as several processes could then go over the limit.
            if taken is None and max_wait is None:
                raise RepresentUnavailable(
                    "the cache is unreachable, so requests to Represent cannot be paced"
                )
            if taken is not False:
                _local.last_request = time.monotonic()
                return True
        if max_wait is not None and time.monotonic() - started >= max_wait:
            return False
        time.sleep(0.25)


def get_json(
    url_or_path: str,
    *,
    params: dict | None = None,
    max_wait: float | None = None,
    retries: int = MAX_RETRIES,
):
    """GET a Represent URL (absolute, or a path such as "/postcodes/K1A0B1/") and decode it.

    A 503 or 429 pauses every process (for its Retry-After, else 2, 4, 8 s) and is retried
    up to `retries` times. Raises RepresentNotFound on 404, RepresentUnavailable when
    Represent still asks for a pause, and RepresentError on anything else that went wrong.
    """
    url = urljoin(_base_url(), url_or_path.lstrip("/"))
    timeout = float(getattr(settings, "REPRESENT_TIMEOUT", 5))
    for attempt in range(retries + 1):
        if not _wait_for_slot(max_wait=max_wait):
            raise RepresentError("throttled: no request slot free")
        try:
            response = requests.get(
                url,
                params=params,
                timeout=timeout,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise RepresentError(f"{url}: {exc}") from exc
        if response.status_code in (429, 503):
            delay = _retry_after(response, attempt)
            _backoff_share(delay)
            if attempt >= retries or delay > LONGEST_WAIT:
                raise RepresentUnavailable(
                    f"{url}: HTTP {response.status_code}, asked to wait {delay:.0f} s"
                    + (f" (after {retries} retries)" if attempt else "")
                )
            logger.warning(
                "Represent answered %s for %s; retrying in %s s", response.status_code, url, delay
            )
            time.sleep(delay)
            continue
        if response.status_code == 404:
            raise RepresentNotFound(url)
        if response.status_code != 200:
            raise RepresentError(f"{url}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise RepresentError(f"{url}: not JSON") from exc
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _retry_after(response, attempt: int) -> float:
    """Retry-After in seconds (it may be a number of seconds or an HTTP date), else 2, 4, 8."""
    header = (response.headers.get("Retry-After") or "").strip()
    if header.isdigit():
        return float(header)
    if header:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return float(2 ** (attempt + 1))


def postcode(code: str, *, max_wait: float | None = 2.0) -> dict:
    """Represent's answer for one postal code ("K1A0B1", no space).

    A resident is waiting: wait at most max_wait seconds for a request slot and do not retry a
    503; the lookup moves on to its next step instead.
    """
    return get_json(f"/postcodes/{code.replace(' ', '').upper()}/", max_wait=max_wait, retries=0)


def representatives(set_slug: str):
    """Yield (page_url, objects) for every page of /representatives/<set>/ (follows meta.next)."""
    url = f"/representatives/{set_slug}/"
    params: dict | None = {"limit": 100}
    while url:
        page = get_json(url, params=params)
        yield urljoin(_base_url(), url.lstrip("/")), page.get("objects", [])
        url = (page.get("meta") or {}).get("next") or ""
        params = None  # meta.next already carries offset and limit
