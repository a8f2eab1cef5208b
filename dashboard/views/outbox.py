"""The development outbox (see dashboard/outbox.py): readable before logging
in, since the verification email is what lets a newcomer log in."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

from dashboard.outbox import outbox_enabled, outbox_get, outbox_list
from dashboard.views.common import page


def outbox_page(request: HttpRequest) -> HttpResponse:
    if not outbox_enabled():
        raise Http404("The outbox exists in development only.")
    return page(
        request, "dashboard/outbox.html", {"emails": outbox_list(), "outbox_dir": settings.EMAIL_OUTBOX_DIR}
    )


def outbox_message_page(request: HttpRequest, message_id: str) -> HttpResponse:
    message = outbox_get(message_id) if outbox_enabled() else None
    if message is None:
        raise Http404("No such email.")
    return page(request, "dashboard/outbox_message.html", {"email": message})
