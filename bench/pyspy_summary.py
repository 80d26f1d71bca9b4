"""Reads a py-spy `--format raw --threads --idle` profile: where each thread's wall time went, by function.

Inclusive shares (a function counts for every sample it is anywhere on the stack in), per thread, so that
the database thread's share of one worker's time can be split into connect, queries, commit and publish.

    python -m bench.pyspy_summary bench/results/profile-...-web1.txt [--top 40]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

_THREAD_ID = re.compile(r"\s*\(\d+\)")
_LINE_NUMBER = re.compile(r":\d+\)$")


def summarize(path: Path, *, top: int = 40) -> str:
    """A plain-text report: each thread's samples, then its `top` functions by inclusive share."""
    per_thread: Counter[str] = Counter()
    inclusive: dict[str, Counter[str]] = defaultdict(Counter)
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        thread, *frames = stack.split(";")
        thread = _THREAD_ID.sub("", thread).removeprefix("thread").strip(" :")
        per_thread[thread] += count
        for name in {_LINE_NUMBER.sub(")", frame) for frame in frames}:
            inclusive[thread][name] += count
    lines = [f"{path.name}: samples per thread {dict(per_thread)}"]
    for thread, total in per_thread.most_common():
        lines.append(f"\n== {thread} ({total} samples = 100% of wall time)")
        for name, count in inclusive[thread].most_common(top):
            lines.append(f"{100 * count / total:6.1f}%  {name}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    print(summarize(args.profile, top=args.top))
