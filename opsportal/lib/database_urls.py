"""BACKUP_DATABASE_URLS: named PostgreSQL databases other than the portal's own, each backed up as `postgres:NAME`.

The syntax is `NAME=URL`, entries separated by commas or new lines (`billing=postgres://u@db1/billing,crm=...`).
BACKUP_DATABASE_URLS_FILE names a file of the same syntax, one entry a line (`#` starts a comment line), so that
passwords need not be in the environment; both may be set, and their entries are combined.

Read by the settings, before Django is set up: nothing here translates or imports the apps. A bad entry does not stop
the portal; it becomes a Problem, which the system check backups.E011–E015 reports and the backup of that entry
refuses with. No message quotes an entry's text, which may hold a password: only its name (once valid), its
position, and its URL's scheme.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import environ
from django.utils.translation import gettext_noop

POSTGRES_ENGINE = "django.db.backends.postgresql"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
# A comma ends an entry only where the next one starts (NAME=scheme://), so a password may hold a comma.
_ENTRY_END = re.compile(r"\n|,(?=\s*[^,=\s]+\s*=\s*[A-Za-z][A-Za-z0-9+.-]*://)")


@dataclass(frozen=True)
class Problem:
    """What is wrong with one entry; `name` is the entry's name, or the variable when the entry has no valid one."""

    check_id: str
    name: str
    message: str  # an untranslated msgid (gettext_noop); render() translates it
    params: dict = field(default_factory=dict)

    def render(self, gettext=lambda text: text) -> str:
        return gettext(self.message) % self.params


@dataclass
class DatabaseUrls:
    databases: dict[str, dict] = field(default_factory=dict)  # name: Django-style settings dict (PASSWORD inside)
    problems: list[Problem] = field(default_factory=list)


def parse_database_urls(text: str, *, origin: str, into: DatabaseUrls | None = None) -> DatabaseUrls:
    """Add the entries of `text` (read from `origin`, a variable's name) to `into`; bad ones become problems."""
    found = into if into is not None else DatabaseUrls()
    pieces = [piece.strip() for piece in _ENTRY_END.split(text)]
    entries = [piece for piece in pieces if piece and not piece.startswith("#")]
    for position, entry in enumerate(entries, start=1):
        where = {"variable": origin, "position": position}
        name, equals, url = (part.strip() for part in entry.partition("="))
        if not equals or "://" not in url:
            found.problems.append(Problem("backups.E011", origin, gettext_noop(
                "Entry %(position)s of %(variable)s is not NAME=URL (e.g. billing=postgres://user@host:5432/billing)."
            ), where))
            continue
        if not NAME.match(name):
            found.problems.append(Problem("backups.E011", origin, gettext_noop(
                "Entry %(position)s of %(variable)s has a name that is not a slug: use 1 to 63 letters, digits, "
                "hyphens or underscores."
            ), where))
            continue
        where["name"] = name
        taken = name in found.databases or any(problem.name == name for problem in found.problems)
        if taken:
            found.problems.append(Problem("backups.E012", name, gettext_noop(
                "The database name %(name)s is given more than once (BACKUP_DATABASE_URLS and "
                "BACKUP_DATABASE_URLS_FILE together); each name must be unique."
            ), where))
            found.databases.pop(name, None)  # neither of the two is backed up until the ambiguity is fixed
            continue
        scheme = url.split("://", 1)[0].lower()
        scheme = scheme if re.fullmatch(r"[a-z][a-z0-9+.-]{0,19}", scheme) else "?"  # never more of the entry
        try:
            with warnings.catch_warnings():  # django-environ warns of an unknown scheme with the password in it
                warnings.simplefilter("ignore")
                config = environ.Env.db_url_config(url)
        except Exception:  # django-environ raises several types; its message may quote the URL
            found.problems.append(Problem("backups.E013", name, gettext_noop(
                "The URL of database %(name)s (%(variable)s) cannot be read; write it as "
                "postgres://user:password@host:5432/dbname (percent-encode special characters)."
            ), where))
            continue
        if config.get("ENGINE") != POSTGRES_ENGINE:
            found.problems.append(Problem("backups.E013", name, gettext_noop(
                "Database %(name)s (%(variable)s) is a %(scheme)s:// URL; only PostgreSQL databases (postgres://) "
                "can be backed up this way."
            ), {**where, "scheme": scheme}))
            continue
        if not config.get("NAME"):
            found.problems.append(Problem("backups.E013", name, gettext_noop(
                "The URL of database %(name)s (%(variable)s) names no database: end it with /dbname."
            ), where))
            continue
        config.setdefault("OPTIONS", {})
        found.databases[name] = config
    return found


def read_database_urls(value: str, file_name: str, *, variable: str, portal: dict | None = None) -> DatabaseUrls:
    """The entries of `variable` (its value) and of `variable`_FILE (the file it names), combined.

    `portal` is the portal's own database (DATABASES["default"]): an entry naming it is refused, as its restore would
    swap it in without the migrations and catalog repair that `database:default` gets.
    """
    found = parse_database_urls(value or "", origin=variable)
    if file_name:
        try:
            text = Path(file_name).read_text()
        except (OSError, UnicodeDecodeError):
            found.problems.append(Problem("backups.E014", f"{variable}_FILE", gettext_noop(
                "%(variable)s points to %(path)s, which is not a readable text file."
            ), {"variable": f"{variable}_FILE", "path": file_name}))
        else:
            parse_database_urls(text, origin=f"{variable}_FILE", into=found)
    if portal is not None and portal.get("ENGINE") == POSTGRES_ENGINE:
        for name, db in list(found.databases.items()):
            if _same_database(db, portal):
                del found.databases[name]
                found.problems.append(Problem("backups.E015", name, gettext_noop(
                    "Database %(name)s in BACKUP_DATABASE_URLS is the portal's own database (DATABASE_URL), which is "
                    "backed up as database:default; remove it from BACKUP_DATABASE_URLS."
                ), {"name": name}))
    return found


_LOOPBACK = {"", "localhost", "127.0.0.1", "::1", "[::1]"}


def _same_database(one: dict, other: dict) -> bool:
    def where(db: dict) -> tuple[str, str, str]:
        host = str(db.get("HOST") or "").lower()
        return ("localhost" if host in _LOOPBACK else host, str(db.get("PORT") or 5432), str(db.get("NAME")))

    return where(one) == where(other)
