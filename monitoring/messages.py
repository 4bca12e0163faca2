"""Check messages people read in their own language: stored as a msgid and its parameters, rendered when read.

A check builds `Message(gettext_noop("load %(load).2f per core …"), {"load": 2.34, "cores": 4})` instead of
formatting a translated string at run time: the snapshot then keeps the id and the parameters beside the text, and
the admin, the overview and the API render it in the reader's language. A parameter may itself be a message (a
duration such as "5 min"); several problems are joined into one message by `Message.join`. Rows written before
messages had ids keep only their text, which is shown as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, ngettext, trans_real

JOIN = gettext_noop("%(first)s; %(second)s")
# Reserved parameter keys: the plural msgid and the name of the parameter that chooses the plural form.
PLURAL = "_plural"
COUNT = "_count"


@dataclass(frozen=True)
class Message:
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    plural: str = ""
    count: str = ""

    @classmethod
    def join(cls, parts: list[Message]) -> Message:
        """One message of several, separated as the reader's language separates them ("a; b; c")."""
        if not parts:
            return cls("")
        joined = parts[0]
        for part in parts[1:]:
            joined = cls(JOIN, {"first": joined, "second": part})
        return joined

    def data_params(self) -> dict[str, Any]:
        """The parameters as stored (JSON): nested messages become {"message_id": …, "params": …}."""
        params = {key: value.data() if isinstance(value, Message) else value for key, value in self.params.items()}
        if self.plural:
            params[PLURAL], params[COUNT] = self.plural, self.count
        return params

    def data(self) -> dict[str, Any]:
        return {"message_id": self.msgid, "params": self.data_params()}

    def render(self) -> str:
        """In the active language."""
        return render_message(self.msgid, self.data_params())

    def render_default(self) -> str:
        """In the portal's own language (LANGUAGE_CODE), whoever asked: the text stored beside the id."""
        if settings.USE_I18N:
            # Straight from LANGUAGE_CODE's catalog, the one translation.override(LANGUAGE_CODE) would activate:
            # activating it and restoring the previous language cost more than rendering, and every check
            # result renders its message once.
            catalog = trans_real.translation(settings.LANGUAGE_CODE)
            return render_message(self.msgid, self.data_params(), catalog=catalog)
        with translation.override(settings.LANGUAGE_CODE):
            return self.render()

    def __str__(self) -> str:
        return self.render()


class _ActiveLanguage:
    """The active language's gettext and ngettext (Django's own functions)."""

    gettext = staticmethod(gettext)
    ngettext = staticmethod(ngettext)


_active = _ActiveLanguage()


def plural_msgids(singular: str, plural: str, _number: int = 0) -> tuple[str, str]:
    """Marks a plural pair without looking it up: imported `as ngettext` so makemessages extracts it as a plural."""
    return singular, plural


def _value(value: Any, catalog: Any = None) -> Any:
    if isinstance(value, dict) and "message_id" in value:
        return render_message(value["message_id"], value.get("params") or {}, catalog=catalog)
    return value


def render_message(message_id: str, params: dict[str, Any] | None, fallback: str = "", *, catalog: Any = None) -> str:
    """The message in the active language (or from `catalog`, a translation object); `fallback` (the stored text)
    when there is no id or it cannot be formatted (a translation whose placeholders do not match the parameters
    falls back to the English msgid)."""
    if not message_id:
        return fallback
    params = params or {}
    values = {key: _value(value, catalog) for key, value in params.items() if key not in (PLURAL, COUNT)}
    try:
        if params.get(PLURAL):
            number = int(values[params[COUNT]])
            text = (catalog or _active).ngettext(message_id, params[PLURAL], number)
        else:
            text = (catalog or _active).gettext(message_id)
        return text % values if values else text
    except (KeyError, ValueError, TypeError):
        try:
            return message_id % values if values else message_id
        except (KeyError, ValueError, TypeError):
            return fallback or message_id
