"""Is the QR code's address one a resident's phone can open? `local_host(url)` names the host when not.

Without `public_url` the CLI prints QR codes to http://127.0.0.1:5000 and the web app to the
address the request came in on, which is localhost when an operator prints from the server
itself: the page looks right, but every scan fails. The caller warns (CLI: stderr; web: a
`Warning` header and the grid page), and the page says so under the code.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "0.0.0.0", ""}


def local_host(url: str) -> str | None:
    """The host of `url` if it is this machine only (localhost, 127.0.0.0/8, ::1, 0.0.0.0), else None."""
    try:
        host = (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return host or "(no host)"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return host if ip.is_loopback or ip.is_unspecified else None


def local_qr_note(host: str) -> str:
    """The warning, Chinese first: what is wrong and the setting that fixes it."""
    return (f"二维码指向本机地址 {host}，居民手机扫码无法打开：请在 gridmap.toml 设置 public_url"
            f"（或环境变量 GRIDMAP_PUBLIC_URL，命令行可用 --base-url）为公网地址后重新打印。"
            f" / The QR code points at {host}, which a resident's phone cannot reach: set public_url "
            f"(gridmap.toml or GRIDMAP_PUBLIC_URL; on the command line --base-url) to the public address and print again.")


def local_qr_header(host: str) -> str:
    """The same warning as an HTTP `Warning` header value (RFC 7234 form; headers carry ASCII only)."""
    return (f'299 gridmap "QR code points at {host}, which phones cannot reach: '
            f'set public_url (GRIDMAP_PUBLIC_URL) to the public address"')
