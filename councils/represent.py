"""A small client for Open North's Represent API (https://represent.opennorth.ca/api/).

Represent asks for fewer than one request per second. The throttle is shared by every process
through the Django cache (Redis in production), and a 503 makes us back off and retry.
"""

import logging
import math
import threading
import time
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

USER_AGENT = "council-letters (+https://github.com/; municipal letter campaigns)"
THROTTLE_KEY = "councils:represent:throttle"
MAX_RETRIES = 3

_local = threading.local()


class RepresentError(Exception):
    """Represent could not be reached or answered with an error."""


class RepresentNotFound(RepresentError):
    """Represent answered 404 (for example an unknown postal code)."""


def _base_url() -> str:
    return settings.REPRESENT_API_URL.rstrip("/") + "/"


def _wait_for_slot(*, max_wait: float | None) -> bool:
    """Take the next request slot, waiting up to max_wait seconds (None: as long as needed).

    Returns False when no slot came up in time, so a resident's lookup can fall through rather
    than keep them waiting.
    """
    interval = float(getattr(settings, "REPRESENT_MIN_INTERVAL", 1.5))
    if interval <= 0:
        return True
    # The cache key expires after whole seconds; round up so we stay under the limit.
    timeout = max(1, math.ceil(interval))
    started = time.monotonic()
    while True:
        last = getattr(_local, "last_request", None)
        local_ready = last is None or time.monotonic() - last >= interval
        # add() answers None when the cache is down: then this process's own pace holds.
        if local_ready and cache.add(THROTTLE_KEY, 1, timeout=timeout) is not False:
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

    A 503 is retried up to `retries` times with growing pauses (or Retry-After). Raises
    RepresentNotFound on 404 and RepresentError on anything else that went wrong.
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
        if response.status_code == 503 and attempt < retries:
            delay = _retry_after(response, attempt)
            logger.warning("Represent answered 503 for %s; retrying in %s s", url, delay)
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
    raise RepresentError(f"{url}: still 503 after {retries} retries")


def _retry_after(response, attempt: int) -> float:
    header = response.headers.get("Retry-After", "")
    if header.isdigit():
        return min(float(header), 60.0)
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
