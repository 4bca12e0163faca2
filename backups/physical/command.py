"""Running pgbackrest: options in the environment, as the data directory's owner, ended with its caller.

pgBackRest writes its errors as `ERROR: [code]: text`; PgBackRestError keeps the code and the text, scrubbed of every
secret, with a hint for the errors an operator meets first (no stanza, wrong passphrase, archiving not working).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.utils.translation import gettext as _

from backups.physical.config import RunAs, pgbackrest_env, secrets_in_env

_ERROR = re.compile(r"ERROR: \[(\d+)\]: (.*)")
_PR_SET_PDEATHSIG = 1


class PgBackRestError(Exception):
    def __init__(self, message: str, *, code: int | None = None, command: str = "") -> None:
        self.code = code
        self.command = command
        super().__init__(message)


def scrub(text: str) -> str:
    for secret in secrets_in_env():
        text = text.replace(secret, "<redacted>")
    return text


def _die_with_parent() -> None:
    """In the child, after the switch of user: SIGKILL it when the worker that started it dies (Linux)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def describe_failure(command: str, returncode: int, output: str) -> PgBackRestError:
    """One error an operator can act on, from pgbackrest's own last ERROR line."""
    output = scrub(output)
    errors = _ERROR.findall(output)
    if not errors:
        tail = output.strip().splitlines()[-3:]
        return PgBackRestError(
            _("pgbackrest %(command)s exited with %(code)s: %(output)s")
            % {"command": command, "code": returncode, "output": " ".join(tail) or _("no output")},
            command=command,
        )
    code_text, text = errors[-1]
    code = int(code_text)
    lowered = output.lower()
    hint = ""
    if "has a stanza-create been performed" in lowered or ("backup.info" in lowered and "missing" in lowered):
        hint = _("The stanza %(stanza)s does not exist in the repository yet: run `manage.py physicalbackup --setup` "
                 "(pgbackrest stanza-create).") % {"stanza": settings.BACKUP_PGBACKREST_STANZA}
    elif "cipher" in lowered or "decrypt" in lowered or "wrong passphrase" in lowered:
        hint = _("The repository could not be decrypted: BACKUP_PGBACKREST_CIPHER_PASS_FILE does not hold the "
                 "passphrase the repository was created with.")
    elif "was not archived before the" in lowered or "archive_command" in lowered or "archive_mode" in lowered:
        hint = _("WAL archiving is not working: check archive_mode=on and archive_command='pgbackrest "
                 "--stanza=%(stanza)s archive-push %%p' on the server, and the server's log.") % {
            "stanza": settings.BACKUP_PGBACKREST_STANZA}
    message = _("pgbackrest %(command)s failed [%(code)s]: %(text)s") % {"command": command, "code": code, "text": text}
    return PgBackRestError(f"{hint} ({message})" if hint else message, code=code, command=command)


def pgbackrest_popen(args: Sequence[str], *, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `pgbackrest ARGS` with stdout and stderr piped (text)."""
    run_as = RunAs.from_settings()
    env = env if env is not None else pgbackrest_env()
    argv = [settings.BACKUP_PGBACKREST_BIN, *args]
    if settings.BACKUP_PGBACKREST_CONTAINER:
        argv = container_argv(argv, env)
        env = {**env, "DOCKER_HOST": settings.BACKUP_DOCKER_HOST}
    return subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",  # a wrong passphrase makes pgBackRest print what it decrypted: not UTF-8
        cwd="/",
        user=run_as.user,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 (only prctl; no locks are taken)
    )


def container_argv(argv: list[str], env: dict[str, str]) -> list[str]:
    """`docker exec` into the PostgreSQL container; `-e NAME` without a value hands each PGBACKREST_* variable over
    from this process's environment, so the passphrase stays out of every command line."""
    names = sorted(key for key in env if key.startswith("PGBACKREST_"))
    passed = [part for name in names for part in ("-e", name)]
    user = settings.BACKUP_PGBACKREST_USER or "postgres"
    return ["docker", "exec", "-i", "-u", user, *passed, settings.BACKUP_PGBACKREST_CONTAINER, *argv]


def pgbackrest_run(
    args: Sequence[str],
    *,
    timeout: float | None = None,
    poll: Callable[[], None] | None = None,
    poll_every: float | None = None,
    on_line: Callable[[str], None] | None = None,
    stderr_into: list[str] | None = None,
) -> str:
    """Run `pgbackrest ARGS` to its end and return its stdout; PgBackRestError on failure or timeout.

    `on_line` gets each line of stdout as it comes (progress); `poll` is called every `poll_every` seconds while the
    command runs (heartbeat). An exception from either ends the command and is raised.
    """
    command = args[0] if args else ""
    process = pgbackrest_popen(args)
    every = poll_every if poll_every is not None else settings.BACKUP_PROGRESS_EVERY.total_seconds()
    out: list[str] = []
    err: list[str] = []
    failures: list[BaseException] = []

    def read(stream, sink: list[str], callback: Callable[[str], None] | None) -> None:
        for line in stream:
            sink.append(line)
            if callback is not None and not failures:
                try:
                    callback(line)
                except Exception as exc:  # raised in the caller's thread below
                    failures.append(exc)

    readers = [threading.Thread(target=read, args=(process.stdout, out, on_line), daemon=True),
               threading.Thread(target=read, args=(process.stderr, err, None), daemon=True)]
    for reader in readers:
        reader.start()
    started = time.monotonic()
    try:
        while True:
            try:
                process.wait(timeout=every)
                break
            except subprocess.TimeoutExpired:
                if timeout is not None and time.monotonic() - started >= timeout:
                    raise PgBackRestError(
                        _("pgbackrest %(command)s did not finish within %(seconds)s s; it was stopped.")
                        % {"command": command, "seconds": int(timeout)},
                        command=command,
                    ) from None
                if failures:
                    raise failures[0] from None
                if poll is not None:
                    poll()
        for reader in readers:
            reader.join(timeout=30)
    except BaseException:
        stop(process)
        raise
    stdout, stderr = "".join(out), "".join(err)
    if stderr_into is not None:
        stderr_into.append(scrub(stderr))
    if process.returncode != 0:
        raise describe_failure(command, process.returncode, f"{stdout}\n{stderr}")
    return stdout


def stop(process: subprocess.Popen) -> None:
    """End pgbackrest: SIGTERM lets it release its lock and stop PostgreSQL's backup mode; SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except ProcessLookupError:
        pass
    finally:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
