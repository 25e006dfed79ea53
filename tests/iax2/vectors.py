"""Datagrams iaxmodem 1.2.0 (Debian) sent to our endpoint in real runs on loopback, captured by
the UDP edge (`Iax2UdpPort(capture=...)`): registering with an MD5 challenge, calling 5551234
(codec ulaw), answering our call (codec slinear), pinging, hanging up, unregistering on SIGTERM.
The MD5 results answer challenges with the tests' loopback secret, which is not in this file.
"""

from __future__ import annotations

SILENCE_SLINEAR = bytes(320)  # 160 zero samples, as iaxmodem sent them before its modem spoke

IAXMODEM: dict[str, bytes] = {
    "REGREQ": bytes.fromhex("b2ee0000000000030000060d06086661786d6f64656d1302003c"),
    "REGREQ md5": bytes.fromhex(
        "b2ee0001000000030101060d06086661786d6f64656d1020653964316532303066306339"
        "31386537386165616562616265323034303666621302003c"
    ),
    "ACK": bytes.fromhex("b2ee00010000000202020604"),
    "NEW": bytes.fromhex(
        "b2ef000000000003000006010b02000202073535353031303004084941586d6f64656d09040000"
        "000408040000004c06086661786d6f64656d0107353535313233340d0735353531323334"
    ),
    "AUTHREP": bytes.fromhex(
        "b2ef0002000000030101060910203633383632663735613632643531643261383865303030313930"
        "366537623039"
    ),
    "VOICE ulaw": bytes.fromhex(
        "b2ef00020000021c02050204"
        "ffaca6b43f282946b1a6ad5c2b2738bba7aacd2f262fceaaa7bb38272b5bada6b14629283fb4a6ac"
        "ff2c2634bfa8a9c631262ddcaba7b83b272a4dafa6af4e2a273bb8a7abdb2d2631c6a9a8bf34262c"
        "ffaca6b43f282946b1a6ad5c2b2738bba7aacd2f262fceaaa7bb38272b5bada6b14629283fb4a6ac"
        "ff2c2634bfa8a9c631262ddcaba7b83b272a4dafa6af4e2a273bb8a7abdb2d2631c6a9a8bf34262c"
    ),
    "mini ulaw": bytes.fromhex(
        "32ef0230"
        "ffaca6b43f282946b1a6ad5c2b2738bba7aacd2f262fceaaa7bb38272b5bada6b14629283fb4a6ac"
        "ff2c2634bfa8a9c631262ddcaba7b83b272a4dafa6af4e2a273bb8a7abdb2d2631c6a9a8bf34262c"
        "ffaca6b43f282946b1a6ad5c2b2738bba7aacd2f262fceaaa7bb38272b5bada6b14629283fb4a6ac"
        "ff2c2634bfa8a9c631262ddcaba7b83b272a4dafa6af4e2a273bb8a7abdb2d2631c6a9a8bf34262c"
    ),
    "PING": bytes.fromhex("b2ef0002000007e703050602"),
    "REGREL": bytes.fromhex("b2f00000000000030000061106086661786d6f64656d160745786974696e67"),
    "ACCEPT": bytes.fromhex("e28200020000000400010607090400000040"),
    "RINGING": bytes.fromhex("e28200020000000401010403"),
    "ANSWER": bytes.fromhex("e28200020000000702010404"),
    "VOICE slinear": bytes.fromhex("e28200020000001403010240") + SILENCE_SLINEAR,
    "mini slinear": bytes.fromhex("62820028") + SILENCE_SLINEAR,
    "PONG": bytes.fromhex(
        "e282000200004e21060506032e04000000002f040000000030040000000131020028320400000000"
        "330400000000"
    ),
    "HANGUP": bytes.fromhex("e2820002000061fb0806060516114e6f726d616c20646973636f6e6e656374"),
}
