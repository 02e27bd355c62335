"""argparse types for the management commands: a bad flag is a usage error, not a traceback."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(text)
    return value


# argparse names the type in its message: "invalid positive number value: '-1'".
positive_int.__name__ = "positive integer"
positive_float.__name__ = "positive number"
non_negative_float.__name__ = "non-negative number"
