"""How a device backend tells the harness it listens: one line on its standard output."""

from __future__ import annotations

import sys

#: The backend is ready: its vhost-user socket listens and its model is built.
READY = "ready"
#: It could not start: the rest of the line says why (its log has the traceback).
FAILED = "error:"
#: In its log: a model raised while it served an access; one line, then the traceback.
MODEL_ERROR = "model error:"


def report_failure(error: Exception, program: str) -> int:
    """A backend that could not start: the FAILED line the harness waits for, the
    error and any model traceback (an error's `traceback`) in its log; exit status 2."""
    print(f"{FAILED} {error}", flush=True)
    details = getattr(error, "traceback", None)
    if details:
        print(details, file=sys.stderr)
    print(f"{program}: error: {error}", file=sys.stderr)
    return 2
