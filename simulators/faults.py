"""Exceptions a model raised where nobody was waiting for them, kept for whoever holds its handle.

A model's code mostly runs in its caller's thread (`sim`, a test): an
exception there reaches the caller as it is. Two kinds of model code run
elsewhere, and their exceptions would otherwise only be printed by the
thread that happened to run them:

- a register hook run by a host-side access (`RegisterFile.bus_write` from a
  stand-in for the driver, in a thread of its own). On iomem the guest's own
  loads and stores never reach the host, so no hook runs for them; over PCI
  the backend runs every hook and reports a model error in its log
  (`umlharness.pci.PciModelError`);
- a thread the model starts (`DeviceModel.start_thread`).

`Faults` records them; `ModelHandle` raises the first as a `ModelError` at
its next `check()` (and `explain()`) and at the latest when it closes, which
for the pytest fixtures is the test's teardown.
"""

from __future__ import annotations

import threading

from .errors import ModelError


class Faults:
    """The exceptions model `model` raised outside its callers, first one first."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._lock = threading.Lock()
        self._errors: list[tuple[BaseException, str]] = []

    def record(self, error: BaseException, where: str) -> None:
        """Keep `error`, raised `where` ("in its write hook on CTRL"), for `raise_pending`."""
        with self._lock:
            self._errors.append((error, where))

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._errors)

    def raise_pending(self) -> None:
        """Raise the first recorded error as a ModelError (counting the others), and forget them.

        Only the first is shown: a hook that fails on every access would
        otherwise bury the report under copies of one traceback.
        """
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            error, where = errors[0]
            raise ModelError(self.model, error, where, more=len(errors) - 1) from error
