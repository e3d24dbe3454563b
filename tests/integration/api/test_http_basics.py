"""Health probes, the OpenAPI document, the docs page, and the JSON error shape."""

from __future__ import annotations

import re
from dataclasses import replace

from service.app import create_app
from service.bootstrap import bootstrap


def test_healthz_and_readyz(anonymous):
    assert anonymous.get("/healthz").json == {"status": "ok", "checks": {}}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    # No scheduler in this test, but the app has just started: it may be on its way.
    assert ready.json["checks"] == {"database": "ok", "redis": "ok", "scheduler": "starting"}


def test_readyz_is_503_when_redis_is_unreachable(settings):
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    kindred = bootstrap(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    response = create_app(kindred=kindred).test_client().get("/readyz")
    kindred.close()
    assert response.status_code == 503
    assert response.json["checks"] == {
        "database": "ok",
        "redis": "unavailable",
        "scheduler": "unavailable",
    }


def test_readyz_is_503_when_database_is_unreachable(settings, tmp_path):
    missing = tmp_path / "no-such-dir" / "sub" / "x.db"
    kindred = bootstrap(replace(settings, database_url=f"sqlite:///{missing}"))
    missing.parent.rmdir()  # make_engine created the folder; take it away again
    response = create_app(kindred=kindred).test_client().get("/readyz")
    kindred.close()
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "unavailable"


def test_openapi_documents_every_route_with_bearer_auth(anonymous, app):
    spec = anonymous.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    documented = {path for path in spec["paths"]}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            openapi_path = re.sub(r"<[^:>]+:(\w+)>", r"{\1}", rule.rule)
            assert openapi_path in documented, rule.rule
    create = spec["paths"]["/api/v1/listings"]["post"]
    assert create["security"] == [{"bearerAuth": []}]


def test_docs_page_serves_its_assets_locally(anonymous):
    page = anonymous.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html
    assert "http://" not in html.replace("http://localhost", "") and "https://" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        response = anonymous.get(f"/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.data) > 1000
        response.close()


def test_unknown_route_is_json_404(anonymous):
    response = anonymous.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_oversized_body_is_413(member):
    response = member.patch(
        "/api/v1/members/me",
        data=b'{"area": "' + b"x" * 70_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json["code"] == 413 and response.json["message"]


def test_malformed_json_is_400_in_the_same_shape(member):
    response = member.patch(
        "/api/v1/members/me", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_body_that_is_not_an_object_is_refused(member):
    response = member.patch("/api/v1/members/me", json=["a", "list"])
    assert response.status_code == 422
    assert response.json["errors"]
