"""How a PCI backend tells the harness it listens: one line on its standard output."""

from __future__ import annotations

#: The backend is ready: its vhost-user socket listens and its model is built.
READY = "ready"
#: It could not start: the rest of the line says why (its log has the traceback).
FAILED = "error:"
#: In its log: a model raised while it served an access; one line, then the traceback.
MODEL_ERROR = "model error:"
