"""Fixtures for the councils tests: the shared reference data and a stubbed Represent API."""

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_data_dir() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "ocd" / "ca_census_subdivisions.csv").exists():
        pytest.skip(f"the shared reference data is not at {path}")
    return path


@pytest.fixture
def real_directory(shared_data, db):
    """The real municipalities and wards, imported from the shared OCD files (about 2 s)."""
    from councils.import_municipalities import municipalities_import

    return municipalities_import(path_or_url=str(shared_data / "ocd"))


class FakeResponse:
    def __init__(self, status_code: int, payload=None, headers=None):
        self.status_code = status_code
        self._payload = payload
        self.headers = headers or {}

    def json(self):
        if isinstance(self._payload, Exception):
            raise self._payload
        return self._payload

    @property
    def content(self) -> bytes:
        return json.dumps(self._payload).encode()

    def raise_for_status(self):
        if self.status_code >= 400:
            import requests

            raise requests.HTTPError(f"HTTP {self.status_code}")


class FakeRepresent:
    """Stands in for requests.get: answers from recorded JSON files, records every call."""

    def __init__(self):
        self.routes: dict[str, list] = {}
        self.calls: list[str] = []

    def add(self, path: str, *responses):
        """Queue responses for a path: a fixture file name, a JSON payload (a dict), an int
        status, a FakeResponse, an exception."""
        self.routes.setdefault(path, []).extend(responses)

    def __call__(self, url, params=None, timeout=None, headers=None):
        assert timeout, "every request to Represent must have a timeout"
        parsed = urlparse(url)
        path = parsed.path
        self.calls.append(url)
        queue = self.routes.get(path)
        if not queue:
            return FakeResponse(404, {"error": "not found"})
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return FakeResponse(answer, None)
        if isinstance(answer, FakeResponse):
            return answer
        if isinstance(answer, dict):
            return FakeResponse(200, answer)
        return FakeResponse(200, json.loads((FIXTURES / answer).read_text(encoding="utf-8")))


@pytest.fixture
def fake_represent(monkeypatch, settings):
    settings.REPRESENT_MIN_INTERVAL = 0
    settings.REPRESENT_API_URL = "https://represent.test"
    fake = FakeRepresent()
    monkeypatch.setattr("councils.represent.requests.get", fake)
    monkeypatch.setattr("councils.represent.time.sleep", lambda seconds: None)
    return fake
