"""Who reaches which page: sign-in required, second factor enforced, CSRF on, headers set."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from cpniguard.accounts.models import StaffUser
from cpniguard.accounts.twofactor import SESSION_KEY
from cpniguard.policy import Policy
from cpniguard.subscribers.models import Subscriber
from cpniguard.web import urls as web_urls
from cpniguard.web.guards import PUBLIC_PAGES
from cpniguard.web.middleware import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db


def page_paths() -> dict[str, tuple[str, str]]:
    """Every named page of the UI with a concrete path and its method, from the URL map."""
    pages: dict[str, tuple[str, str]] = {}
    for pattern in web_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        name = str(pattern.name)
        kwargs = dict.fromkeys(pattern.pattern.regex.groupindex, 1)
        method = "post" if name in {"logout", "interaction_add", "token_revoke"} else "get"
        pages[name] = (reverse(f"web:{name}", kwargs=kwargs), method)
    return pages


def test_every_staff_page_needs_a_signed_in_session() -> None:
    client = Client()
    pages = page_paths()
    assert len(pages) >= 11  # the walk must actually cover the URL map
    for name, (path, method) in pages.items():
        if name in PUBLIC_PAGES:
            continue
        response = getattr(client, method)(path)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("web:login") + "?next="), name


def test_public_pages_answer_without_a_session() -> None:
    client = Client()
    assert client.get(reverse("web:login")).status_code == 200
    assert client.get(reverse("web:policy_notice")).status_code == 200
    # The second-factor page needs the password step first.
    second = client.get(reverse("web:second_factor"))
    assert second.status_code == 302
    assert second["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("role", ["custodian", "compliance", "admin"])
def test_second_factor_roles_are_held_at_the_second_factor_page(
    role: str, make_staff: Callable[..., StaffUser], policy: Policy
) -> None:
    assert policy.roles[role].second_factor
    client = Client()
    client.force_login(make_staff(role))
    for name, (path, method) in page_paths().items():
        if name in {"logout", "policy_notice", "second_factor", "login"}:
            continue
        response = getattr(client, method)(path)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("web:second_factor")), name
    assert client.get(reverse("web:policy_notice")).status_code == 200
    # The matrix tests mark a passed second factor with exactly this session key.
    session = client.session
    session[SESSION_KEY] = True
    session.save()
    assert client.get(reverse("web:home")).status_code == 200


def test_roles_without_second_factor_get_straight_in(
    make_staff: Callable[..., StaffUser],
) -> None:
    client = Client()
    client.force_login(make_staff("support"))
    assert client.get(reverse("web:home")).status_code == 200


def test_a_post_without_the_csrf_token_is_rejected(
    make_staff: Callable[..., StaffUser], subscriber: Subscriber
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_staff("support"))
    response = client.post(
        reverse("web:interaction_add", args=[subscriber.pk]),
        {"purpose": "provide_service", "channel": "phone", "summary": "forged"},
    )
    assert response.status_code == 403
    assert b"security token" in response.content
    assert not subscriber.interactions.filter(summary="forged").exists()
    # Logout and the login form are protected too.
    assert client.post(reverse("web:logout")).status_code == 403
    assert Client(enforce_csrf_checks=True).post(
        reverse("web:login"), {"username": "support1", "password": "x"}).status_code == 403


def test_the_same_post_with_the_token_goes_through(
    make_staff: Callable[..., StaffUser], subscriber: Subscriber
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_staff("support"))
    detail = client.get(reverse("web:subscriber_detail", args=[subscriber.pk]),
                        {"purpose": "provide_service"})
    token = detail.cookies["csrftoken"].value
    response = client.post(
        reverse("web:interaction_add", args=[subscriber.pk]),
        {"purpose": "provide_service", "channel": "phone", "summary": "genuine",
         "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert subscriber.interactions.filter(summary="genuine").exists()


def test_security_headers_and_csp_on_a_page(make_staff: Callable[..., StaffUser]) -> None:
    client = Client()
    client.force_login(make_staff("support"))
    response = client.get(reverse("web:home"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Request-Id"]
    html = response.content.decode()
    # Nothing the CSP would block: no inline script, no style attribute or element.
    assert "<script>" not in html
    assert "style=" not in html
    assert "<style" not in html
    # htmx reads its settings from this meta tag: it must parse, or htmx would silently fall
    # back to injecting inline styles the CSP blocks.
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert meta
    config = json.loads(meta.group(1))
    assert config["includeIndicatorStyles"] is False
    assert "style" not in config["attributesToSettle"]
    assert any(rule["code"] == "(403|422)" and rule["swap"] for rule in config["responseHandling"])


def test_static_assets_are_served_from_our_own_origin() -> None:
    client = Client()
    page = client.get(reverse("web:login")).content.decode()
    assert 'src="/static/web/vendor/htmx.min.js"' in page
    assert 'href="/static/web/cpniguard.css"' in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page
