"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input: a config value, a missing file, an unreachable hub. Never a bug in hpc_itt."""

    exit_code = 2


def choices(values) -> str:
    return ", ".join(sorted(str(v) for v in values))
