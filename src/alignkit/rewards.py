"""Reward functions for GRPO: plain Python, called on a batch of answers.

A reward function is named on the command line as `module:function` (an importable module, the
working directory included) or `path/to/file.py:function`, and is called as

    function(prompts=[...], completions=[...], **fields) -> list of floats, one per completion

`prompts` holds each row's prompt as the prompts file has it (a string, or chat messages), and
`completions` the sampled answers as text. Any other field of the rows reaches the function as a
keyword argument of the same name (a list, one value per completion, None where a row lacks it)
when the function declares that name or takes **kwargs: a row's reference `answer` for a maths
task, say. This is the signature TRL's GRPOTrainer uses; completions are always text here, so TRL
reward functions written for text completions work unchanged (those that read conversational
completions as message lists do not).

`demo` names the embedded demo's verifiable rule, rules.step_format.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from alignkit import rollout
from alignkit.errors import UserError
from alignkit.rules import step_format

PROMPT_FIELDS = ("prompt", "messages")


def load_function(spec: str, key: str) -> Callable:
    """`module:function` or `path/file.py:function` -> the function; errors name the config key."""
    if spec == "demo":
        return step_format
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise UserError(f"{key}: expected module:function or path/file.py:function, got {spec!r}")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise UserError(f"{key}: {where}: no such file")
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_spec.name] = module  # as an import would: dataclasses and pickling look it up
            module_spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")  # the working directory, as `python -m` would have it
            module = importlib.import_module(where)
    except UserError:
        raise
    except Exception as exc:  # an import error of any kind inside the user's module
        raise UserError(f"{key}: cannot import {where} ({type(exc).__name__}: {exc})") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise UserError(f"{key}: {where} has no function {name!r}")
    return function


class FunctionReward:
    """Scores prompts-file rows and their answers with a reward function (see the module's docstring)."""

    def __init__(self, function: Callable, name: str):
        self.function, self.name = function, name
        parameters = inspect.signature(function).parameters.values()
        self.takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        self.named = {p.name for p in parameters} - {"prompts", "completions"}

    def __call__(self, records: list[dict], answers: list[str]) -> torch.Tensor:
        fields = {key for record in records for key in record if key not in PROMPT_FIELDS}
        fields = fields if self.takes_all else fields & self.named
        extra = {key: [record.get(key) for record in records] for key in sorted(fields)}
        prompts = [rollout.prompt_of(record) for record in records]
        try:
            values = self.function(prompts=prompts, completions=answers, **extra)
        except Exception as exc:
            raise UserError(f"reward function {self.name} failed: {type(exc).__name__}: {exc}") from None
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            raise UserError(
                f"reward function {self.name} should return a list of numbers, got {values!r:.80}"
            ) from None
        if len(values) != len(answers):
            raise UserError(f"reward function {self.name} returned {len(values)} values for {len(answers)} answers")
        if not all(math.isfinite(v) for v in values):
            raise UserError(f"reward function {self.name} returned a value that is not finite")
        return torch.tensor(values, dtype=torch.float32)
