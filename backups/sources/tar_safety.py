"""Archives from storage are inputs: a tar that would write outside its target is refused before it is extracted."""

from __future__ import annotations

import posixpath
import tarfile
from typing import BinaryIO

from django.utils.translation import gettext as _


def _escapes(name: str) -> bool:
    normal = posixpath.normpath(name)
    return name.startswith("/") or normal == ".." or normal.startswith("../")


def tar_member_problem(member: tarfile.TarInfo) -> str | None:
    """Why extracting this member could write outside the target folder (None if it cannot)."""
    if _escapes(member.name) or "\x00" in member.name:
        return _("entry %(name)s points outside the target") % {"name": member.name}
    if member.issym():
        resolved = posixpath.join(posixpath.dirname(member.name), member.linkname)
        if member.linkname.startswith("/") or _escapes(resolved):
            return _("symbolic link %(name)s points outside the target (%(link)s)") % {
                "name": member.name,
                "link": member.linkname,
            }
    if member.islnk() and _escapes(member.linkname):
        return _("hard link %(name)s points outside the target") % {"name": member.name}
    if member.isdev():
        return _("entry %(name)s is a device file") % {"name": member.name}
    return None


def tar_problems(reader: BinaryIO) -> list[str]:
    """Read the whole stream as a tar (without extracting) and list every unsafe entry."""
    problems = []
    try:
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            for member in archive:
                problem = tar_member_problem(member)
                if problem:
                    problems.append(problem)
    except tarfile.TarError as exc:
        problems.append(_("not a valid tar archive: %(error)s") % {"error": exc})
    return problems
