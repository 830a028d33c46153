"""A minimal Django site licensed by its vendor, in one file: settings, views, URLs.

``/report`` needs the license, ``/export`` a "pro" one; refusals are JSON answers
(403 / 503), never a 500. Needs ``pip install "authforge-guard[django]"``. Set up the
environment as in examples/README.md, then:

    python examples/django_app/app.py runserver 8000
    python examples/django_app/app.py check-license    # asks both URLs once and exits
"""

from __future__ import annotations

import sys
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="example-only-not-secret",  # noqa: S106  (an example, not a deployment)
    MIDDLEWARE=["authforge_guard.django.LicenseErrorMiddleware"],
)
django.setup()

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # noqa: E402  (pinned: examples/README.md)

from authforge_guard import configure  # noqa: E402
from authforge_guard.django import feature_required, license_required  # noqa: E402

# Whose licenses this site believes: pinned in code, as in the quick start.
configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)


@license_required
def report(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"report": "ok", "tier": request.license.tier})


@feature_required("pro")
def export(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"export": "ok"})


urlpatterns = [path("report", report), path("export", export)]


def main(argv: Any = None) -> int:
    argv = sys.argv if argv is None else argv
    if argv[1:] == ["check-license"]:
        from django.test import Client

        client = Client()
        for url in ("/report", "/export"):
            answer = client.get(url)
            print(url, answer.status_code, answer.json())
        return 0
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
