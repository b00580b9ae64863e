"""The dataset names `jaxgan.data.load` knows, and the one-line error for a name it does not.

Shared by the dispatcher (`registry`) and the tfds reader (`tfds_source`), which both report
unknown names; neither imports the other.
"""

from __future__ import annotations

import difflib

from jaxgan.data.bundled import SAMPLE_NAME
from jaxgan.data.toy import mixture_names

BUILTIN = (SAMPLE_NAME, *mixture_names(), "stacked_mnist")
_TFDS_EXAMPLES = ("mnist", "fashion_mnist", "cifar10")
_NAME_FORMS = ("idx:<folder>", "npz:<file>", "stacked_mnist:<source>", "tfds:<name>")


def names() -> tuple[str, ...]:
    """Return the concrete dataset names jaxgan documents (for CLI help and error messages).

    Besides these, `load` accepts the forms in `name_forms` and any tensorflow-datasets image
    dataset name.

    Returns:
        The bundled sample, the toy mixtures, stacked_mnist, then the tfds examples.

    Example:
        >>> names()[0]
        'fashion_mnist_sample'

    """
    return BUILTIN + _TFDS_EXAMPLES


def name_forms() -> tuple[str, ...]:
    """Return the patterned name forms `load` accepts, e.g. ``"idx:<folder>"``.

    Returns:
        A tuple of human-readable patterns.

    Example:
        >>> "idx:<folder>" in name_forms()
        True

    """
    return _NAME_FORMS


def unknown_message(name: str, detail: str = "") -> str:
    """Say in one line that `name` is unknown, list the valid names and suggest the closest.

    Args:
        name: the name that was asked for.
        detail: why it is unknown (e.g. tfds' own one-line reason), shown in parentheses.

    Returns:
        The message for an `UnknownDatasetError`.

    Example:
        >>> unknown_message("ring9").split(":")[0]
        "unknown dataset 'ring9'"

    """
    close = difflib.get_close_matches(name, names(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    detail = f" ({detail})" if detail else ""
    return (
        f"unknown dataset {name!r}{detail}: valid names are {', '.join(names())}, "
        f"{', '.join(name_forms())}, or any tensorflow-datasets image dataset{hint}"
    )
