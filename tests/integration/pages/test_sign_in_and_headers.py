"""Signing in to the web pages, CSRF, rate limits and the security headers."""

from __future__ import annotations

import mailbox
import re

from service.domain.credentials import Role
from tests.integration.api.conftest import run_worker
from tests.integration.pages.conftest import COORDINATOR_EMAIL, PageClient, text_of


def test_pages_send_strict_security_headers(visitor):
    response = visitor.get("/dashboard/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in text_of(response)  # no inline script to allow


def test_session_cookie_is_secure_http_only_and_host_bound(visitor, coordinator_account):
    visitor.get("/dashboard/login")
    response = visitor.post(
        "/dashboard/login", {"email": COORDINATOR_EMAIL, "password": "a long password"}
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-kindred_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie


def test_docs_page_runs_without_inline_script(visitor):
    page = text_of(visitor.get("/docs"))
    assert "docs-init.js" in page and "<script>" not in page


def test_wrong_password_is_refused_without_saying_which_part(visitor, coordinator_account):
    visitor.get("/dashboard/login")
    wrong_password = visitor.post(
        "/dashboard/login", {"email": COORDINATOR_EMAIL, "password": "not it"}
    )
    unknown_email = visitor.post(
        "/dashboard/login", {"email": "nobody@example.org", "password": "not it"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert "wrong email or password" in text_of(wrong_password)
    assert "wrong email or password" in text_of(unknown_email)
    assert visitor.get("/dashboard").status_code == 302  # still signed out


def test_a_form_without_its_csrf_token_is_refused(visitor, coordinator_account):
    response = visitor.post(
        "/dashboard/login",
        {"email": COORDINATOR_EMAIL, "password": "a long password"},
        csrf=False,
    )
    assert response.status_code == 400
    assert "expired" in text_of(response)
    assert visitor.get("/dashboard").status_code == 302


def test_the_json_api_needs_no_csrf_token(app, coordinator_account):
    response = app.test_client().get(
        "/api/v1/organizations",
        headers={"Authorization": f"Bearer {coordinator_account.token}"},
    )
    assert response.status_code == 200


def test_sign_in_attempts_are_rate_limited_per_address(visitor, kindred, coordinator_account):
    visitor.get("/dashboard/login")
    statuses = [
        visitor.post(
            "/dashboard/login", {"email": COORDINATOR_EMAIL, "password": "guess"}
        ).status_code
        for _ in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    limited = visitor.post("/dashboard/login", {"email": COORDINATOR_EMAIL, "password": "guess"})
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too many tries" in text_of(limited)


def test_signed_out_visitors_are_sent_to_sign_in_and_back(visitor):
    for path, sign_in_path in [
        ("/dashboard", "/dashboard/login"),
        ("/me", "/me/sign-in"),
        ("/partner", "/partner/sign-in"),
    ]:
        response = visitor.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith(sign_in_path)
        assert "next=" in response.headers["Location"]


def test_after_sign_in_only_local_next_paths_are_followed(visitor, coordinator_account):
    visitor.get("/dashboard/login")
    for target, expected in [
        ("/dashboard?x=1", "/dashboard?x=1"),
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
    ]:
        visitor.get("/dashboard/login")  # signing in starts a new session, with a new token
        response = visitor.post(
            "/dashboard/login",
            {"email": COORDINATOR_EMAIL, "password": "a long password", "next": target},
        )
        assert response.headers["Location"] == expected


def test_each_role_is_refused_the_other_roles_pages(coordinator_page, partner_page):
    assert coordinator_page.get("/dashboard").status_code == 200
    assert coordinator_page.get("/partner").status_code == 403
    assert coordinator_page.get("/me").status_code == 403
    assert partner_page.get("/partner").status_code == 200
    refused = partner_page.get("/dashboard")
    assert refused.status_code == 403
    assert "signed in as a partner" in text_of(refused)


def test_partner_sign_in_with_a_revoked_key_ends(app, kindred, organization, partner_page):
    from service.domain.credentials import Principal
    from service.services.organizations import revoke_key

    org, _ = organization
    with kindred.uow() as uow:
        key_id = uow.organizations.get(org.id).api_keys[0].id
    revoke_key(kindred.uow(), Principal(Role.PARTNER, org.id), org.id, key_id)
    assert partner_page.get("/partner").status_code == 302  # back to sign-in


def test_a_member_key_does_not_open_partner_pages(visitor, app):
    visitor.get("/partner/sign-in")
    response = visitor.post("/partner/sign-in", {"api_key": "km_not-a-partner-key"})
    assert response.status_code == 401


def test_sign_out_ends_the_session(coordinator_page):
    coordinator_page.get("/dashboard")
    coordinator_page.post("/sign-out")
    assert coordinator_page.get("/dashboard").status_code == 302


def _member(kindred, email="sam@example.org"):
    from service.services.members import sign_up

    return sign_up(
        kindred.uow(), {"email": email, "display_name": "Sam", "interests": ["walking"]}
    ).member


def _links_in_mail(kindred) -> list[str]:
    box = mailbox.Maildir(kindred.settings.var_dir / "mail", create=False)
    found = []
    for message in box:
        text = message.get_payload(decode=True).decode()
        found += re.findall(r"https?://\S+/me/sign-in/\S+", text)
    return found


def test_member_signs_in_with_an_emailed_link_once(app, kindred, visitor):
    _member(kindred)
    visitor.get("/me/sign-in")
    answer = visitor.post("/me/sign-in", {"email": "sam@example.org"})
    assert "Check your email" in text_of(answer)
    run_worker(kindred)
    [link] = _links_in_mail(kindred)
    path = link.split("://", 1)[1].split("/", 1)[1]
    confirm = visitor.get("/" + path)  # opening the link alone signs nobody in
    assert confirm.status_code == 200 and visitor.get("/me").status_code == 302
    assert visitor.post("/" + path).headers["Location"].endswith("/me")
    assert visitor.get("/me").status_code == 200
    again = PageClient(app)
    again.get("/" + path)
    reused = again.post("/" + path)
    assert reused.status_code == 401 and "used already" in text_of(reused)


def test_unknown_emails_get_the_same_answer_and_no_mail(kindred, visitor):
    visitor.get("/me/sign-in")
    answer = visitor.post("/me/sign-in", {"email": "nobody@example.org"})
    assert "Check your email" in text_of(answer)
    run_worker(kindred)
    assert not (kindred.settings.var_dir / "mail").exists() or _links_in_mail(kindred) == []


def test_forged_links_are_refused(visitor):
    visitor.get("/me/sign-in/forged")
    response = visitor.post("/me/sign-in/forged")
    assert response.status_code == 401 and "not valid" in text_of(response)


def test_unknown_addresses_are_a_page_for_people_and_json_for_programs(visitor, app):
    page = visitor.get("/no-such-page")
    assert page.status_code == 404
    assert page.mimetype == "text/html" and "Not found" in text_of(page)
    api = app.test_client().get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json["code"] == 404
    asked_for_json = app.test_client().get("/nope", headers={"Accept": "application/json"})
    assert asked_for_json.status_code == 404 and asked_for_json.json["code"] == 404


def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_limit(kindred, coordinator_account):
    import dataclasses

    from service.app import create_app

    behind_proxy = dataclasses.replace(kindred.settings, trusted_proxies=1)
    app = create_app(kindred=dataclasses.replace(kindred, settings=behind_proxy))

    def attempt(client_address: str) -> int:
        client = PageClient(app)
        headers = {"X-Forwarded-For": client_address}
        client.client.get("/dashboard/login", base_url="https://localhost", headers=headers)
        page = client.client.get("/dashboard/login", base_url="https://localhost", headers=headers)
        token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
        return client.client.post(
            "/dashboard/login",
            data={"email": COORDINATOR_EMAIL, "password": "guess", "csrf_token": token},
            base_url="https://localhost",
            headers=headers,
        ).status_code

    assert [attempt("203.0.113.7") for _ in range(11)][-1] == 429
    assert attempt("198.51.100.2") == 401  # another client is not locked out


def test_asking_for_links_again_within_a_minute_sends_one(kindred, visitor):
    _member(kindred)
    visitor.get("/me/sign-in")
    for _ in range(3):
        assert "Check your email" in text_of(
            visitor.post("/me/sign-in", {"email": "sam@example.org"})
        )
    run_worker(kindred)
    assert len(_links_in_mail(kindred)) == 1


def test_with_forced_https_forms_still_work_without_a_referer(kindred, coordinator_account):
    """Pages send no Referer (Referrer-Policy: no-referrer), so a Referer check on HTTPS posts
    would refuse every form; the CSRF token is the check."""
    import dataclasses

    from service.app import create_app

    https_only = dataclasses.replace(kindred.settings, force_https=True)
    client = PageClient(create_app(kindred=dataclasses.replace(kindred, settings=https_only)))
    client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login", {"email": COORDINATOR_EMAIL, "password": "a long password"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"


def test_coordinators_sign_in_whatever_the_case_of_their_email(kindred, visitor):
    from service.services.coordinators import create_coordinator

    create_coordinator(kindred.uow(), "Ada.Lovelace@Example.org", "Ada", "a long password")
    visitor.get("/dashboard/login")
    response = visitor.post(
        "/dashboard/login", {"email": "ada.lovelace@example.org", "password": "a long password"}
    )
    assert response.status_code == 302
