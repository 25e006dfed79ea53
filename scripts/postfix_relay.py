#!/usr/bin/env python3
"""A real Postfix relay for scan-to-email's integration tests: its own instance, on loopback.

    python scripts/postfix_relay.py start [--dir DIR] [--port P] [--user USER:PASSWORD]...
    python scripts/postfix_relay.py stop  [--dir DIR]

`start` installs Postfix and Cyrus SASL with apt when they are missing (no system instance is
configured or started), writes a private configuration under DIR (config, queue, data, log,
Maildir, sasldb2), starts it with `postfix -c DIR/etc start` (no systemd) and prints:

    postfix smtp 127.0.0.1:PORT
    postfix maildir DIR/mail/inbox
    postfix log DIR/log/maillog

Mail for any address is delivered to the one Maildir (nothing can leave the machine: every other
transport is `error:`); AUTH offers CRAM-MD5, PLAIN and LOGIN from sasldb2, realm relay.test.
The recipe and its traps are in shared/PEERS.md ("Postfix + Cyrus SASL on loopback").
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REALM = "relay.test"
DEFAULT_DIR = Path("/tmp/estudio190f-postfix")
PACKAGES = ["postfix", "sasl2-bin", "libsasl2-modules"]
MAIL_UID = 65534  # nobody: virtual(8) delivers as this user

# Every service with chroot "n": the instance's directories are not inside a chroot jail.
MASTER_CF = """\
{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def install() -> None:
    """apt-get install without a system instance (PEERS.md: debconf 'No configuration' and a
    policy-rc.d that forbids starting daemons while the packages install)."""
    if shutil.which("postfix") and shutil.which("saslpasswd2"):
        return
    log("installing " + " ".join(PACKAGES))
    subprocess.run(
        ["debconf-set-selections"],
        input=b"postfix postfix/main_mailer_type select No configuration\n",
        check=True,
    )
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=True,
            stdout=subprocess.DEVNULL,
        )
    finally:
        if ours:
            policy.unlink()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def searchable(path: Path) -> None:
    """Postfix's daemons run as postfix/nobody: every directory above the instance must let
    them through (a 0700 temporary directory does not)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            raise SystemExit(f"{parent} is not searchable by other users (mode {mode & 0o777:o})")


def postconf(etc: Path, *settings: str) -> None:
    subprocess.run(["postconf", "-c", str(etc), "-e", *settings], check=True)


def configure(root: Path, port: int, users: list[tuple[str, str]]) -> None:
    etc, spool, data = root / "etc", root / "spool", root / "data"
    # Debian's Postfix reads smtpd.conf from $config_directory/sasl whatever
    # cyrus_sasl_config_path says (seen with strace): keep both pointing there.
    logs, mail, sasl = root / "log", root / "mail", etc / "sasl"
    for d in (etc, spool, data, logs, mail, sasl):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    searchable(root)
    postfix_user = pwd.getpwnam("postfix")
    os.chown(data, postfix_user.pw_uid, postfix_user.pw_gid)
    os.chown(mail, MAIL_UID, MAIL_UID)
    (etc / "main.cf").write_text("")
    (etc / "master.cf").write_text(MASTER_CF.format(port=f"127.0.0.1:{port}"))
    postconf(
        etc,
        "compatibility_level=3.6",
        f"queue_directory={spool}",
        f"data_directory={data}",
        "mail_owner=postfix",
        "setgid_group=postdrop",
        f"maillog_file={logs / 'maillog'}",
        f"maillog_file_prefixes={logs}",
        "inet_interfaces=127.0.0.1",
        "inet_protocols=ipv4",
        f"myhostname={REALM}",
        f"mydomain={REALM}",
        "mydestination=",
        "mynetworks=127.0.0.0/8",
        "alias_maps=",
        "alias_database=",
        "local_recipient_maps=",
        # Every domain is ours and ends in the one Maildir; nothing can leave the machine.
        "virtual_mailbox_domains=static:all",
        f"virtual_mailbox_base={mail}",
        "virtual_mailbox_maps=static:inbox/",
        f"virtual_uid_maps=static:{MAIL_UID}",
        f"virtual_gid_maps=static:{MAIL_UID}",
        "virtual_mailbox_limit=0",
        "message_size_limit=52428800",
        "default_transport=error:no mail leaves this test relay",
        "relay_transport=error:no mail leaves this test relay",
        "local_transport=error:no local delivery",
        "smtpd_sasl_auth_enable=yes",
        "smtpd_sasl_type=cyrus",
        "smtpd_sasl_path=smtpd",
        f"cyrus_sasl_config_path={sasl}",
        f"smtpd_sasl_local_domain={REALM}",
        "smtpd_sasl_security_options=noanonymous",
        "smtpd_relay_restrictions=permit_sasl_authenticated, reject",
        "smtpd_recipient_restrictions=permit_sasl_authenticated, reject",
        "smtpd_tls_security_level=none",
    )
    sasldb = sasl / "sasldb2"
    (sasl / "smtpd.conf").write_text(
        "pwcheck_method: auxprop\n"
        "auxprop_plugin: sasldb\n"
        "mech_list: CRAM-MD5 PLAIN LOGIN\n"
        f"sasldb_path: {sasldb}\n"
    )
    for user, password in users:
        subprocess.run(
            ["saslpasswd2", "-p", "-c", "-f", str(sasldb), "-u", REALM, user],
            input=password.encode(),
            check=True,
        )
    os.chown(sasldb, postfix_user.pw_uid, postfix_user.pw_gid)
    sasldb.chmod(0o640)


def wait_listening(port: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def start(root: Path, port: int, users: list[tuple[str, str]]) -> int:
    install()
    root = root.resolve()
    if (root / "etc" / "main.cf").exists():
        stop(root)
    port = port or free_port()
    configure(root, port, users)
    etc = str(root / "etc")
    subprocess.run(["postfix", "-c", etc, "check"], check=True)
    subprocess.run(["postfix", "-c", etc, "start"], check=True, stderr=subprocess.DEVNULL)
    if not wait_listening(port):
        log(f"postfix did not listen on 127.0.0.1:{port}; see {root / 'log' / 'maillog'}")
        stop(root)
        return 1
    print(f"postfix smtp 127.0.0.1:{port}")
    print(f"postfix maildir {root / 'mail' / 'inbox'}")
    print(f"postfix log {root / 'log' / 'maillog'}", flush=True)
    return 0


def stop(root: Path) -> int:
    etc = root.resolve() / "etc"
    if not (etc / "main.cf").exists() or not shutil.which("postfix"):
        return 0
    result = subprocess.run(
        ["postfix", "-c", str(etc), "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return 0 if result.returncode in (0, 1) else result.returncode


def _user(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("give --user as USER:PASSWORD")
    return user, password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the instance's directory")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--user", type=_user, action="append", metavar="USER:PASSWORD")
    args = parser.parse_args(argv)
    if args.action == "start":
        return start(args.dir, args.port, args.user or [("tim", "tanstaaftanstaaf")])
    return stop(args.dir)


if __name__ == "__main__":
    raise SystemExit(main())
