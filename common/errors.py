"""Exceptions the library raises for bad input.

Each carries one sentence a user can act on: what was wrong, with the offending
value or file, and what was expected.
"""


class DataError(ValueError):
    """A data file or folder that cannot be read as MNIST: missing, malformed or corrupt."""


class DownloadError(DataError):
    """The data could not be fetched from any mirror, or what arrived failed its checksum."""


class ParameterError(ValueError):
    """A parameter outside its allowed range, e.g. "The 'lr' parameter must be a float > 0. Got -1 instead." """


class DivergenceError(ArithmeticError):
    """Training produced a non-finite value (the learning rate is usually too large)."""


class ConformanceError(ParameterError):
    """A user's network that does not keep the Network protocol: a missing method or attribute, a
    method returning the wrong shape, dtype or type, or an exception raised inside its own code
    (the message then ends with the network's own frames of the traceback)."""


def with_article(noun: str) -> str:
    """``"a list"``, ``"an Optimizer_Adam"``: a noun with its indefinite article, as the messages say it.

    >>> with_article("list"), with_article("Optimizer_Adam")
    ('a list', 'an Optimizer_Adam')
    """
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
