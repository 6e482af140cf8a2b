"""The landing page at ``/``: what SearchOp is and where everything is; the status (what
serves, the pipeline's last and next run, the running experiment) for logged-in staff only.
It lives in training because it shows the pipeline's runs (training > ranking > catalog)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from training.status import site_status_get

README = Path(settings.BASE_DIR) / "README.md"


@require_GET
def landing_view(request: HttpRequest) -> HttpResponse:
    staff = request.user.is_active and request.user.is_staff
    return render(request, "searchop/landing.html", {"status": site_status_get() if staff else None})


@require_GET
def readme_view(request: HttpRequest) -> FileResponse:
    """The README as it ships with the code (Markdown source, shown as text by browsers): the
    operations manual of the very version that runs, whatever repository host it came from."""
    if not README.is_file():
        raise Http404("README.md is not part of this installation")
    return FileResponse(README.open("rb"), content_type="text/plain; charset=utf-8")
