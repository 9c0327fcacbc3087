"""Password hashing at test speed without a fake: werkzeug's scrypt costs 0.13 s of CPU per hash and
per check, and the tests create and sign in hundreds of users (mostly with "password123").

For the test run, the two werkzeug functions gridmap.accounts (hashing) and gridmap.web.auth (checking)
use are memoised:
- generate_password_hash(password) computes one real scrypt hash per distinct password (and method)
  and hands it out again, so users with the same password share a salt (no test compares salts);
- check_password_hash(hash, password) is a pure function of its arguments; its answers are kept.
Every hash is still real scrypt and every check still runs werkzeug once per (hash, password), so
a wrong password, a changed password or a disabled user fail exactly as before. CLI subprocesses
(`gridmap users add`) are not patched: they hash for real.
"""

from __future__ import annotations

import functools


def install() -> None:
    from gridmap import accounts
    from gridmap.web import auth

    if getattr(accounts.generate_password_hash, "_memoised", False):
        return
    real_generate, real_check = accounts.generate_password_hash, auth.check_password_hash

    @functools.lru_cache(maxsize=None)
    def _generate(password: str, args: tuple, kwargs: tuple) -> str:
        return real_generate(password, *args, **dict(kwargs))

    def generate_password_hash(password: str, *args, **kwargs) -> str:
        return _generate(password, args, tuple(sorted(kwargs.items())))

    check_password_hash = functools.lru_cache(maxsize=None)(real_check)
    generate_password_hash._memoised = True
    accounts.generate_password_hash, auth.check_password_hash = generate_password_hash, check_password_hash
