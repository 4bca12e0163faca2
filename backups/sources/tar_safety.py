"""Archives from storage are inputs: a tar that would write outside its target is refused before it is extracted.

Links are judged the way they will be followed: against the tree the archive builds, not one by one. The check
replays the archive into a scratch "shadow" folder (folders, links and empty files, never file contents) and asks
`tarfile.data_filter` about each member against it, so `os.path.realpath` follows the links made by earlier members,
exactly as the extracting side will. Reading is streamed (`r|`); memory stays flat whatever the archive's size.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from typing import BinaryIO

from django.utils.translation import gettext as _

from backups.sources.base import SourceError

# os.path.realpath gives up on a path the kernel would not look up (ENAMETOOLONG) and goes on lexically; the kernel
# has no such limit while following links (CVE-2025-4517). Keeping every resolved path and name below these limits
# keeps realpath resolving for real, so it agrees with the kernel. Real volumes are far below them.
MAX_RESOLVED_PATH = 3000
MAX_NAME_PART = 255

# Bits that change who a program runs as, or who may delete in a folder: stripped on restore (see strip_high_bits).
HIGH_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def _escapes(name: str) -> bool:
    normal = posixpath.normpath(name)
    return name.startswith("/") or normal == ".." or normal.startswith("../")


def _link_outside(member: tarfile.TarInfo) -> str:
    if member.issym():
        return _("symbolic link %(name)s points outside the target (%(link)s)") % {
            "name": member.name,
            "link": member.linkname,
        }
    return _("hard link %(name)s points outside the target") % {"name": member.name}


def tar_member_problem(member: tarfile.TarInfo) -> str | None:
    """What is wrong with this member on its own, whatever the rest of the archive holds (None if nothing)."""
    if _escapes(member.name) or "\x00" in member.name:
        return _("entry %(name)s points outside the target") % {"name": member.name}
    if member.issym() and (
        member.linkname.startswith("/") or _escapes(posixpath.join(posixpath.dirname(member.name), member.linkname))
    ):
        return _link_outside(member)
    if member.islnk() and _escapes(member.linkname):
        return _link_outside(member)
    # Docker cleans a name lexically (a/../b is b) where realpath follows a first: with no ".." they agree. Archive
    # writers never put one in a member name, nor in a hard link's target (another member's name).
    if ".." in member.name.split("/") or (member.islnk() and ".." in member.linkname.split("/")):
        return _("entry %(name)s has a .. in its path") % {"name": member.name}
    if member.ischr() or member.isblk():
        return _("entry %(name)s is a device file") % {"name": member.name}
    if member.isfifo():
        return _("entry %(name)s is a named pipe (FIFO)") % {"name": member.name}
    if any(len(part.encode()) > MAX_NAME_PART for part in (member.name + "/" + member.linkname).split("/")):
        return _("entry %(name)s has a name part longer than %(limit)s bytes") % {
            "name": member.name[:80],
            "limit": MAX_NAME_PART,
        }
    return None


class ShadowTree:
    """The archive's folders, links and (empty) files, replayed in a scratch folder as the extracting side would."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def _path(self, name: str) -> str:
        return os.path.join(self.root, name.lstrip("/"))

    def _resolved_too_long(self, member: tarfile.TarInfo) -> bool:
        paths = [self._path(member.name)]
        if member.issym():
            paths.append(os.path.join(self.root, posixpath.dirname(member.name.lstrip("/")), member.linkname))
        elif member.islnk():
            paths.append(self._path(member.linkname))
        return any(len(os.path.realpath(path)) > MAX_RESOLVED_PATH for path in paths)

    def problem(self, member: tarfile.TarInfo) -> str | None:
        """Why this member, following the links already in the tree, would land or point outside it."""
        if self._resolved_too_long(member):
            return _("entry %(name)s resolves to a path too long to check") % {"name": member.name[:80]}
        try:
            tarfile.data_filter(member, self.root)
        except (tarfile.LinkOutsideDestinationError, tarfile.AbsoluteLinkError):
            return _link_outside(member)
        except (tarfile.OutsideDestinationError, tarfile.AbsolutePathError):
            return _("entry %(name)s points outside the target") % {"name": member.name}
        except tarfile.SpecialFileError:
            return _("entry %(name)s is neither a file, a folder nor a link") % {"name": member.name}
        return None

    def add(self, member: tarfile.TarInfo) -> None:
        """Replay the member: missing parents become folders, an existing entry is replaced unless both are folders."""
        # Docker cleans the name lexically (filepath.Clean) and then lets the kernel follow links in its parents.
        path = os.path.normpath(self._path(member.name))
        if path == self.root:
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            if member.isdir() and os.path.isdir(path) and not os.path.islink(path):
                return
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        if member.isdir():
            os.mkdir(path)
        elif member.issym():
            os.symlink(member.linkname, path)
        else:
            open(path, "wb").close()

    def links_outside(self) -> list[str]:
        """Links that a later member turned to point outside (l -> d/.. made before d -> .): they would stay so."""
        problems = []
        for folder, dirs, files in os.walk(self.root):
            for entry in dirs + files:
                path = os.path.join(folder, entry)
                if not os.path.islink(path):
                    continue
                resolved = os.path.realpath(path)
                if os.path.commonpath([resolved, self.root]) != self.root:
                    name = "./" + os.path.relpath(path, self.root)
                    problems.append(
                        _("symbolic link %(name)s points outside the target (%(link)s)")
                        % {"name": name, "link": os.readlink(path)}
                    )
        return problems


def _replayed(shadow: ShadowTree, member: tarfile.TarInfo) -> str | None:
    """Check the member against the tree so far and add it there; what is wrong with it, if anything."""
    problem = tar_member_problem(member) or shadow.problem(member)
    if problem:
        return problem
    try:
        shadow.add(member)
    except OSError as exc:  # e.g. a/b after a file a: the extraction would fail there too
        return _("entry %(name)s cannot be extracted: %(error)s") % {"name": member.name, "error": exc.strerror}
    return None


def tar_problems(reader: BinaryIO) -> list[str]:
    """Read the whole stream as a tar (without extracting any content) and list every unsafe entry."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="opsportal-tarcheck-") as scratch:
        shadow = ShadowTree(scratch)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as archive:
                for member in archive:
                    problem = _replayed(shadow, member)
                    if problem:
                        problems.append(problem)
        except tarfile.TarError as exc:
            problems.append(_("not a valid tar archive: %(error)s") % {"error": exc})
        if not problems:
            problems.extend(shadow.links_outside())
    return problems


def strip_high_bits(member: tarfile.TarInfo) -> bool:
    """Drop setuid, setgid and sticky bits and file capabilities from a member about to be restored; True if any."""
    changed = bool(member.mode & HIGH_BITS)
    member.mode &= ~HIGH_BITS
    for key in [key for key in member.pax_headers if key.startswith("SCHILY.xattr.security.capability")]:
        del member.pax_headers[key]
        changed = True
    return changed


def checked_tar_stream(reader: BinaryIO, stripped: list[str]) -> Iterator[bytes]:
    """The archive re-written as it is read: checked again member by member (storage may change after the first
    check), high bits stripped (names appended to `stripped`). Stops with SourceError on an unsafe member.

    tarfile writes a whole member at once; a thread writes into a pipe that this generator drains, so at most a pipe
    and one chunk are held, whatever the size of a member.
    """
    read_fd, write_fd = os.pipe()
    failures: list[BaseException] = []

    def rewrite() -> None:
        try:
            with (
                os.fdopen(write_fd, "wb") as sink,
                tempfile.TemporaryDirectory(prefix="opsportal-tarcheck-") as scratch,
                tarfile.open(fileobj=reader, mode="r|") as source,
                tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as out,
            ):
                shadow = ShadowTree(scratch)
                for member in source:
                    problem = _replayed(shadow, member)
                    if problem:
                        raise SourceError(
                            _("Refusing to restore a crafted archive: %(problem)s") % {"problem": problem}
                        )
                    if strip_high_bits(member):
                        stripped.append(member.name)
                    out.addfile(member, source.extractfile(member) if member.isreg() else None)
        except BrokenPipeError:
            pass  # the reader went away (Docker refused the stream): its error is the one to report
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread, raised there
            failures.append(exc)

    thread = threading.Thread(target=rewrite, name="opsportal-tar-rewrite", daemon=True)
    thread.start()
    try:
        with os.fdopen(read_fd, "rb") as drained:
            while chunk := drained.read(1 << 20):
                yield chunk
    finally:
        thread.join()
    if failures:
        if isinstance(failures[0], SourceError):
            raise failures[0]
        raise SourceError(_("not a valid tar archive: %(error)s") % {"error": failures[0]})
