"""Your kindred (stub)."""

from __future__ import annotations

from flask import Blueprint, render_template

from service.dashboard.web_session import page_for
from service.domain.credentials import Role

bp = Blueprint("member", __name__, url_prefix="/me")


@bp.get("")
@page_for(Role.MEMBER)
def home():
    return render_template("stub.html", title="Your kindred")


@bp.get("/join")
def sign_up():
    return render_template("stub.html", title="Join")
