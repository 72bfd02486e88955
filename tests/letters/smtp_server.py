"""A real SMTP server on a loopback port (aiosmtpd) that tests can tell to accept, defer (4xx)
or reject (5xx), per recipient, to answer 451 to every message for a while, to take its time
before answering DATA, and to hold messages mid-conversation.

A message counts as received only once the server answers "250" to its DATA. When the client
goes away first (a killed worker), aiosmtpd cancels the handler and the message is dropped,
as a real server would.
"""

import asyncio
import email
import email.policy
import logging
import socket
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    # When the server answered "250" to DATA (time.time(), comparable with database times).
    arrived_at: float = field(default_factory=time.time)
    # The client's (host, port): messages with the same peer came over one connection.
    peer: tuple | None = None

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class SMTPRecorder:
    received: list[Received] = field(default_factory=list)
    # recipient -> reply; e.g. "550 5.1.1 No such user here"
    reject: dict[str, str] = field(default_factory=dict)
    # recipient -> how many more times to answer 451 before accepting
    defer: dict[str, int] = field(default_factory=dict)
    # Until this time.monotonic(), every MAIL FROM is answered 451 (a server that is busy).
    tempfail_until: float = 0.0
    # Seconds to wait before answering DATA (a slow server).
    data_delay: float = 0.0
    # How many messages reached DATA so far (whatever became of them).
    data_started: int = 0
    holding: bool = False
    held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if time.monotonic() < self.tempfail_until:
            return "451 4.3.2 System busy, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        address_key = address.lower()
        if address_key in self.reject:
            return self.reject[address_key]
        with self.lock:
            left = self.defer.get(address_key, 0)
            if left:
                self.defer[address_key] = left - 1
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_started += 1
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.holding:
            # Counts conversations waiting here now; a client that dies while held cancels
            # this handler (aiosmtpd), which drops the message and the count.
            with self.lock:
                self.held += 1
            try:
                while self.holding:
                    await asyncio.sleep(0.01)
            finally:
                with self.lock:
                    self.held -= 1
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, peer=session.peer)
            )
        return "250 2.0.0 Message accepted"

    def by_message_id(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for item in list(self.received):
            out.setdefault(item.message_id, []).append(item)
        return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPServer:
    """Start with .start(), stop with .stop(); .recorder holds what arrived."""

    def __init__(self):
        self.recorder = SMTPRecorder()
        self.port = free_port()
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, ready_timeout=10
        )

    def start(self) -> "SMTPServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.recorder.holding = False
        self.controller.stop()
