"""aiosmtpd handler for the dispatcher tests: a Maildir like
aiosmtpd.handlers.Mailbox, except that the first RCPT TO of an address
starting with "flaky" gets 451 (a temporary failure, as a greylisting server
answers), so the dispatcher must retry that recipient only.

    python3 -m aiosmtpd -n -l HOST:PORT -c smtp_flaky.FlakyMailbox MAILDIR
(with this directory on PYTHONPATH)"""
from aiosmtpd.handlers import Mailbox


class FlakyMailbox(Mailbox):
    def __init__(self, mail_dir):
        super().__init__(mail_dir)
        self.refused = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("flaky") and address not in self.refused:
            self.refused.add(address)
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
