"""The ceiling for bench/page_load.py: bare Django, served the same way.

One view renders a small template, with no query. No sessions, no auth, no i18n, no
middleware, nothing of the app: what Django itself costs on this machine.
"""

import os
import sys
from pathlib import Path

import django
from django.conf import settings
from django.http import HttpResponse
from django.template import Context, Template
from django.urls import path

if not settings.configured:
    import environ

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-bare",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        DATABASES={
            "default": {
                **environ.Env.db_url_config(os.environ["DATABASE_URL"]),
                "CONN_MAX_AGE": 60,
                "CONN_HEALTH_CHECKS": True,
            }
        },
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
        USE_TZ=True,
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    django.setup()

PAGE = Template(
    "<!doctype html><html lang='en'><head><title>{{ title }}</title></head>"
    "<body><main><h1>{{ title }}</h1>{% for p in paragraphs %}<p>{{ p }}</p>{% endfor %}"
    "</main></body></html>"
)


def page(request):
    return HttpResponse(
        PAGE.render(Context({"title": "Bare", "paragraphs": ["Hello, council."] * 20}))
    )


urlpatterns = [path("page/", page)]

application = None


def _application():
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


application = _application()
