"""`python manage.py erase_customer ID --reason TEXT` (or `--external-id X --business-line KEY`): erase one
customer on their request, with their conversations, messages and files. Kept in the audit log."""

import getpass

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.selectors import customer_by_external_id
from privacy.services import ErasureRefused, customer_erase


class Command(BaseCommand):
    help = (
        "Erase one customer (by id, or by external id and business line key): their conversations, messages, "
        "files and the customer record. Refused while they are in an open conversation."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", nargs="?", type=int, help="the customer's id")
        parser.add_argument("--external-id", help="the customer's id in the business line's own systems")
        parser.add_argument("--business-line", help="the business line's key (with --external-id)")
        parser.add_argument(
            "--reason", required=True, help="why (their request, a ticket number): kept in the audit log"
        )

    def handle(
        self,
        *args: object,
        customer_id: int | None,
        external_id: str | None,
        business_line: str | None,
        reason: str,
        **options: object,
    ) -> None:
        if (customer_id is None) == (external_id is None):
            raise CommandError("Give either a customer id or --external-id with --business-line")
        if external_id is not None:
            if not business_line:
                raise CommandError("--external-id needs --business-line KEY")
            customer = customer_by_external_id(business_line_key=business_line, external_id=external_id)
            if customer is None:
                raise CommandError(f"No customer with external id {external_id!r} in business line {business_line!r}")
            customer_id = customer.id
        assert customer_id is not None  # given, or found by its external id
        try:
            deleted = customer_erase(customer_id=customer_id, reason=reason, actor_label=_operator())
        except ErasureRefused as refused:
            raise CommandError(f"{refused.code}: {refused.message}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Customer {customer_id} erased: {deleted.conversations} conversations, {deleted.messages} messages, "
                f"{deleted.files} files"
            )
        )


def _operator() -> str:
    """Who ran the command, for the audit log: the operating-system user."""
    try:
        user = getpass.getuser()
    except OSError:
        user = "unknown"
    return f"manage.py erase_customer ({user})"
