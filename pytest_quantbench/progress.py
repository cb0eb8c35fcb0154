"""Where long builds (fetching, fine-tuning) say how far they are: a callable taking one line."""

from __future__ import annotations

import sys
from collections.abc import Callable

Progress = Callable[[str], None]


def say(line: str) -> None:
    """The default progress sink: stderr, unbuffered, so a redirected log shows it as it happens."""
    print(line, file=sys.stderr, flush=True)
