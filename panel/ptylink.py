"""A pty for a program outside the simulator (a console client, a fax program), under a name
that stays the same from run to run: the serial console's `pty:LINK` and the Class 1 modem's
`--modem-pty LINK`.

The slave side is set raw (no echo, no line discipline) and made mode 0600: only the user running
the simulator (or `owner`, for a program that runs as another user: HylaFAX drops to `uucp`) may
open it, so another local user can neither drive the machine nor make it read their files. LINK
is a symlink to it. The caller keeps the slave open, so reading the master never fails when the
program closes the device.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import termios
import tty

PTY_MODE = 0o600


def open_linked_pty(
    link: str | None, option: str, owner: str | None = None
) -> tuple[int, int, str]:
    """A raw pty pair and, when `link` is given, a symlink there to the slave: (master fd,
    slave fd, slave path). A symlink already at `link` (a stale one from an earlier run) is
    replaced atomically; anything else there is refused with ValueError, whose text starts with
    `option` (the command-line option, for the user). `owner` (a user name) is given the slave
    (which needs root); it stays mode 0600 either way."""
    if link and os.path.lexists(link) and not os.path.islink(link):
        raise ValueError(f"{option}: {link} exists and is not a symlink")
    uid = _user_id(owner, option) if owner else None
    master, slave = os.openpty()
    try:
        tty.setraw(slave, termios.TCSANOW)
        path = os.ttyname(slave)
        os.fchmod(slave, PTY_MODE)
        if uid is not None:
            try:
                os.fchown(slave, uid, -1)
            except PermissionError:
                raise ValueError(f"{option}-owner {owner}: giving a pty away needs root") from None
        if link:
            tmp = f"{link}.{os.getpid()}.tmp"
            try:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(path, tmp)
                os.replace(tmp, link)  # atomic: no moment without a link, no stale one left
            except OSError as exc:
                raise ValueError(f"{option}: cannot make the link {link}: {exc.strerror}") from None
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave, path


def _user_id(name: str, option: str) -> int:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise ValueError(f"{option}-owner {name}: no such user") from None


def remove_link(link: str | None, path: str) -> None:
    """Remove the symlink `link` if it still points at `path` (not if another run has since
    taken the name over)."""
    if not link:
        return
    with contextlib.suppress(OSError):
        if os.readlink(link) == path:
            os.unlink(link)
