"""Errors with messages meant for the person using the product (one line, says what to do)."""


class RagError(Exception):
    """Base class: the message is shown as is by the CLI and the UI."""


class QuestionError(RagError):
    """The question (or a value sent with it) is empty, too long or not text."""


def checked_text(value: object, what: str, limit: int) -> str:
    """`value` if it is a string of at most `limit` characters that can be encoded (JSON and
    command lines can carry lone surrogates, which no answer could then be written with)."""
    if not isinstance(value, str):
        raise QuestionError(f"The {what} must be text.")
    if len(value) > limit:
        raise QuestionError(f"The {what} is {len(value):,} characters long; the limit is {limit:,}. Please shorten it.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QuestionError(f"The {what} contains bytes that are not valid UTF-8 text.") from None
    return value


class IndexProblem(RagError):
    """The index is missing, was built with another embedding model, or cannot be built."""


class StoreUnavailable(RagError):
    """The Chroma server cannot be reached."""


class ConfigError(RagError):
    """A setting (environment variable or `.env` line) has a value the product cannot use."""
