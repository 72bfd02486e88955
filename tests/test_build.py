"""config.build: the cache key prefix changes with every release that changes a page."""

from config.build import build_digest


def _tree(root, template="<h1>{{ title }}</h1>"):
    (root / "templates").mkdir(parents=True, exist_ok=True)
    (root / "static" / "css").mkdir(parents=True, exist_ok=True)
    (root / "templates" / "page.html").write_text(template)
    (root / "static" / "css" / "site.css").write_text("h1 { color: navy }")
    return build_digest(root, ("templates", "static"))


def test_same_files_same_digest(tmp_path):
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_a_changed_template_or_stylesheet_changes_it(tmp_path):
    before = _tree(tmp_path)
    assert _tree(tmp_path, template="<h1>{{ title|upper }}</h1>") != before
    (tmp_path / "static" / "css" / "site.css").write_text("h1 { color: teal }")
    assert build_digest(tmp_path, ("templates", "static")) != before


def test_bytecode_and_other_files_do_not_count(tmp_path):
    before = _tree(tmp_path)
    (tmp_path / "templates" / "__pycache__").mkdir()
    (tmp_path / "templates" / "__pycache__" / "x.py").write_text("x = 1")
    (tmp_path / "static" / "notes.md").write_text("draft")
    assert build_digest(tmp_path, ("templates", "static")) == before


def test_the_redis_cache_prefix_carries_the_digest(settings):
    from pathlib import Path

    import pytest

    if "KEY_PREFIX" not in settings.CACHES["default"]:
        pytest.skip("the Redis cache is configured only with REDIS_URL (CI sets it)")
    root = Path(__file__).resolve().parent.parent
    digest = build_digest(
        root, ("templates", "static", "campaigns", "councils", "letters", "config")
    )
    assert settings.CACHES["default"]["KEY_PREFIX"].endswith(":" + digest)
