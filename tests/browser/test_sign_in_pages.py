"""The pages anyone can reach before signing in, in a real browser: accessible (axe-core), no
console or CSP errors, usable with the keyboard alone, and each role sent to its own door."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import (
    COORDINATOR_EMAIL,
    COORDINATOR_PASSWORD,
    DESKTOP,
    MOBILE,
    assert_accessible,
    assert_no_console_errors,
    console_errors,
    csp_violations,
    screenshot,
)

SIGN_IN_PAGES = {
    "/": "start",
    "/dashboard/login": "coordinator-sign-in",
    "/partner/sign-in": "partner-sign-in",
    "/me/sign-in": "member-sign-in",
}


@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "mobile"])
@pytest.mark.parametrize("path", list(SIGN_IN_PAGES))
def test_sign_in_pages_are_accessible_and_error_free(new_page, path, viewport):
    page = new_page(viewport)
    response = page.goto(path)
    assert response.status == 200
    size = "mobile" if viewport == MOBILE else "desktop"
    assert screenshot(page, f"{SIGN_IN_PAGES[path]}-{size}").exists()
    assert_accessible(page)
    assert_no_console_errors(page)


def _focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def _tab_to(page, element_id: str, most: int = 10) -> None:
    for _ in range(most):
        page.keyboard.press("Tab")
        if _focused_id(page) == element_id:
            return
    raise AssertionError(f"#{element_id} is not reached with {most} presses of Tab")


def test_a_coordinator_signs_in_with_the_keyboard_alone(page, coordinator_account):
    page.goto("/dashboard/login")
    screenshot(page, "keyboard-coordinator-sign-in")
    _tab_to(page, "email")
    page.keyboard.type(COORDINATOR_EMAIL)
    page.keyboard.press("Tab")
    assert _focused_id(page) == "password"
    page.keyboard.type(COORDINATOR_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path == "/dashboard"
    screenshot(page, "keyboard-coordinator-signed-in")
    assert_no_console_errors(page)


def test_keyboard_focus_is_visible_on_the_start_page(page):
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => {
            const element = document.activeElement;
            const style = getComputedStyle(element);
            return {tag: element.tagName, style: style.outlineStyle, width: style.outlineWidth};
        }"""
    )
    screenshot(page, "start-focus-visible")
    assert focused["tag"] != "BODY", "Tab moved focus nowhere"
    assert focused["style"] != "none" and focused["width"] != "0px", focused


@pytest.mark.parametrize(
    ("target", "door"),
    [("/dashboard", "/dashboard/login"), ("/me", "/me/sign-in"), ("/partner", "/partner/sign-in")],
)
def test_signed_out_visitors_land_on_the_right_sign_in_page(page, target, door):
    response = page.goto(target)
    assert response.status == 200
    landed = urlsplit(page.url)
    assert landed.path == door
    assert parse_qs(landed.query).get("next") == [target]
    screenshot(page, f"signed-out{target.replace('/', '-')}")
    assert_no_console_errors(page)


def test_a_partner_opening_the_dashboard_gets_the_403_page(partner_page):
    screenshot(partner_page, "partner-signed-in")
    response = partner_page.goto("/dashboard")
    assert response.status == 403
    assert partner_page.locator("h1").inner_text() == "Not for this account"
    screenshot(partner_page, "partner-on-dashboard-403")
    assert_accessible(partner_page)
    # The browser reports the 403 of the page itself; anything else would be a fault.
    assert_no_console_errors(partner_page, ignore=(r"status of 403",))


def test_the_api_docs_render_under_the_csp(page):
    response = page.goto("/docs")
    assert response.status == 200
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() > 5
    screenshot(page, "api-docs")
    assert csp_violations(page) == []
    assert not [error for error in console_errors(page) if error.startswith("uncaught:")]


def test_the_session_cookie_is_host_only_secure_and_http_only(coordinator_page):
    screenshot(coordinator_page, "coordinator-signed-in")
    cookies = {cookie["name"]: cookie for cookie in coordinator_page.context.cookies()}
    assert "kindred_session" not in cookies
    session = cookies["__Host-kindred_session"]
    assert session["secure"] is True
    assert session["httpOnly"] is True
    assert session["path"] == "/"
    assert session["sameSite"] == "Lax"


def test_the_console_record_catches_csp_violations(page):
    """The "no CSP violation" checks above mean something: a blocked inline script is seen."""
    page.goto("/")
    with page.expect_console_message(lambda message: message.type == "error"):
        page.evaluate(
            "document.body.appendChild(Object.assign(document.createElement('script'),"
            " {textContent: 'window.injected = true'}))"
        )
    assert page.evaluate("window.injected") is None
    assert csp_violations(page), console_errors(page)
