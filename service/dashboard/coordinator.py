"""Overview (stub)."""

from __future__ import annotations

from flask import Blueprint, render_template

from service.dashboard.web_session import page_for
from service.domain.credentials import Role

bp = Blueprint("coordinator", __name__, url_prefix="/dashboard")


@bp.get("")
@page_for(Role.COORDINATOR)
def overview():
    return render_template("stub.html", title="Overview")
