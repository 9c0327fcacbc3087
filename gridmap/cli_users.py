"""`gridmap users list|disable|enable|passwd|revoke-token|totp`: account upkeep (issue #15).

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
        mfa = "2FA" if r["totp"] else "-"
        click.echo(f"{r['username']}\t{r['role']}\t{r['person_id'] or '-'}\t{state}\t{mfa}\t{r['tokens']} token(s)")


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


@users.command(name="totp")
@click.argument("username")
@click.option("--off", is_flag=True, help="Turn two-factor login off for the user (secret and recovery codes deleted).")
@pass_ctx
@_fail_cleanly
def totp(obj: _Ctx, username, off) -> None:
    """Two-factor login (TOTP): a new secret for the user, shown once; their sessions end.

    Prints the otpauth URI (for a QR code or an authenticator app), the secret to type in by
    hand, and ten one-time recovery codes. Running it again replaces the secret (a new phone).
    """
    with _store(obj) as store:
        if off:
            store.totp.disable(username)
            click.echo(f"two-factor login of {username} turned off 已关闭两步验证; their sessions ended")
            return
        from .web.twofactor import enrol

        secret, uri, codes = enrol(store, username)
    click.echo(f"two-factor login of {username} is on 已启用两步验证 (shown once, not again):")
    click.echo(f"otpauth URI: {uri}")
    click.echo(f"secret 密钥: {secret}")
    click.echo("recovery codes 恢复码 (each works once):")
    for c in codes:
        click.echo(f"  {c}")
