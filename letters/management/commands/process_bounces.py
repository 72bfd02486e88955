import os
import sys
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from letters.delivery_events import BounceOutcome, bounce_process


class Command(BaseCommand):
    help = (
        "Read bounce messages sent to an email's VERP return path (BOUNCE_ADDRESS): RFC 5322 "
        "files, or one message on standard input when no file is given, as an MTA pipes it. "
        "Each recipient a bounce reports as failed for good (5.x.x) is marked bounced, with "
        "the failure's kind: a hard bounce counts against the representative's address, a "
        "policy block holds the council's mail. Delays (4.x.x) are logged only. Messages not "
        "sent to a return path of ours (or a forged one), and those that are not bounces, are "
        "ignored and counted. Exits 75 (EX_TEMPFAIL: the MTA tries again later) when the "
        "database is unavailable."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", metavar="FILE", help="Bounce messages.")
        parser.add_argument(
            "--recipient",
            default="",
            metavar="ADDRESS",
            help="The envelope recipient, as the MTA passes it (Postfix: ${original_recipient}).",
        )

    def handle(self, *args, files, recipient="", **options):
        outcomes = Counter()
        try:
            for data in self._messages(files):
                outcomes[bounce_process(data=data, recipient=recipient)] += 1
        except DatabaseError as exc:
            raise CommandError(
                f"The database is unavailable; try again later: {exc}", returncode=os.EX_TEMPFAIL
            ) from exc
        counts = ", ".join(f"{outcomes[outcome]} {outcome}" for outcome in BounceOutcome)
        self.stdout.write(f"Read {outcomes.total()} messages: {counts}")

    def _messages(self, files):
        if not files:
            yield sys.stdin.buffer.read()
            return
        for name in files:
            try:
                with open(name, "rb") as file:
                    data = file.read()
            except OSError as exc:
                raise CommandError(f"Cannot read {name}: {exc}") from exc
            yield data
