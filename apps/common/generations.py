"""When a per-thread resource (a Redis client, a broker producer) must be built again.

A ``Generation`` is a number that moves in a forked child (a resource built before the fork holds the parent's
socket) and when a setting it depends on changes (tests point Redis or the broker elsewhere). A thread keeps the
number its resource was built at and builds a new one when the number has moved: one integer comparison per use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed


class Generation:
    def __init__(self, *, depends_on: Callable[[str], bool]) -> None:
        self.value = 0
        self._depends_on = depends_on
        os.register_at_fork(after_in_child=self.advance)
        setting_changed.connect(self._on_setting_changed, weak=False)

    def advance(self) -> None:
        self.value += 1

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if self._depends_on(setting):
            self.advance()
