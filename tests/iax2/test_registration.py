"""Registration between two IAX2 endpoints: a registrar (our trunk, for iaxmodem) and a
registrant, with and without the MD5 challenge, refusals, refresh and expiry, unregistering."""

from __future__ import annotations

from datetime import datetime

from estudio190f.hw.clock import SECOND
from estudio190f.hw.iax2 import (
    MAX_REFRESH,
    MIN_REFRESH,
    Iax2Endpoint,
    PeerRegistered,
    PeerUnregistered,
    Registered,
    RegistrationFailed,
    RegistrationRefused,
    Unregistered,
    encode_datetime,
)
from estudio190f.hw.iax2_frames import Command, FullFrame, Ie

from .pair import A, B, EndpointPair

SECRET = "swordfish"


def registrar_pair(**kwargs: object) -> EndpointPair:
    return EndpointPair(b=Iax2Endpoint(peers={"faxmodem": SECRET}, **kwargs))  # type: ignore[arg-type]


def test_a_peer_with_a_secret_registers_through_the_md5_challenge() -> None:
    pair = registrar_pair()
    pair.a.register(B, "faxmodem", pair.now, secret=SECRET, refresh=120)
    pair.pump()
    assert pair.names("a>b") == ["REGREQ", "ACK", "REGREQ", "ACK"]
    assert pair.names("b>a") == ["ACK", "REGAUTH", "ACK", "REGACK"]
    assert pair.of("b", PeerRegistered) == [PeerRegistered("faxmodem", A, 120)]
    assert pair.of("a", Registered) == [Registered("faxmodem", B, 120)]
    assert pair.b.registered_address("faxmodem", pair.now) == A
    wire = b"".join(f.encode() for _, f in pair.wire)
    assert SECRET.encode() not in wire


def test_a_registration_expires_after_its_refresh() -> None:
    pair = registrar_pair()
    pair.a.register(B, "faxmodem", pair.now, secret=SECRET, refresh=60)
    pair.pump()
    assert pair.b.registered_address("faxmodem", 59 * SECOND) == A
    assert pair.b.registered_address("faxmodem", 60 * SECOND) is None


def test_the_refresh_granted_stays_within_bounds() -> None:
    for asked, granted in ((5, MIN_REFRESH), (65000, MAX_REFRESH)):
        pair = registrar_pair()
        pair.a.register(B, "faxmodem", 0, secret=SECRET, refresh=asked)
        pair.pump()
        assert pair.of("a", Registered)[0].refresh == granted


def test_a_wrong_secret_is_refused_on_both_sides() -> None:
    pair = registrar_pair()
    pair.a.register(B, "faxmodem", pair.now, secret="guess")
    pair.pump()
    assert pair.names("b>a")[-1] == "REGREJ"
    assert pair.of("b", RegistrationRefused) == [
        RegistrationRefused("faxmodem", A, "Authentication failed")
    ]
    assert pair.of("a", RegistrationFailed) == [
        RegistrationFailed("faxmodem", B, "Authentication failed")
    ]
    assert pair.b.registered_address("faxmodem", pair.now) is None


def test_a_registrant_without_its_secret_cannot_answer_the_challenge() -> None:
    pair = registrar_pair()
    pair.a.register(B, "faxmodem", pair.now)
    pair.pump()
    assert pair.of("a", RegistrationFailed)[0].cause == "MD5 authentication not possible"
    assert "PASSWORD" not in repr(pair.wire)


def test_unknown_peers_register_freely_unless_registration_is_closed() -> None:
    open_pair = registrar_pair()
    open_pair.a.register(B, "visitor", 0)
    open_pair.pump()
    assert open_pair.names("b>a") == ["ACK", "REGACK"]
    closed = registrar_pair(open_registration=False)
    closed.a.register(B, "visitor", 0)
    closed.pump()
    assert closed.of("b", RegistrationRefused) == [
        RegistrationRefused("visitor", A, "Unknown peer")
    ]


def test_regack_tells_the_date_and_the_address_seen() -> None:
    pair = EndpointPair(b=Iax2Endpoint(epoch=datetime(2026, 11, 28, 9, 0, 0)))
    pair.advance(90 * SECOND)
    pair.a.register(B, "faxmodem", pair.now)
    pair.pump()
    [regack] = [
        f for d, f in pair.wire if isinstance(f, FullFrame) and f.is_command(Command.REGACK)
    ]
    assert regack.ies.number(Ie.DATETIME) == encode_datetime(datetime(2026, 11, 28, 9, 1, 30))
    assert regack.ies.address(Ie.APPARENT_ADDR) == A
    assert regack.ies.text(Ie.USERNAME) == "faxmodem"


def test_unregistering_removes_the_registration() -> None:
    pair = registrar_pair()
    pair.a.register(B, "faxmodem", pair.now, secret=SECRET)
    pair.pump()
    pair.a.unregister(B, "faxmodem", pair.now, secret=SECRET)
    pair.pump()
    assert "REGREL" in pair.names("a>b")
    assert pair.of("b", PeerUnregistered) == [PeerUnregistered("faxmodem", A)]
    assert pair.of("a", Unregistered) == [Unregistered("faxmodem", B)]
    assert pair.b.registered_address("faxmodem", pair.now) is None


def test_a_registrar_that_never_answers_makes_the_registration_fail() -> None:
    pair = registrar_pair()
    pair.drop = lambda direction, frame: True
    pair.a.register(B, "faxmodem", 0, secret=SECRET)
    pair.advance(30 * SECOND)
    assert pair.of("a", RegistrationFailed) == [RegistrationFailed("faxmodem", B, "no response")]
