"""What `make run` does on a first run: links in emails follow the port it serves on, and the
admin password is the last thing printed before the server starts."""

import os
import re
import shutil
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command

from letters import services
from letters.services import letter_queue
from tests.letters.delivery_helpers import make_letter

REPO = Path(django_settings.BASE_DIR)
needs_make = pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")


def run_make(*args: str, cwd: Path = REPO, env: dict | None = None) -> str:
    base = {key: value for key, value in os.environ.items() if key != "SITE_URL"}
    result = subprocess.run(
        ["make", "--no-print-directory", "-f", str(REPO / "Makefile"), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def runserver_line(output: str) -> str:
    return next(line for line in output.splitlines() if "manage.py runserver" in line)


@needs_make
def test_make_run_tells_the_server_its_own_address_as_site_url():
    line = runserver_line(run_make("-n", "run", "PORT=8100"))

    assert line.startswith("SITE_URL=http://127.0.0.1:8100 ")
    assert line.endswith("runserver --noreload 127.0.0.1:8100")


@needs_make
def test_make_run_keeps_a_site_url_that_is_set():
    line = runserver_line(
        run_make("-n", "run", "PORT=8100", env={"SITE_URL": "https://letters.example.org"})
    )

    assert line.startswith("SITE_URL=https://letters.example.org ")


@needs_make
def test_make_run_prints_the_admin_password_just_before_the_server_starts(tmp_path):
    # A stand-in for .venv/bin/python that says what it was asked to run, and with which
    # SITE_URL; the recipe's shell lines run for real.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python"
    fake.write_text('#!/bin/sh\necho "python $* (SITE_URL=$SITE_URL)"\n')
    fake.chmod(0o755)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "admin-password").write_text("s3cret-pass\n")

    output = run_make(
        "-o", "install", "run", "PORT=8100", f"BIN={bin_dir}", cwd=tmp_path
    ).splitlines()

    # After the password: make's echo of the runserver command, then the server's own output.
    assert output[-3] == "Admin login: user 'admin', password 's3cret-pass'"
    assert output[-2].endswith("python manage.py runserver --noreload 127.0.0.1:8100")
    assert output[-1] == (
        "python manage.py runserver --noreload 127.0.0.1:8100 (SITE_URL=http://127.0.0.1:8100)"
    )
    assert "python manage.py load_demo (SITE_URL=)" in output


# --- the links in an email sent by a server that make run started on port 8100 ----------------


def site_url_as_make_run_sets_it(port: str) -> str:
    """SITE_URL as config/settings.py reads it in the server `make run PORT=...` starts."""
    if shutil.which("make"):
        assignment = runserver_line(run_make("-n", "run", f"PORT={port}")).split()[0]
        value = assignment.removeprefix("SITE_URL=")
    else:
        value = f"http://127.0.0.1:{port}"
    code = "import django; django.setup(); from django.conf import settings as s; print(s.SITE_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "SITE_URL": value, "DJANGO_SETTINGS_MODULE": "config.settings"},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.django_db
def test_every_link_in_the_emails_follows_the_port_make_run_serves_on(
    settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = site_url_as_make_run_sets_it("8100")
    assert settings.SITE_URL == "http://127.0.0.1:8100"

    letter = make_letter(recipients=1, send_copy=True, language="fr")
    with django_capture_on_commit_callbacks(execute=True):
        letter_queue(letter=letter)
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_delete_request(letter=letter)

    links = []
    for message in mail.outbox:
        for text in (message.body, message.alternatives[0][0]):
            links += re.findall(r"https?://[^\s\"'<>]+", text)
    own = [link for link in links if "127.0.0.1" in link or "localhost" in link]
    assert len(own) >= 3  # the copy's status and delete links, the erasure notice's site link
    assert all(link.startswith("http://127.0.0.1:8100/") for link in own), own
    assert not [link for link in links if ":8000" in link]


# --- load_demo keeps the local admin's password where make run finds it ------------------------


@pytest.fixture
def embedded(settings, tmp_path, db):
    settings.DEBUG = True
    settings.DATABASE_URL = ""
    settings.VAR_DIR = tmp_path
    return tmp_path / "admin-password"


def load_demo() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def test_load_demo_keeps_the_new_admin_password_in_a_private_file(embedded):
    output = load_demo()

    password = embedded.read_text().strip()
    assert f"password '{password}'" in output
    assert stat.S_IMODE(embedded.stat().st_mode) == 0o600
    assert get_user_model().objects.get(username="admin").check_password(password)
    # Run again: still on show.
    assert "password in" in load_demo()
    assert embedded.read_text().strip() == password


def test_load_demo_forgets_the_password_once_it_is_changed(embedded):
    load_demo()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("chosen by the organizer")
    admin.save()

    output = load_demo()

    assert not embedded.exists()
    assert "changepassword admin" in output


def test_load_demo_creates_no_admin_outside_the_embedded_default(embedded, settings):
    settings.DATABASE_URL = "postgres://example"

    load_demo()

    assert not get_user_model().objects.filter(username="admin").exists()
    assert not embedded.exists()
