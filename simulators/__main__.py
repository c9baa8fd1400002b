"""`python -m simulators ...` is `sim ...`, for a checkout that is not the installed one."""

from __future__ import annotations

from .cli import main

main()
