"""Two-factor login (TOTP, RFC 6238) for staff accounts, as FixMyStreet offers (issue #15).

Optional per user; the setting `totp_required_roles` makes it compulsory for the roles it
names (a user of such a role without a secret is sent to enrol before being signed in).

- Enrolment: `gridmap users totp USER` (an admin: prints the otpauth URI, the secret and
  recovery codes; active at once), or the page /account/totp (the user: a QR code, then a
  first code confirms it). The secret is shown at enrolment only, never again.
- Login: after the right password, a second step asks for the 6-digit code (or a recovery
  code). Wrong codes are counted and throttled exactly like wrong passwords (per account
  and per address, in the store). A code is accepted once: its 30-second step is recorded,
  and a code of the same or an earlier step is refused afterwards (no replay within its
  window). The previous and next steps are accepted for clock drift.
- Recovery codes: ten, shown once, stored as SHA-256; each works once instead of a code.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

import pyotp

from ..errors import InputError, Unauthorized
from ..hashing import hash_secret
from ..i18n import tr

UTC = dt.timezone.utc
STEP_SECONDS = 30
DRIFT_STEPS = 1  # the code of the step before and after now is accepted too
RECOVERY_CODES = 10
ISSUER = "gridmap"


def required_roles(settings) -> frozenset[str]:
    """The roles that must log in with a second factor (setting totp_required_roles)."""
    raw = settings.totp_required_roles or ""
    return frozenset(r.strip() for r in raw.split(",") if r.strip())


def is_required(settings, role: str) -> bool:
    return role in required_roles(settings)


def new_secret() -> str:
    """A random base32 secret (160 bits, what authenticator apps expect)."""
    return pyotp.random_base32(32)


def otpauth_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (from the QR code or typed in)."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: dt.datetime | None = None) -> int | None:
    """The time step whose code `code` is (now, or one step either side), else None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    t = (now or dt.datetime.now(UTC)).timestamp()
    here = totp.timecode(dt.datetime.fromtimestamp(t, UTC))
    found = None
    for step in range(here - DRIFT_STEPS, here + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step  # no early exit: the same work whichever step matches
    return found


def new_recovery_codes() -> list[str]:
    """Ten one-time codes like 3f9a2-c01d7 (40 bits each)."""
    return [f"{h[:5]}-{h[5:]}" for h in (secrets.token_hex(5) for _ in range(RECOVERY_CODES))]


def _recovery_hash(code: str) -> str:
    return hash_secret(code.strip().lower().replace(" ", ""))


def enrol(store, username: str) -> tuple[str, str, list[str]]:
    """Give a user two-factor login now (the CLI): (secret, otpauth URI, recovery codes), shown once."""
    if store.users.user(username) is None:
        raise InputError(tr("no user %(username)r", username=username))
    secret, codes = new_secret(), new_recovery_codes()
    store.totp.enable(username, secret, [_recovery_hash(c) for c in codes])
    return secret, otpauth_uri(secret, username), codes


def pending_secret(store, user: dict) -> str:
    """The secret being enrolled on the page (made on first visit, kept until confirmed)."""
    if user.get("totp_pending"):
        return user["totp_pending"]
    secret = new_secret()
    store.totp.set_pending(user["username"], secret)
    return secret


def confirm(store, username: str, code: str) -> list[str]:
    """Confirm a page enrolment with a first code: two-factor login is on; the recovery codes."""
    user = store.users.user(username)
    secret = user and user.get("totp_pending")
    if not secret:
        raise InputError(tr("nothing to confirm: open the enrolment page again"))
    step = matching_step(secret, code)
    if step is None:
        raise InputError(tr("wrong code: type the 6 digits your authenticator app shows now"))
    codes = new_recovery_codes()
    store.totp.enable(username, secret, [_recovery_hash(c) for c in codes], last_step=step)
    return codes


def check_code(store, user: dict, code: str, address: str | None = None, settings=None) -> str:
    """Accept the second step of a login: a fresh TOTP code or an unused recovery code.

    Returns "code" or "recovery". Throttled (429) past the failure limits, like passwords;
    Unauthorized for a wrong, reused or already spent code.
    """
    username = user["username"]
    from .auth import check_throttle  # the same limits and counts as passwords

    keys, now, window = check_throttle(store, settings, f"totp:{username[:150]}", address,
                                       "验证码错误次数过多，请 {minutes} 分钟后再试 / too many wrong codes: "
                                       "try again in {minutes} minutes")
    secret = user.get("totp_secret")
    kind = None
    if secret:
        step = matching_step(secret, code, now)
        if step is not None and store.totp.use_step(username, step):
            kind = "code"
        elif step is None and "-" in (code or "") and store.totp.use_recovery(username, _recovery_hash(code)):
            kind = "recovery"
    if kind is None:
        store.security.add_failure(keys, now, prune_before=now - window)
        raise Unauthorized(tr("wrong or already used code"))
    store.security.clear_failures(keys[:1])
    return kind
