"""``python -m streams worker [faust worker options]``: one stream worker process.

The settings come from the environment (GLAMCAST_*); `streams.worker.run` starts several of
these with their own web ports and forwards SIGTERM to them.
"""

from __future__ import annotations

import gc
import sys

from glamcast.core.settings import get_settings
from streams.app import ensure_topics, worker_app

#: Allocations between young-generation collections. A batch allocates a few hundred thousand
#: short-lived objects (models, dicts, datetimes) that reference counting frees anyway; with
#: Python's default (700) the collector runs hundreds of times per batch and, measured on try-on
#: batches, doubles the cost of validating them.
GC_THRESHOLD = 50_000


def main() -> None:
    settings = get_settings()
    if "worker" in sys.argv[1:]:
        ensure_topics(settings)
    app = worker_app(settings)
    gc.freeze()  # what start-up built lives as long as the process: never scan it again
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    app.main()


if __name__ == "__main__":
    main()
