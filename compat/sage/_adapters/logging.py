"""SAGE's ``CustomLogger`` as a facade over the standard ``logging`` module."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

_FORMAT = "%(asctime)s | %(levelname)-8s | %(name)s | %(message)s"


def _level(value: str | int) -> int:
    if isinstance(value, int):
        return value
    level = logging.getLevelName(str(value).upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {value!r}; use DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


class CustomLogger:
    """``CustomLogger(outputs=[("console", "INFO"), ("app.log", "DEBUG")], name="x",
    log_base_folder=None)``: a named ``logging.Logger`` with one handler per output."""

    _console_debug: ClassVar[bool] = True
    _instances: ClassVar[dict[str, CustomLogger]] = {}

    def __init__(
        self,
        outputs: Sequence[tuple[str, str | int]] | None = None,
        name: str | None = None,
        log_base_folder: str | None = None,
    ) -> None:
        self.name = name or "sage"
        self.log_base_folder = log_base_folder
        self.logger = logging.getLogger(self.name)
        self.logger.propagate = False
        self.outputs: list[dict[str, Any]] = []
        for target, level in outputs or [("console", "INFO")]:
            self.add_output(target, level)

    def _resolve_path(self, target: str) -> str:
        if os.path.isabs(target) or not self.log_base_folder:
            return target
        return os.path.join(self.log_base_folder, target)

    def add_output(self, output_target: str, level: str | int) -> None:
        if output_target == "console":
            handler: logging.Handler = logging.StreamHandler(sys.stderr)
        else:
            path = self._resolve_path(output_target)
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8")
        handler.setLevel(_level(level))
        handler.setFormatter(logging.Formatter(_FORMAT))
        self.logger.addHandler(handler)
        self.logger.setLevel(min(h.level for h in self.logger.handlers))
        self.outputs.append({"target": output_target, "level": level, "handler": handler})

    def remove_output(self, target_index_or_name: int | str) -> None:
        for i, out in enumerate(self.outputs):
            if target_index_or_name in (i, out["target"]):
                self.logger.removeHandler(out["handler"])
                del self.outputs[i]
                return

    def update_output_level(self, target_index_or_name: int | str, new_level: str | int) -> None:
        for i, out in enumerate(self.outputs):
            if target_index_or_name in (i, out["target"]):
                out["handler"].setLevel(_level(new_level))
                out["level"] = new_level

    def get_output_configs(self) -> list[dict[str, Any]]:
        return [{"target": o["target"], "level": o["level"]} for o in self.outputs]

    def print_current_configs(self) -> None:
        for out in self.get_output_configs():
            print(f"{out['target']}: {out['level']}")

    def _console_allows(self, level: int) -> bool:
        return level > logging.DEBUG or CustomLogger._console_debug

    def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        if self._console_allows(logging.DEBUG):
            self.logger.debug(message, *args, **kwargs)

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logger.info(message, *args, **kwargs)

    def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logger.warning(message, *args, **kwargs)

    def error(self, message: str, *args: Any, exc_info: bool = False, **kwargs: Any) -> None:
        self.logger.error(message, *args, exc_info=exc_info, **kwargs)

    def critical(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logger.critical(message, *args, **kwargs)

    def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logger.exception(message, *args, **kwargs)

    @classmethod
    def get_available_levels(cls) -> list[str]:
        return ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

    @classmethod
    def get_logger(cls, name: str = "sage", **kwargs: Any) -> CustomLogger:
        if name not in cls._instances:
            cls._instances[name] = cls(name=name, **kwargs)
        return cls._instances[name]

    @classmethod
    def disable_global_console_debug(cls) -> None:
        """SAGE programs call this first to keep the console quiet: the runtime's own loggers
        (``sage.*``) then show warnings and errors only."""
        cls._console_debug = False
        logging.getLogger("sage").setLevel(logging.WARNING)

    @classmethod
    def enable_global_console_debug(cls) -> None:
        cls._console_debug = True
        logging.getLogger("sage").setLevel(logging.NOTSET)

    @classmethod
    def is_global_console_debug_enabled(cls) -> bool:
        return cls._console_debug
