"""The query playground page (``/admin/ranking/playground/?q=...``): staff with the registry's
view permission type a query, optionally a user and a ranker to put beside production. The
page only reads: ``ranking.playground`` ranks without logging shop traffic."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from ranking.models import ModelVersion
from ranking.playground import PlaygroundError, playground_rank, playground_ranker_choices
from ranking.serving.state import ServingUnavailable

VIEW_PERMISSION = "ranking.view_modelversion"


class PlaygroundForm(forms.Form):
    q = forms.CharField(label="query", max_length=512, required=False)
    user = forms.CharField(label="user id", max_length=128, required=False, help_text="Optional.")
    other = forms.ChoiceField(label="beside production", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["other"].choices = playground_ranker_choices()


def playground_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    form = PlaygroundForm(request.GET or None)
    result, problem = None, ""
    if form.is_valid() and form.cleaned_data["q"].strip():
        try:
            result = playground_rank(
                query=form.cleaned_data["q"],
                user_id=form.cleaned_data["user"],
                other=form.cleaned_data["other"] or "bm25",
                explain=request.GET.get("why", "")[:128],  # a row's "why?" link, not the form
            )
        except (PlaygroundError, ServingUnavailable) as error:
            problem = str(error)
    context = {
        **admin.site.each_context(request),
        "opts": ModelVersion._meta,
        "title": "Query playground",
        "form": form,
        "result": result,
        "problem": problem,
        "connection_vendor": connection.vendor,
        "base_query": _without_why(request),
    }
    return TemplateResponse(request, "admin/ranking/playground/playground.html", context)


def _without_why(request: HttpRequest) -> str:
    """The page's query string without ``why``, to which each row's "why" link adds its product."""
    query = request.GET.copy()
    query.pop("why", None)
    return query.urlencode()
