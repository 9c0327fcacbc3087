"""Blueprint "pages": HTML views over the same services as the API."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..model import Level
from . import services

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    s = services()
    info = s.store.info()
    units = s.units()
    return render_template("home.html", info=info, units=units, levels=list(Level),
                           problems={p.code: p for p in s.team_problems()})
