"""Errors with messages meant for the person using the product (one line, says what to do)."""


class RagError(Exception):
    """Base class: the message is shown as is by the CLI and the UI."""


class QuestionError(RagError):
    """The question is empty or too long."""


class IndexProblem(RagError):
    """The index is missing, was built with another embedding model, or cannot be built."""


class StoreUnavailable(RagError):
    """The Chroma server cannot be reached."""


class ConfigError(RagError):
    """A setting (environment variable or `.env` line) has a value the product cannot use."""
