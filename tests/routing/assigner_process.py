"""A separate OS process that runs the assignment rule on the test database, for the multi-process stress test.

Usage: python -m tests.routing.assigner_process BUSINESS_LINE_ID, with DATABASE_URL, REDIS_URL and REDIS_PREFIX
set to the test run's. It prints `ready` once Django is set up, waits for a line on stdin so that every process
starts at the same moment, runs the rule until it assigns nothing more, and prints the assigned ids as JSON.
"""

import json
import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_platform.settings")
    django.setup()
    from django.db import connection

    from routing.services import assignment_run

    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    assigned: list[int] = []
    while batch := assignment_run(business_line_id=int(sys.argv[1])):
        assigned += batch
    print(json.dumps(assigned), flush=True)


if __name__ == "__main__":
    main()
