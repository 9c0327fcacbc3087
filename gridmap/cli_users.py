"""`gridmap users list|disable|enable|passwd|revoke-token`: account upkeep (issue #15).

Disabling a user or changing a password ends every session of theirs at once (their
session generation is bumped); a disabled user's API tokens stop working too.
"""

from __future__ import annotations

from contextlib import contextmanager

import click

from .cli import _Ctx, _fail_cleanly, pass_ctx
from .cli_incidents import users


@contextmanager
def _store(obj: _Ctx):
    """The store, closed afterwards (a PostGIS connection is not left open)."""
    store = obj.services().store
    try:
        yield store
    finally:
        store.close()


@users.command(name="list")
@pass_ctx
@_fail_cleanly
def list_users(obj: _Ctx) -> None:
    """Every user: name, role, person, state and API tokens."""
    with _store(obj) as store:
        rows = store.security.users()
    if not rows:
        click.echo("no users: add one with `gridmap users add`")
    for r in rows:
        state = "disabled 已停用" if r["disabled"] else "active"
        click.echo(f"{r['username']}\t{r['role']}\t{r['person_id'] or '-'}\t{state}\t{r['tokens']} token(s)")


@users.command(name="disable")
@click.argument("username")
@pass_ctx
@_fail_cleanly
def disable(obj: _Ctx, username) -> None:
    """Stop a user: no login, no API token, their sessions end now."""
    with _store(obj) as store:
        store.security.update_user(username, disabled=True)
    click.echo(f"user {username} disabled; their sessions and tokens no longer work")


@users.command(name="enable")
@click.argument("username")
@pass_ctx
@_fail_cleanly
def enable(obj: _Ctx, username) -> None:
    """Let a disabled user in again."""
    with _store(obj) as store:
        store.security.update_user(username, disabled=False)
    click.echo(f"user {username} enabled")


@users.command(name="passwd")
@click.argument("username")
@click.password_option(help="The new password (prompted if not given).")
@pass_ctx
@_fail_cleanly
def passwd(obj: _Ctx, username, password) -> None:
    """Set a new password; the user's sessions end."""
    from .web.auth import set_password

    with _store(obj) as store:
        set_password(store, username, password)
    click.echo(f"password of {username} changed; their sessions ended")


@users.command(name="revoke-token")
@click.argument("username")
@click.option("--label", help="Only the tokens with this label [default: all of the user's tokens].")
@pass_ctx
@_fail_cleanly
def revoke_token(obj: _Ctx, username, label) -> None:
    """Delete a user's API tokens."""
    with _store(obj) as store:
        n = store.security.revoke_tokens(username, label)
    click.echo(f"{n} token(s) of {username} revoked")
