"""`gridmap users list|disable|enable|passwd|revoke-token|totp`: account upkeep (issue #15).

Disabling a user or changing a password ends every session of theirs at once (their
session generation is bumped); a disabled user's API tokens stop working too.
"""

from __future__ import annotations

from contextlib import contextmanager

import click

from ..i18n import tr
from ..incidents.actors import ROLES
from .context import Context, fail_cleanly, pass_ctx


@click.group()
def users() -> None:
    """Web and API users: admin, planner, dispatcher, staff, leader (read-only)."""


@users.command(name="add")
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLES)), required=True,
              help="leader: reads the dashboard, maps, metrics and board; acts on nothing, sees no reporters' data.")
@click.option("--person", help="staff: the person_id whose grids this user serves.")
@click.password_option(help="Password (prompted if not given).")
@pass_ctx
@fail_cleanly
def add_user(obj: Context, username, role, person, password) -> None:
    """Create a user."""
    from ..accounts import create_user

    store = obj.services(create=True).store
    try:
        create_user(store, username, password, role, person)
    finally:
        store.close()  # a PostGIS connection is not left open
    click.echo(tr("user %(username)s (%(role)s) created", username=username, role=role))


@users.command(name="token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for.")
@click.option("--days", type=float, help="Days until the token expires [default: setting token_days; 0 = never].")
@pass_ctx
@fail_cleanly
def token(obj: Context, username, label, days) -> None:
    """Create an API token for a user and print it (only its hash is stored)."""
    from ..accounts import create_token

    s = obj.services()
    click.echo(create_token(s.store, username, label, days=s.settings.token_days if days is None else days))


@contextmanager
def _store(obj: Context):
    """The store, closed afterwards (a PostGIS connection is not left open)."""
    store = obj.services().store
    try:
        yield store
    finally:
        store.close()


@users.command(name="list")
@pass_ctx
@fail_cleanly
def list_users(obj: Context) -> None:
    """Every user: name, role, person, state and API tokens."""
    with _store(obj) as store:
        rows = store.users.list()
    if not rows:
        click.echo(tr("no users: add one with `gridmap users add`"))
    for r in rows:
        state = tr("disabled") if r["disabled"] else tr("active")
        mfa = "2FA" if r["totp"] else "-"
        click.echo(tr("%(username)s\t%(role)s\t%(v)s\t%(state)s\t%(mfa)s\t%(tokens)s token(s)", username=r["username"], role=r["role"], v=r["person_id"] or "-", state=state, mfa=mfa, tokens=r["tokens"]))


@users.command(name="disable")
@click.argument("username")
@pass_ctx
@fail_cleanly
def disable(obj: Context, username) -> None:
    """Stop a user: no login, no API token, their sessions end now."""
    with _store(obj) as store:
        store.users.update_user(username, disabled=True)
    click.echo(tr("user %(username)s disabled; their sessions and tokens no longer work", username=username))


@users.command(name="enable")
@click.argument("username")
@pass_ctx
@fail_cleanly
def enable(obj: Context, username) -> None:
    """Let a disabled user in again."""
    with _store(obj) as store:
        store.users.update_user(username, disabled=False)
    click.echo(tr("user %(username)s enabled", username=username))


@users.command(name="passwd")
@click.argument("username")
@click.password_option(help="The new password (prompted if not given).")
@pass_ctx
@fail_cleanly
def passwd(obj: Context, username, password) -> None:
    """Set a new password; the user's sessions end."""
    from ..accounts import set_password

    with _store(obj) as store:
        set_password(store, username, password)
    click.echo(tr("password of %(username)s changed; their sessions ended", username=username))


@users.command(name="revoke-token")
@click.argument("username")
@click.option("--label", help="Only the tokens with this label [default: all of the user's tokens].")
@pass_ctx
@fail_cleanly
def revoke_token(obj: Context, username, label) -> None:
    """Delete a user's API tokens."""
    with _store(obj) as store:
        n = store.users.revoke_tokens(username, label)
    click.echo(tr("%(n)s token(s) of %(username)s revoked", n=n, username=username))


@users.command(name="totp")
@click.argument("username")
@click.option("--off", is_flag=True, help="Turn two-factor login off for the user (secret and recovery codes deleted).")
@pass_ctx
@fail_cleanly
def totp(obj: Context, username, off) -> None:
    """Two-factor login (TOTP): a new secret for the user, shown once; their sessions end.

    Prints the otpauth URI (for a QR code or an authenticator app), the secret to type in by
    hand, and ten one-time recovery codes. Running it again replaces the secret (a new phone).
    """
    with _store(obj) as store:
        if off:
            store.totp.disable(username)
            click.echo(tr("two-factor login of %(username)s turned off; their sessions ended", username=username))
            return
        from ..web.twofactor import enrol

        secret, uri, codes = enrol(store, username)
    click.echo(tr("two-factor login of %(username)s is on (shown once, not again):", username=username))
    click.echo(tr("otpauth URI: %(uri)s", uri=uri))
    click.echo(tr("secret: %(secret)s", secret=secret))
    click.echo(tr("recovery codes (each works once):"))
    for c in codes:
        click.echo(f"  {c}")
