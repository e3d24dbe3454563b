"""Your listings (stub)."""

from __future__ import annotations

from flask import Blueprint, render_template

from service.dashboard.web_session import page_for
from service.domain.credentials import Role

bp = Blueprint("partner", __name__, url_prefix="/partner")


@bp.get("")
@page_for(Role.PARTNER)
def home():
    return render_template("stub.html", title="Your listings")
