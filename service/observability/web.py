"""The HTTP side of observability: the request id, request timing, and GET /metrics.

/metrics is a plain Flask blueprint: not in the OpenAPI document (it is for Prometheus, not for
API clients) and not rate limited (limits apply to the API's resource blueprints only). It
shows counts and timings by route, and queue depths: no ids, nothing personal. Keep it off the
public internet at the proxy all the same, as /readyz's details.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, g, request

from service.observability import logs, metrics

REQUEST_ID_HEADER = "X-Request-ID"

blp = Blueprint("metrics", __name__)


@blp.get("/metrics")
def scrape():
    kindred = current_app.extensions["kindred"]
    return Response(metrics.exposition(kindred.redis), content_type=metrics.CONTENT_TYPE)


def init_app(app: Flask) -> None:
    """Registered before everything else, so timing covers the other hooks (limits, sessions)
    and every log line of the request, theirs too, carries its id."""
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_forget)
    app.register_blueprint(blp)


def _start() -> None:
    g.request_started = time.perf_counter()
    request_id = logs.sane_request_id(request.headers.get(REQUEST_ID_HEADER))
    g.request_id = request_id
    g.request_id_token = logs.set_request_id(request_id)


def _finish(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    if started is not None:
        # The url rule, never the path: /listings/<listing_id>, not one series per listing.
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.HTTP_REQUEST_SECONDS.labels(
            route=route, method=request.method, status=str(response.status_code)
        ).observe(time.perf_counter() - started)
    return response


def _forget(_error) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        logs.reset_request_id(token)
