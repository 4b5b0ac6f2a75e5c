"""Errors the command line reports as one line instead of a traceback."""


class CommandError(Exception):
    """A failure explained in one line to the user; ``exit_code`` is the process status."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
