"""Messages in the reader's language: gettext catalogs in gridmap/translations (zh_CN, the default, and en).

Message ids are the English text, with named placeholders (``tr("no user %(name)s", name=...)``).
The zh_CN catalog puts Chinese first and keeps the English after " / ", as the pages always did;
the en catalog is English only. The catalogs are made and compiled with Babel (pybabel, see the
README); at run time Python's gettext reads the compiled .mo files shipped in the package.

Which language: on the web, per request (``?lang=``, the ``gridmap_lang`` cookie, Accept-Language,
then the ``locale`` setting: gridmap/web/locale.py); on the command line, LC_ALL / LC_MESSAGES /
LANG when they name zh or en, else the setting. A message is translated when it is made (an error
raised inside a request speaks that request's language); a forked compute child inherits it.
"""

from __future__ import annotations

import contextvars
import gettext
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

DOMAIN = "gridmap"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_DIR = Path(__file__).resolve().parent / "translations"

_request_locale: contextvars.ContextVar[str | None] = contextvars.ContextVar("gridmap_locale", default=None)
_process_locale = [DEFAULT_LOCALE]
_LABEL_ZH = re.compile(r"^[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef·/ ]+(?=[A-Za-z])")


def normalize(tag: str | None) -> str | None:
    """The supported locale a language tag names (zh-CN, zh_CN.UTF-8, zh-Hans, en-US, en...), or None."""
    if not tag:
        return None
    primary = tag.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return {"zh": "zh_CN", "en": "en"}.get(primary)


def first_supported(tags: Iterable[str | None]) -> str | None:
    """The first tag (in preference order) that names a supported locale."""
    for tag in tags:
        found = normalize(tag)
        if found:
            return found
    return None


def environ_locale(environ: Mapping[str, str]) -> str | None:
    """The locale the POSIX variables ask for (LC_ALL, then LC_MESSAGES, then LANG, as gettext reads them)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:  # the first one set decides, even when it is C or POSIX (then: None, the setting)
            return normalize(value)
    return None


def set_process_locale(locale: str) -> None:
    """The language of messages made outside a web request (the CLI sets it once at start)."""
    _process_locale[0] = normalize(locale) or DEFAULT_LOCALE


def use_locale(locale: str | None) -> contextvars.Token:
    """Make `locale` the language of this context (one web request); reset with `reset_locale(token)`."""
    return _request_locale.set(normalize(locale) if locale else None)


def reset_locale(token: contextvars.Token) -> None:
    """Undo `use_locale`."""
    _request_locale.reset(token)


def current_locale() -> str:
    """The language messages are made in now."""
    return _request_locale.get() or _process_locale[0]


@lru_cache(maxsize=None)
def catalog(locale: str) -> gettext.NullTranslations:
    """The compiled catalog of `locale` (a missing one falls back to the English ids)."""
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[locale], fallback=True)


def tr(msgid: str, **params: object) -> str:
    """`msgid` in the current language, its %(name)s placeholders filled from `params`."""
    text = catalog(current_locale()).gettext(msgid)
    return text % params if params else text


def ntr(singular: str, plural: str, n: int, **params: object) -> str:
    """The singular or plural form for `n` (which is also the placeholder %(n)s)."""
    text = catalog(current_locale()).ngettext(singular, plural, n)
    return text % {"n": n, **params}


def label(text: str) -> str:
    """A table's bilingual label ("新报 New", "调度员 dispatcher") in the current language: the whole of it
    (Chinese first) on zh_CN, its English part on en (a label without English stays as it is)."""
    if current_locale() != "en":
        return text
    m = _LABEL_ZH.match(text)
    return text[m.end():] if m and m.end() < len(text) else text


def N_(msgid: str) -> str:
    """Mark `msgid` for extraction only; translate it later with `tr(msgid)` (tables built at import)."""
    return msgid
