"""The web pages: the coordinator dashboard (/dashboard), member pages (/me) and partner pages
(/partner). Server-rendered with Jinja; every script, style and chart is served by kindred."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from service.dashboard import coordinator, member, partner, sign_in
from service.dashboard.forms import FormInvalid
from service.dashboard.security import protect
from service.dashboard.web_session import signed_in
from service.domain.errors import DomainError

PAGE_BLUEPRINTS = (sign_in.bp, coordinator.bp, member.bp, partner.bp)


# Everything the JSON API serves; other paths are pages.
API_PATHS = ("/api/", "/openapi.json", "/healthz", "/readyz", "/docs")


def register_pages(app: Flask, api, api_blueprints: list[str]) -> None:
    settings = app.extensions["kindred"].settings
    protect(app, settings, api_blueprints)
    for blueprint in PAGE_BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def page_or_json_error(error: HTTPException):
        """An unknown address is a page for people and JSON for programs: the API's paths and
        callers that ask for JSON keep the API's error shape."""
        wants_json = request.accept_mimetypes.best == "application/json"
        if request.path.startswith(API_PATHS) or wants_json:
            return api.handle_http_exception(error)
        return render_template("error.html", status=error.code, message=error.description), (
            error.code
        )

    @app.context_processor
    def page_globals():
        return {"help_line": settings.help_line, "signed_in": signed_in}


def _private_pages(blueprint: Blueprint) -> None:
    """Pages show personal data and one-time secrets: never kept by a browser or a proxy cache
    (Back after signing out on a shared computer shows nothing)."""

    @blueprint.after_request
    def no_store(response):
        response.headers["Cache-Control"] = "no-store"
        return response


def _html_errors(blueprint: Blueprint) -> None:
    """Pages answer errors with a page (the API keeps its JSON shape)."""

    @blueprint.errorhandler(FormInvalid)
    def invalid_form(error: FormInvalid):
        problems = "; ".join(
            f"{name}: {' '.join(messages)}" if name != "_body" else " ".join(messages)
            for name, messages in error.errors.items()
        )
        return render_template("error.html", status=422, message=problems or error.message), 422

    @blueprint.errorhandler(CSRFError)
    def expired_form(error):
        message = (
            "This form has expired or was sent from another site. "
            "Go back, reload the page, and try again."
        )
        return render_template("error.html", status=400, message=message), 400

    @blueprint.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return render_template("error.html", status=error.status, message=error.message), (
            error.status
        )

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # A 429's Retry-After header is added by Flask-Limiter after this.
        status = error.code or 500
        return render_template("error.html", status=status, message=error.description), status


# Once, at import: blueprints are shared by every app this process creates (tests make many).
for _blueprint in PAGE_BLUEPRINTS:
    _html_errors(_blueprint)
    _private_pages(_blueprint)
