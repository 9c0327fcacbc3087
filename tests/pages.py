"""Helpers for tests of the web pages: embedded JSON, CSRF tokens, signing in."""

from __future__ import annotations

import json
import re


def embedded(html: str, element_id: str) -> dict:
    """The JSON a page embeds in <script type="application/json" id=...>."""
    m = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert m, element_id
    return json.loads(m.group(1))


def csrf(html: str) -> str:
    """The CSRF token of a page's form (or its meta tag)."""
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m
    return m.group(1)


def login(client, username: str, password: str = "password123", next_: str = "/"):
    """Sign in through /login, as a person would (session cookie)."""
    token = csrf(client.get("/login").get_data(as_text=True))
    return client.post(f"/login?next={next_}", data={"username": username, "password": password, "csrf_token": token})
