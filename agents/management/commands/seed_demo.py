"""`python manage.py seed_demo [--password P] [--capacity N] [--identity-secret S]`: create or reset the demo."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.demo import (
    DEFAULT_CAPACITY,
    DEFAULT_IDENTITY_SECRET,
    DEFAULT_PASSWORD,
    DEMO_CANNED_REPLIES,
    DEMO_LABELS,
    demo_seed,
)

MAX_CAPACITY = 1000


class Command(BaseCommand):
    help = "Create (or reset) business line `demo`, agents agent1-agent3 and a supervisor, all with one password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="password of every demo user")
        parser.add_argument("--capacity", type=int, default=DEFAULT_CAPACITY, help="open chats per agent")
        parser.add_argument(
            "--identity-secret",
            default=DEFAULT_IDENTITY_SECRET,
            help="HMAC secret for identified customers of the demo business line",
        )

    def handle(self, *args: object, password: str, capacity: int, identity_secret: str, **options: object) -> None:
        if not password:
            raise CommandError("--password must not be empty")
        if not 1 <= capacity <= MAX_CAPACITY:
            raise CommandError(f"--capacity must be between 1 and {MAX_CAPACITY}")
        if not identity_secret:
            raise CommandError("--identity-secret must not be empty")
        seed = demo_seed(password=password, capacity=capacity, identity_secret=identity_secret)

        def verb(name: str) -> str:
            return "created" if name in seed.created else "reset"

        line = seed.business_line
        self.stdout.write(f'Business line "{line.name}" (key {line.key}): {verb(line.key)}')
        self.stdout.write(f"  identity secret: {line.identity_secret}")
        self.stdout.write(f"  allowed origins: {', '.join(line.allowed_origin_list)}")
        for agent in seed.agents:
            username = agent.user.get_username()
            self.stdout.write(f"Agent {username} ({agent.display_name}), capacity {agent.capacity}: {verb(username)}")
        replies = ", ".join(f"/{shortcut}" for shortcut, _title, _body in DEMO_CANNED_REPLIES)
        self.stdout.write(f"Canned replies of the line: {replies}; labels: {', '.join(DEMO_LABELS)}")
        username = seed.supervisor.get_username()
        self.stdout.write(f"Supervisor {username} (group Supervisors): {verb(username)}")
        self.stdout.write(self.style.SUCCESS(f"Password of every demo user: {seed.password}"))
