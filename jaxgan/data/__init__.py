"""jaxgan's data layer: `load(name)` for images and toy points, and their move to the device.

One home for what the rest of jaxgan shares about data: the dataset names, the toy-mixture table
(`mixture(name)`), the Stacked-MNIST label code, and the one uint8 ↔ float pair
(`uint8_to_unit_range` / `to_model_input` and `to_uint8_images`).

Example:
    >>> from jaxgan import data
    >>> ds = data.load("fashion_mnist_sample", limit=8)
    >>> data.to_model_input(ds.x).shape
    (8, 28, 28, 1)

"""

from jaxgan.data.bundled import FASHION_MNIST_CLASSES, SAMPLE_NAME, load_fashion_mnist_sample
from jaxgan.data.dataset import (
    DataFormatError,
    Dataset,
    DatasetUnavailableError,
    UnknownDatasetError,
    check_image_shape,
)
from jaxgan.data.device import to_model_input, to_uint8_images, uint8_to_unit_range
from jaxgan.data.idx import encode_idx, load_idx, parse_idx, read_idx
from jaxgan.data.names import name_forms, names
from jaxgan.data.registry import load
from jaxgan.data.stacked import (
    STACKED_NUM_MODES,
    stack_digits,
    stacked_label_digits,
    stacked_labels,
)
from jaxgan.data.subsets import SUBSET_SEED, per_class_indices, per_class_subset
from jaxgan.data.tfds_source import has_tensorflow, load_tfds
from jaxgan.data.toy import (
    GRID25_SIGMA,
    RING8_RADIUS,
    RING8_SIGMA,
    Mixture,
    grid25_modes,
    mixture,
    mixture_names,
    ring8_modes,
    sample_mixture,
)

__all__ = [
    "FASHION_MNIST_CLASSES",
    "GRID25_SIGMA",
    "RING8_RADIUS",
    "RING8_SIGMA",
    "SAMPLE_NAME",
    "STACKED_NUM_MODES",
    "SUBSET_SEED",
    "DataFormatError",
    "Dataset",
    "DatasetUnavailableError",
    "Mixture",
    "UnknownDatasetError",
    "check_image_shape",
    "encode_idx",
    "grid25_modes",
    "has_tensorflow",
    "load",
    "load_fashion_mnist_sample",
    "load_idx",
    "load_tfds",
    "mixture",
    "mixture_names",
    "name_forms",
    "names",
    "parse_idx",
    "per_class_indices",
    "per_class_subset",
    "read_idx",
    "ring8_modes",
    "sample_mixture",
    "stack_digits",
    "stacked_label_digits",
    "stacked_labels",
    "to_model_input",
    "to_uint8_images",
    "uint8_to_unit_range",
]
