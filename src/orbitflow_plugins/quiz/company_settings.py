"""Settings → Quiz pages: which sites may embed the company's quizzes, and the privacy
policy the consent checkbox links to."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.tenants.models import Company
from orbitflow.tenants.settings_page import save_company_settings
from orbitflow_plugins.quiz.weburl import clean_web_url

MAX_SOURCES = 10
HOST_RE = re.compile(r"^(\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
LOCAL_HOSTS = {"localhost", "127.0.0.1"}


def clean_frame_ancestors(raw: str) -> tuple[str | None, str | None]:
    """A CSP ``frame-ancestors`` source list of origins, or an error message.

    Accepts ``https://example.com``, ``https://*.example.com``, ``https://example.com:8443``,
    ``'self'``, and ``http://`` for localhost only. Empty means no site may embed."""
    sources = raw.replace(",", " ").split()
    if not sources:
        return None, None
    if len(sources) > MAX_SOURCES:
        return None, f"List at most {MAX_SOURCES} sites."
    clean: list[str] = []
    for source in sources:
        if source.lower() in ("'self'", "self"):
            clean.append("'self'")
            continue
        parts = urlsplit(source.lower())
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:
            return None, f"{source}: the port is not a number."
        if parts.scheme not in ("https", "http") or not host or (parts.path not in ("", "/")) or parts.query:
            return None, f"{source}: give the site's origin only, like https://www.example.com."
        if parts.scheme == "http" and host not in LOCAL_HOSTS:
            return None, f"{source}: use https:// (http:// is allowed for localhost only)."
        if not HOST_RE.match(host) and host not in LOCAL_HOSTS:
            return None, f"{source}: this is not a valid host name."
        clean.append(f"{parts.scheme}://{host}" + (f":{port}" if port else ""))
    value = " ".join(dict.fromkeys(clean))
    if len(value) > 500:
        return None, "The list is too long: use at most 500 characters."
    return value, None


@view_config(
    route_name="quiz_company_settings",
    request_method=("GET", "POST"),
    renderer="quiz_company_settings.jinja2",
    permission="company.settings",
)
def quiz_pages_settings(request: Request):
    company = request.dbsession.get(Company, request.identity.company_id)
    form = {"frame_ancestors": company.frame_ancestors or "", "privacy_policy_url": company.privacy_policy_url or ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {key: request.POST.get(key, "").strip() for key in form}
        ancestors, problem = clean_frame_ancestors(form["frame_ancestors"])
        if problem:
            errors["frame_ancestors"] = problem
        privacy = form["privacy_policy_url"] or None
        if privacy:
            privacy, problem = clean_web_url(privacy, limit=500)
            if problem:
                errors["privacy_policy_url"] = problem
        if not errors:
            return save_company_settings(
                request,
                company,
                {"frame_ancestors": ancestors, "privacy_policy_url": privacy},
                saved="Quiz page settings saved.",
                route_name="quiz_company_settings",
            )
        request.response.status_int = 400
    return {"form": form, "errors": errors, "sample": request.route_url("quizzes")}
