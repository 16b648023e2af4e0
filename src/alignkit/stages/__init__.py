"""One module per stage; `run(name, args)` runs a stage by its CLI name, as `alignkit NAME ARGS` does."""

from __future__ import annotations

import importlib
from pathlib import Path

MODULES = {"rm": "reward"}  # CLI names whose module is named otherwise


def run(name: str, args: list[str]) -> Path:
    """Resolve `args` into the stage's config (alignkit.config.STAGES) and run it; returns final/."""
    from alignkit import config

    module = importlib.import_module(f"alignkit.stages.{MODULES.get(name, name)}")
    return module.run(config.resolve(config.STAGES[name], args))
