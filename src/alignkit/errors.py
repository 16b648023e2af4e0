"""Errors a user can cause. The CLI prints their message on one line and exits with code 2."""


class UserError(Exception):
    """Bad input: a file, a field, a config key, a path. The message names where and what was expected."""

    exit_code = 2


class TrainingError(Exception):
    """A run that cannot go on (e.g. a non-finite loss). Exit code 1, one line, no traceback."""

    exit_code = 1
