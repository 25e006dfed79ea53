"""A pty for a program outside the simulator (a console client, a fax program), under a name
that stays the same from run to run: the serial console's `pty:LINK` and the Class 1 modem's
`--modem-pty LINK`.

The slave side is set raw (no echo, no line discipline) and made mode 666, so a program running
as another user (HylaFAX drops to `uucp`) can open it; LINK is a symlink to it. The caller keeps
the slave open, so reading the master never fails when the program closes the device.
"""

from __future__ import annotations

import contextlib
import os
import termios
import tty


def open_linked_pty(link: str | None, option: str) -> tuple[int, int, str]:
    """A raw pty pair and, when `link` is given, a symlink there to the slave: (master fd,
    slave fd, slave path). A symlink already at `link` (a stale one from an earlier run) is
    replaced atomically; anything else there is refused with ValueError, whose text starts with
    `option` (the command-line option, for the user)."""
    if link and os.path.lexists(link) and not os.path.islink(link):
        raise ValueError(f"{option}: {link} exists and is not a symlink")
    master, slave = os.openpty()
    try:
        tty.setraw(slave, termios.TCSANOW)
        path = os.ttyname(slave)
        os.chmod(path, 0o666)
        if link:
            tmp = f"{link}.{os.getpid()}.tmp"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(path, tmp)
            os.replace(tmp, link)  # atomic: no moment without a link, no stale one left
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave, path


def remove_link(link: str | None, path: str) -> None:
    """Remove the symlink `link` if it still points at `path` (not if another run has since
    taken the name over)."""
    if not link:
        return
    with contextlib.suppress(OSError):
        if os.readlink(link) == path:
            os.unlink(link)
