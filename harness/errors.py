"""User-facing errors: each carries one clear line and the exit code the CLI returns."""


class HarnessError(Exception):
    """A problem the user can fix (bad input, missing weights, locked database): exit code 2."""

    exit_code = 2


class ProviderAuthError(HarnessError):
    """The provider rejected our credentials; the run stops rather than recording every sample as failed."""


class RunInterrupted(HarnessError):
    """The user pressed Ctrl-C; the run is marked interrupted and the CLI exits 130."""

    exit_code = 130
