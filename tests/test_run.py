"""`make run` (cs_platform/run.py): its banner lists the README's URLs, and comes once everything is up, after the
start-up output of the web worker, Celery worker and beat, so it is the last thing on screen."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from cs_platform.run import Prepared, _banner, _StartedProcesses
from cs_platform.stack import BASE_DIR, forget_redis_keys, free_port
from tests.integration.harness import database_url

README_URLS = [
    "http://127.0.0.1:8000/",
    "http://127.0.0.1:8000/workbench/",
    "http://127.0.0.1:8000/h5/?business_line=demo",
    "http://127.0.0.1:8000/admin/",
    "http://127.0.0.1:8000/api/docs/",
    "http://127.0.0.1:8000/healthz",
    "http://127.0.0.1:8000/metrics",
]
RULE = "=" * 72
START_TIMEOUT = 120.0


def urls_in(text: str) -> list[str]:
    return re.findall(r"http://127\.0\.0\.1:\d+/\S*", text)


def readme_run_table() -> str:
    readme = (BASE_DIR / "README.md").read_text()
    return readme.split("## `make run`", 1)[1].split("\n## ", 1)[0]


def test_the_readme_lists_these_urls():
    assert [url.rstrip("|").strip() for url in urls_in(readme_run_table())] == README_URLS


def test_the_banner_lists_every_url_of_the_readme_and_no_other():
    banner = _banner(
        8000, Prepared(database_url="", redis_url="", seeded=True), embedded_db=False, embedded_redis=False
    )
    assert urls_in(banner) == README_URLS


def test_worker_and_beat_are_up_once_each_has_said_so():
    # given: lines as honcho relays them
    started = _StartedProcesses()
    lines = [
        b'03:43:33 web.1    | 127.0.0.1:50778 - - [30/Nov/2026:03:43:33] "GET /healthz" 200 49\n',
        b"03:43:33 beat.1   | 2026-11-30 03:43:33,430 INFO celery.beat [pid 19751] beat: Starting...\n",
        b"03:43:33 worker.1 | 2026-11-30 03:43:33,516 INFO celery.worker.consumer.mingle mingle: searching\n",
        b"03:43:34 worker.1 | 2026-11-30 03:43:34,556 INFO celery.apps.worker [pid 19752] celery@vm ready.\n",
    ]

    # when / then
    seen = []
    for line in lines:
        started.see(line)
        seen.append(started.all_up())
    assert seen == [False, False, False, True]


class Output:
    """The lines of a process's stdout as they come, read on a thread so the test never blocks on a pipe."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in iter(stream.readline, b""):
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    def wait_for(self, text: str, *, count: int = 1, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.lines) < count:
            assert time.monotonic() < deadline, f"no {text!r} after {timeout} s:\n" + "\n".join(self.lines)
            time.sleep(0.1)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_make_run_prints_the_banner_after_every_process_is_up(tmp_path: Path):
    # given: make run's own command, on the test database and the shared Redis under a prefix of its own
    port = free_port()
    prefix = f"csrun{uuid.uuid4().hex[:8]}"
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    env.update(
        PORT=str(port),
        DATABASE_URL=database_url(connection.settings_dict),
        REDIS_URL=settings.REDIS_URL,
        REDIS_PREFIX=prefix,
        CS_DATA_DIR=str(tmp_path),
        PYTHONUNBUFFERED="1",
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "cs_platform.run"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = Output(run.stdout)
    try:
        # when
        output.wait_for(RULE, count=2, timeout=START_TIMEOUT)
        run.send_signal(signal.SIGINT)
        returncode = run.wait(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        forget_redis_keys(settings.REDIS_URL, prefix)

    # then: the banner with the README's URLs on this port, after the web worker answered, the Celery worker
    # said it is ready and beat started
    lines = output.lines
    banner_at = lines.index(RULE)
    banner = "\n".join(lines[banner_at : lines.index(RULE, banner_at + 1) + 1])
    assert urls_in(banner) == [url.replace(":8000", f":{port}") for url in README_URLS]
    before = "\n".join(lines[:banner_at])
    assert '"GET /healthz" 200' in before
    assert "celery@" in before and " ready." in before
    assert "beat: Starting..." in before
    assert returncode == 0
