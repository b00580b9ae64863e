"""Write the tutorial notebooks from their cells, run them top to bottom and save them with outputs.

Run from the repository root (full mode: the committed outputs; minutes on a 2-core CPU):

    python scripts/build_notebooks.py                 # all three notebooks
    python scripts/build_notebooks.py 02_dcgan        # one notebook (a name or a prefix)
    python scripts/build_notebooks.py --quick         # CI's quick mode (JAXGAN_NOTEBOOK_QUICK=1)
    python scripts/build_notebooks.py --no-execute    # write the cells only, no outputs
    python scripts/build_notebooks.py --keep-outputs  # prose edits: keep the committed outputs

The cells live here, as text, so that a change to a notebook is a reviewable diff of this file;
``tests/test_notebooks.py`` checks that the committed notebooks hold exactly these cells and runs
them in quick mode. Every notebook calls the public ``jaxgan`` API only: no training or metric
logic lives in a notebook or in this script.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
QUICK_ENV = "JAXGAN_NOTEBOOK_QUICK"
KERNEL_SPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

Cell = tuple[str, str]  # ("markdown" | "code", source)


def md(text: str) -> Cell:
    """Return a markdown cell (the text is dedented and stripped).

    Args:
        text: the cell's markdown.

    Returns:
        ``("markdown", source)``.

    Example:
        >>> md("  # Title")
        ('markdown', '# Title')

    """
    return "markdown", textwrap.dedent(text).strip()


def code(*parts: str) -> Cell:
    r"""Return a code cell: the parts, each dedented and stripped, separated by a blank line.

    Args:
        *parts: pieces of the cell's Python source.

    Returns:
        ``("code", source)``.

    Example:
        >>> code("  x = 1", "    y = 2")
        ('code', 'x = 1\n\ny = 2')

    """
    return "code", "\n\n".join(textwrap.dedent(part).strip() for part in parts)


# The parameter cell every notebook starts with: the only place quick mode is decided.
QUICK_CELL = """
import os

# CI runs every notebook with JAXGAN_NOTEBOOK_QUICK=1: same cells, drastically shorter training.
QUICK = os.environ.get("JAXGAN_NOTEBOOK_QUICK") == "1"
print(f"QUICK = {QUICK}")
"""

SETUP_LINES = """
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})  # small figures, small notebook
FIGURES = Path(tempfile.mkdtemp(prefix="jaxgan-notebook-"))  # jaxgan.viz writes PNGs here
"""


# ----------------------------------------------------------------------------- 01


def walkthrough_cells() -> list[Cell]:
    """Cells of ``01_generator_walkthrough.ipynb``: the seed's GAN, one step at a time.

    Returns:
        The notebook's cells in order.

    Example:
        >>> walkthrough_cells()[0][0]
        'markdown'

    """
    return [
        md("""
        # 1 · The seed's GAN, one step at a time

        A generative adversarial network is two networks playing a game. The **generator G**
        turns random noise z into an image; the **discriminator D** looks at an image and says
        how likely it is to be real. D is trained to tell real images from G's; G is trained to
        make D say "real". When the game goes well, G ends up drawing images that look like the
        training data.

        This notebook redoes the founding document's lesson with jaxgan: build its fully
        connected generator and a discriminator, write out one alternating D/G training step
        with jaxgan's pure functions, train with `jaxgan.fit`, and judge the generator on the
        seed's three criteria: **quality**, **diversity** and **similarity to real images**.

        It uses the Fashion-MNIST sample bundled with jaxgan (5,000 training and 1,000 test
        images), so it runs offline. The outputs below come from the full run (about
        `TRAIN_STEPS` = 10,000 iterations); CI runs the same cells in quick mode.
        """),
        code(QUICK_CELL, """
        TRAIN_STEPS = 200 if QUICK else 10_000  # one step = one D update + one G update
        NUM_EVAL = 200 if QUICK else 1_000  # generated images judged (the test split has 1,000)
        BATCH_SIZE = 64
        SEED = 0
        """),
        code("""
        import tempfile
        import time
        from pathlib import Path

        import jax
        import matplotlib.pyplot as plt
        import numpy as np
        from flax import nnx
        from IPython.display import Image, display

        import jaxgan
        from jaxgan import data, metrics, models, viz
        """, SETUP_LINES),
        md("""
        ## The data

        `jaxgan.data.load` returns a `Dataset` of uint8 images (N, 28, 28, 1) with labels.
        Models see floats in [-1, 1]: `data.to_model_input` converts (as `jaxgan.fit` does
        internally).
        """),
        code("""
        train = data.load("fashion_mnist_sample")
        test = data.load("fashion_mnist_sample", split="test")
        print("train", train.x.shape, train.x.dtype, "| test", test.x.shape)
        print("classes:", ", ".join(data.FASHION_MNIST_CLASSES))
        display(Image(filename=viz.save_image_grid(train.x[:32], FIGURES / "real.png",
                                                   columns=16, scale=2)))
        """),
        md("""
        ## G and D

        The seed's generator: z (100 numbers drawn from N(0, I)) → Dense 128 + ReLU →
        Dropout 0.3 → Dense 784 + tanh → a 28×28 image in [-1, 1]. Its discriminator here is
        the matching fully connected network: flatten 784 → Dense 128 + LeakyReLU(0.2) →
        Dense 1. D returns a **logit**; the probability "real" is `sigmoid(logit)`.
        Both are ordinary Flax NNX modules.
        """),
        code("""
        G = models.MLPGenerator(latent_dim=100, hidden=128, dropout=0.3, rngs=nnx.Rngs(0))
        D = models.MLPDiscriminator(image_shape=(28, 28, 1), hidden=128, rngs=nnx.Rngs(1))
        for name, module in (("G", G), ("D", D)):
            params = nnx.state(module, nnx.Param)
            shapes = {"/".join(map(str, path)): tuple(p.shape) for path, p in params.flat_state()}
            print(name, f"{sum(p.size for p in jax.tree.leaves(params)):,} parameters", shapes)
        """),
        md("""
        Untrained, G draws noise and D has no opinion yet (probabilities near 0.5):
        """),
        code("""
        G.eval()  # evaluation mode: no dropout
        z = jaxgan.sample_latent(jax.random.key(1), 16, 100)
        untrained = G(z)
        print("G(z):", untrained.shape, f"values in [{untrained.min():.2f}, {untrained.max():.2f}]")
        print("D(G(z)) =", " ".join(f"{p:.2f}" for p in jax.nn.sigmoid(D(untrained))))
        display(Image(filename=viz.save_image_grid(untrained, FIGURES / "untrained.png",
                                                   columns=16, scale=2)))
        """),
        md("""
        ## The training state

        `jaxgan.create_state` packs both players into one immutable `GANState`: for each
        player its parameters, its other variables (BatchNorm statistics; none here) and its
        optimiser state (Adam, lr 2e-4, β1 0.5: DCGAN's settings, the default), plus two update
        counters. The loss (non-saturating, the default) and the other settings are a static
        `StepConfig`.
        """),
        code("""
        state = jaxgan.create_state(G, D)
        print("step", int(state.step), "| d_updates", int(state.d_updates),
              "| g_updates", int(state.g_updates))
        print(state.config)
        """),
        md("""
        ## One alternating step, written out

        One training iteration is two updates:

        1. **D step** (`jaxgan.d_update`): draw z, make a fake batch G(z), and move D's
           parameters down the gradient of `−log D(x) − log(1 − D(G(z)))` on a real batch x:
           D learns to say 1 on real and 0 on fake images.
        2. **G step** (`jaxgan.g_update`): draw new z and move G's parameters down the gradient
           of `−log D(G(z))` (the *non-saturating* loss): G learns to make D say 1.

        Both are **pure functions** `(state, batch, key) -> (new_state, metrics)`: nothing is
        changed in place, the old state stays valid, and the randomness of each update is
        `fold_in(fold_in(key, player), counter)`, so the same base key passed every time gives
        a reproducible run. We compile them with `jax.jit`. (`jaxgan.d_step` and
        `jaxgan.g_step` are the same functions compiled with the input state *donated*: faster,
        but the state passed in may not be used again. We keep it here to compare.)
        """),
        code("""
        d_update = jax.jit(jaxgan.d_update)
        g_update = jax.jit(jaxgan.g_update)
        key = jax.random.key(SEED)  # the run's one base key
        real = data.to_model_input(train.x[:BATCH_SIZE])  # (64, 28, 28, 1) floats in [-1, 1]

        after_d, d_metrics = d_update(state, real, key)
        after_g, g_metrics = g_update(after_d, real, key)


        def show(label, s):
            d_bias = float(s.discriminator.params["out"]["bias"][...][0])
            g_bias = np.asarray(s.generator.params["out"]["bias"][...][:3])
            print(f"{label:<12} d_updates={int(s.d_updates)} g_updates={int(s.g_updates)}  "
                  f"D output bias {d_bias:+.6f}  G output bias[:3] {np.round(g_bias, 6)}")


        show("in", state)
        show("after D", after_d)
        show("after G", after_g)
        print("D step:", {k: round(float(v), 4) for k, v in d_metrics.items()})
        print("G step:", {k: round(float(v), 4) for k, v in g_metrics.items()})
        """),
        md("""
        Read the rows: the D step bumped `d_updates` and moved D's parameters (its output bias
        left 0) but left G untouched; the G step bumped `g_updates` and moved G's parameters
        only. The state we passed in is unchanged. `d_real` and `d_fake` are D's mean
        probability "real" on the real and the fake batch; `d_fake_g` is the same for the fresh
        fakes of the G step.

        Pure also means repeatable: the same state, batch and key give the same bits.
        """),
        code("""
        again, _ = d_update(state, real, key)
        same = all(np.array_equal(a, b) for a, b in
                   zip(jax.tree.leaves(after_d), jax.tree.leaves(again), strict=True))
        print("same inputs, same new state:", same)
        """),
        md("""
        ## Training

        Training is that pair of updates repeated on shuffled batches. `jaxgan.fit` puts the
        data on the device once, draws each batch by index there, and runs many iterations per
        compiled call (a `lax.scan` for a small model like this one), which is why it is much
        faster than a Python loop of the steps above. It continues from the state's counters:
        here from step 1, the iteration we did by hand. `history` holds every iteration's
        metrics. (`jaxgan train --preset seed-mlp` runs the same training from the command
        line.)
        """),
        code("""
        start = time.perf_counter()
        state, history = jaxgan.fit(after_g, train.x, steps=TRAIN_STEPS, batch_size=BATCH_SIZE,
                                    key=key)
        seconds = time.perf_counter() - start
        print(f"trained to step {int(state.step)} in {seconds:.1f} s "
              f"({TRAIN_STEPS / seconds:.0f} it/s with compilation) on {jax.default_backend()}")
        rows = [{k: v[i] for k, v in history.items()} for i in range(len(history["step"]))]
        display(Image(filename=viz.save_loss_curves(rows, FIGURES / "loss.png",
                                                    title="seed MLP GAN, per iteration")))
        """),
        md("""
        Unlike a classifier's loss, neither curve is meant to go to zero: the two losses
        measure a game. A healthy run keeps D's output on real images (`D(x)`) and on fakes
        (`D(G(z))`) apart but bounded away from 1 and 0; if `D(G(z))` sinks to 0 for good, D
        has won and G stops learning.

        ## Samples

        `jaxgan.generate` applies G in evaluation mode (dropout off). Each image below comes
        from its own z.
        """),
        code("""
        fake = jaxgan.generate(state, jaxgan.sample_latent(jax.random.key(123), NUM_EVAL, 100))
        display(Image(filename=viz.save_image_grid(fake[:64], FIGURES / "samples.png",
                                                   columns=16, scale=2)))
        """),
        md("""
        ## Quality, diversity, similarity

        Judging images needs a feature space. jaxgan ships a small CNN trained on
        Fashion-MNIST (`metrics.load_classifier`, checksummed weights); its 128-d penultimate
        features and its class predictions are the space of every number below, and the name
        of that space travels with the numbers. (Standard FID lives in the InceptionV3 space and
        is not comparable with these.)

        `metrics.evaluate_images` scores `NUM_EVAL` generated images against the 5,000 training
        images, and, as the **floor**, 1,000 *real* test images against the same training
        images at the same sample count: the score a perfect generator would get.
        """),
        code("""
        classifier = metrics.load_classifier("fashion_mnist")
        report = metrics.evaluate_images(
            fake, train.x,
            feature_fn=classifier.features, feature_space=classifier.feature_space,
            probabilities_fn=classifier.probabilities,
            name="seed MLP GAN", reference_split="fashion_mnist_sample train (5,000)",
            floor_real=test.x, floor_split="fashion_mnist_sample test",
        )
        protocol = report["protocol"]
        print(f"space: {protocol['feature_space']}")
        print(f"N_gen={protocol['n_gen']}  N_ref={protocol['n_ref']}  "
              f"N_floor={protocol['n_floor']}")
        print(f"{'':<11}{'metric':<20}{'generated':>11}{'real floor':>12}")
        for group in ("quality", "diversity", "similarity"):
            for metric, entry in report[group].items():
                print(f"{group:<11}{metric:<20}{entry['value']:>11.4g}{entry['floor']:>12.4g}")
        """),
        md("""
        What each number says (in the classifier's feature space; "ball" = the distance from a
        point to its k-th nearest neighbour in its own set):

        **Quality: do single images look like real ones?**
        - `precision` (k = 3): share of generated images inside the real data's balls, i.e.
          that look like *some* real image. The floor is below 1: real test images miss too.
        - `density` (k = 5): how many real balls contain a generated image, on average,
          divided by k: ≈ 1 for real data; far above 1 means samples crowd where the real data
          is densest.
        - `classifier_score`: the Inception-style score exp E[KL(p(y|x) ‖ p(y))] with the
          Fashion-MNIST classifier; high when each image is confidently one class and all 10
          classes occur (at most 10). `mean_confidence`: average top class probability.

        **Diversity: does G cover the whole data set?**
        - `recall` (k = 3): share of real images inside the generated images' balls: the part
          of the data G can draw.
        - `coverage` (k = 5): share of real images whose ball holds at least one generated
          image; ≈ 1 − 2⁻⁵ ≈ 0.97 for two *equally large* samples of one distribution, lower
          here (see the floor) because 1,000 images are set against 5,000.
        - `class_histogram_kl`: KL(classes of generated ‖ classes of real), 0 when every class
          appears as often as in the data; `classes_covered`: classes predicted at least once.
          A collapsed generator scores a high KL and few classes.

        **Similarity: how far is the whole generated distribution from the real one?**
        - `fd`: Fréchet distance between Gaussians fitted to the two feature sets (0 for
          identical ones). It is biased in the sample count: compare FDs only at equal N_gen
          and N_ref, as the floor is.
        - `kid`: the unbiased kernel distance (MMD² with a cubic polynomial kernel, mean over
          subsets); ≈ 0 for real data, negative values are noise around 0.

        Judge each value by its distance to its floor, not to 0 or 1. In the full run above the
        seed's small fully connected GAN does best on quality (precision close to its floor:
        most single samples land among real items) and worst on diversity (recall and coverage
        far below their floors: it draws a narrow, blurry part of the data), and its FD is two
        orders of magnitude above the floor. `02_dcgan.ipynb` trains a convolutional GAN and
        tracks the same FD, in the same space and at the same N, while it trains: it gets well
        below this one within a few thousand iterations.

        The report also lists, for a few generated images, their nearest *training* images in
        the feature space: a memorisation check. Below, each group of four is one generated
        image followed by its three nearest training images; a GAN that copied its data would
        show near-identical neighbours. (`metrics.save_report_panel` draws samples, neighbours
        and the table as one PNG for a run folder.)
        """),
        code("""
        examples = report["examples"]
        groups = [np.concatenate([metrics.to_uint8(fake[i : i + 1]), train.x[nearest]])
                  for i, nearest in zip(examples["fake_indices"], examples["nearest_real_indices"],
                                        strict=True)]
        display(Image(filename=viz.save_image_grid(np.concatenate(groups),
                                                   FIGURES / "neighbours.png",
                                                   columns=8, scale=2)))
        """),
    ]


# ----------------------------------------------------------------------------- 02


def dcgan_cells() -> list[Cell]:
    """Cells of ``02_dcgan.ipynb``: a convolutional GAN, watched while it trains.

    Returns:
        The notebook's cells in order.

    Example:
        >>> dcgan_cells()[1][0]
        'code'

    """
    return [
        md("""
        # 2 · DCGAN: watching a convolutional GAN learn

        DCGAN (Radford et al. 2016) replaces the fully connected layers of notebook 1 with
        (transposed) convolutions, BatchNorm in the generator and LeakyReLU in the
        discriminator. This notebook trains it on the bundled Fashion-MNIST sample and watches
        the run: loss curves, samples from **fixed noise** over time, and a **metric over
        training** (the Fréchet distance in the Fashion-MNIST classifier's feature space every
        `SEGMENT_STEPS` iterations). It ends with a walk through the latent space.

        On a CPU a DCGAN is slow (convolutions dominate), so the full run here is short and
        uses `WIDTH` = 32 channels instead of the tutorial's 64; with a GPU, raise
        `WIDTH`, `SEGMENTS` and the data (`DATA = "fashion_mnist"` through
        tensorflow-datasets, or `"idx:<folder>"` with the full IDX files).
        """),
        code(QUICK_CELL, """
        DATA = "fashion_mnist_sample"  # bundled: 5,000 train / 1,000 test images, offline
        CLASSIFIER = "fashion_mnist"  # the feature space of the metric over training
        WIDTH = 8 if QUICK else 32  # channels of the last hidden layer (64 in the tutorial)
        SEGMENTS = 2 if QUICK else 8  # training segments; samples + FD after each
        SEGMENT_STEPS = 3 if QUICK else 400  # iterations per segment
        NUM_EVAL = 200 if QUICK else 1_000  # generated images per FD
        BATCH_SIZE = 64
        # a Python loop of fused steps: XLA:CPU runs convolutions inside lax.scan far slower
        LOOP = "python"
        """),
        code("""
        import tempfile
        import time
        from pathlib import Path

        import jax
        import jax.numpy as jnp
        import matplotlib.pyplot as plt
        import numpy as np
        from IPython.display import Image, display

        import jaxgan
        from jaxgan import data, metrics, models, viz
        """, SETUP_LINES),
        md("""
        ## Data and models

        The 28×28 DCGAN pair is the TensorFlow DCGAN tutorial's architecture: G projects z to
        7×7×(4·WIDTH), then a 5×5 stride-1 and two stride-2 transposed convolutions (with
        BatchNorm and LeakyReLU) reach 28×28×1 with tanh; D has two 5×5 stride-2 convolutions
        with LeakyReLU(0.2) and dropout 0.3, then one logit. On CPU jaxgan runs each stride-2
        transposed convolution as an equivalent sub-pixel convolution (`upsample="auto"`):
        the same function and parameters, much faster gradients on XLA:CPU.

        `create_state` accepts *factories* (`rngs -> module`) and builds them from one key.
        """),
        code("""
        train = data.load(DATA)
        test = data.load(DATA, split="test")
        print(DATA, "train", train.x.shape, "test", test.x.shape)

        state = jaxgan.create_state(
            lambda rngs: models.DCGANGenerator(image_shape=(28, 28, 1), width=WIDTH, rngs=rngs),
            lambda rngs: models.DCGANDiscriminator(image_shape=(28, 28, 1), width=WIDTH,
                                                   rngs=rngs),
            key=jax.random.key(0),
        )
        for name, player in (("G", state.generator), ("D", state.discriminator)):
            print(name, f"{sum(p.size for p in jax.tree.leaves(player.params)):,} parameters")
        """),
        md("""
        ## Training in segments resumes exactly

        We will call `jaxgan.fit` once per segment, looking at the generator in between. That
        changes nothing about the run: batches and noise are functions of the run's key and
        the state's counters, so `fit` for 2n steps and `fit` for n steps called twice end in
        the same bits. A check on copies of the initial state (`fit` donates the state it is
        given, so we pass copies):
        """),
        code("""
        RUN_KEY = jax.random.key(1)


        def copy(s):
            return jax.tree.map(jnp.copy, s)


        once, _ = jaxgan.fit(copy(state), train.x, steps=4, batch_size=BATCH_SIZE, key=RUN_KEY,
                             loop=LOOP)
        half, _ = jaxgan.fit(copy(state), train.x, steps=2, batch_size=BATCH_SIZE, key=RUN_KEY,
                             loop=LOOP)
        twice, _ = jaxgan.fit(half, train.x, steps=2, batch_size=BATCH_SIZE, key=RUN_KEY,
                              loop=LOOP)
        print("4 steps at once == 2 + 2 steps:",
              all(np.array_equal(a, b) for a, b in
                  zip(jax.tree.leaves(once), jax.tree.leaves(twice), strict=True)))
        """),
        md("""
        ## Training, watched

        After each segment: 16 samples from the same fixed noise (so the rows below show the
        *same* 16 latent points over time), and the Fréchet distance (FD) between `NUM_EVAL`
        generated images and the training images in the classifier's 128-d feature space.
        FD is biased in the sample count, so its floor, 1,000 real test images against the
        same training images, is computed at the same N.
        """),
        code("""
        classifier = metrics.load_classifier(CLASSIFIER)
        real_features = classifier.features(train.x)
        floor = metrics.frechet_distance_from_features(
            classifier.features(test.x[:NUM_EVAL]), real_features)
        fixed_z = jaxgan.sample_latent(jax.random.key(2), 16, state.config.latent_dim)
        eval_z = jaxgan.sample_latent(jax.random.key(3), NUM_EVAL, state.config.latent_dim)

        histories, snapshots, fds = [], [], []
        start = time.perf_counter()
        for _ in range(SEGMENTS):
            state, history = jaxgan.fit(state, train.x, steps=SEGMENT_STEPS,
                                        batch_size=BATCH_SIZE, key=RUN_KEY, loop=LOOP)
            histories.append(history)
            snapshots.append(jaxgan.generate(state, fixed_z))
            fake = metrics.to_uint8(jaxgan.generate(state, eval_z))
            fds.append(metrics.frechet_distance_from_features(
                classifier.features(fake), real_features))
            print(f"step {int(state.step):>5}  FD {fds[-1]:8.2f}  "
                  f"({time.perf_counter() - start:.0f} s)")
        print(f"real-vs-real floor: FD {floor:.2f}  (space: {classifier.feature_space}, "
              f"N_gen={NUM_EVAL}, N_ref={len(train.x)})")
        """),
        md("""
        ## Training curves
        """),
        code("""
        history = {k: np.concatenate([h[k] for h in histories]) for k in histories[0]}
        rows = [{k: v[i] for k, v in history.items()} for i in range(len(history["step"]))]
        display(Image(filename=viz.save_loss_curves(rows, FIGURES / "loss.png",
                                                    title=f"DCGAN width {WIDTH}")))

        steps = [SEGMENT_STEPS * (i + 1) for i in range(SEGMENTS)]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(steps, fds, "o-", label="generated vs train")
        ax.axhline(floor, color="gray", linestyle="--", label="real test vs train (floor)")
        ax.set(xlabel="step", ylabel="FD (classifier space)", yscale="log",
               title=f"FD over training, N_gen={NUM_EVAL}")
        ax.legend()
        plt.show()
        """),
        md("""
        In the full run above FD falls steadily for the whole run (note the log scale), from
        about 70 after 400 iterations to about 9 after 3,200, which is still some 40 times its
        real-vs-real floor: the run is far from converged, which is what a CPU budget buys.
        The loss curves are no progress measure (the game keeps both losses roughly level
        while FD falls almost tenfold); a feature-space metric like this one is.

        ## Samples over time, from fixed noise

        Each row is one segment's end (steps printed above); each column one fixed z. In the
        first row every z gives nearly the same gray shape; a few segments later the columns
        have become different items (pullovers, trousers, sneakers, bags) and later rows
        sharpen them, each column mostly keeping its item: G changes smoothly as its
        parameters move. After 3,200 iterations the images are still blurry and textured.
        """),
        code("""
        print("rows: after steps", ", ".join(map(str, steps)))
        display(Image(filename=viz.save_image_grid(np.concatenate(snapshots),
                                                   FIGURES / "over_time.png",
                                                   columns=16, scale=2)))
        """),
        md("""
        ## Latent interpolation

        Walking in a straight line from one z to another and decoding every point shows what
        the generator learned *between* its samples: a smooth morph (an item changing shape or
        shade) means a continuous latent space; sudden jumps point at a generator that
        memorised isolated images.
        """),
        code("""
        ends = jaxgan.sample_latent(jax.random.key(4), 12, state.config.latent_dim)
        z0, z1 = ends[:6, None, :], ends[6:, None, :]  # 6 pairs of end points
        t = jnp.linspace(0.0, 1.0, 10)[None, :, None]  # 10 points per line
        path = ((1.0 - t) * z0 + t * z1).reshape(-1, state.config.latent_dim)
        display(Image(filename=viz.save_image_grid(jaxgan.generate(state, path),
                                                   FIGURES / "interpolation.png",
                                                   columns=10, scale=2)))
        """),
    ]


# ----------------------------------------------------------------------------- 03


def mode_collapse_cells() -> list[Cell]:
    """Cells of ``03_mode_collapse.ipynb``: a vanilla GAN against PacGAN on ring8 and grid25.

    Returns:
        The notebook's cells in order.

    Example:
        >>> len(mode_collapse_cells()) > 5
        True

    """
    return [
        md("""
        # 3 · Mode collapse: a vanilla GAN against PacGAN on toy mixtures

        A generator can fool its discriminator while drawing only *some* kinds of samples:
        **mode collapse**. On real images it is hard to see; on 2-D Gaussian mixtures it can be
        counted. This notebook uses PacGAN's two benchmarks (Lin et al. 2018, Table 1):

        - **ring8**: 8 Gaussians with means on the unit circle, σ = 0.01;
        - **grid25**: 25 Gaussians with means on {−4, −2, 0, 2, 4}², σ = 0.05;

        and its exact setup: 100,000 training points, z 2-D N(0, I), G 4 × 400 ReLU +
        BatchNorm, D 3 × 200 maxout(5), Adam(1e-4, β1 0.8), batch 100. On 2,500 samples a
        sample is *high quality* if it lies within 3σ of a mode, a mode is *captured* if at
        least one high-quality sample falls nearest to it, and the *reverse KL* compares the
        high-quality samples' histogram over the modes with the uniform one (0 = balanced).

        The remedy jaxgan offers is PacGAN's **packing**: D judges m samples concatenated into
        one input. m real samples are m independent draws from all the modes; m samples from a
        collapsed G look alike, and a packed D can see that and punish it.

        **Scale.** PacGAN trains 400 epochs (400,000 iterations) and averages 10 trials. The
        full run of this notebook trains `STEPS` = 3,000 iterations (3 epochs) of `SEEDS` = 3
        seeds per setting, the budget of a 2-core CPU: its numbers show the *early* phase of
        the same experiment, not a reproduction of PacGAN's table (printed beside ours below).
        """),
        code(QUICK_CELL, """
        DATASETS = ("ring8", "grid25")
        PACKS = (1, 2)  # 1: the vanilla GAN; 2: PacGAN2 (D judges pairs)
        SEEDS = 2 if QUICK else 3  # runs per setting, trained together in one program
        STEPS = 20 if QUICK else 3_000  # iterations per run (PacGAN: 400,000)
        SEGMENTS = 2 if QUICK else 6  # samples and metrics after each segment
        BATCH_SIZE = 100
        NUM_SAMPLES = 2_500  # PacGAN's evaluation size
        EVAL_SEED = 0  # the same evaluation noise for every run
        """),
        code("""
        import tempfile
        import time
        from pathlib import Path

        import matplotlib.pyplot as plt
        from IPython.display import Markdown, display

        import jaxgan
        from jaxgan import data, ensembles, models
        from jaxgan.experiment import evaluators
        """, SETUP_LINES),
        md("""
        ## The data
        """),
        code("""
        PACGAN_TABLE_1 = {  # (modes, % high quality, reverse KL), Lin et al. 2018, Table 1
            ("ring8", 1): ("6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09"),
            ("ring8", 2): ("7.9 ± 0.1", "95.6 ± 2.0", "0.07 ± 0.03"),
            ("grid25", 1): ("17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07"),
            ("grid25", 2): ("23.8 ± 0.7", "91.3 ± 0.8", "0.13 ± 0.04"),
        }
        datasets = {name: data.load(name) for name in DATASETS}  # 100,000 points each
        modes = {"ring8": data.ring8_modes(), "grid25": data.grid25_modes()}
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
        for ax, name in zip(axes, DATASETS, strict=True):
            points = datasets[name].x[:NUM_SAMPLES]
            ax.scatter(points[:, 0], points[:, 1], s=2, c="0.4", linewidths=0)
            ax.scatter(*modes[name].T, marker="x", c="tab:red", s=20)
            ax.set(title=f"{name}: {len(modes[name])} modes", aspect="equal")
        plt.show()
        """),
        md("""
        ## The models and the remedy

        `models.ToyGenerator` and `models.ToyDiscriminator` default to PacGAN's sizes.
        Packing is a `StepConfig` setting: with `pack=m` the steps group m consecutive samples
        of every real and fake batch into one input (`jaxgan.augment.pack`) before D sees
        them, so D is built for `2·m` inputs (`ToyDiscriminator(in_dim=2 * m)`).

        One optimiser object serves every run, so runs of the same shape share compiled
        programs.
        """),
        code("""
        ADAM = jaxgan.default_optimizer(1e-4, b1=0.8)


        def build(init_key, pack=1):
            \"\"\"One run of PacGAN's toy setup; D judges `pack` samples at once.\"\"\"
            return jaxgan.create_state(
                lambda rngs: models.ToyGenerator(latent_dim=2, hidden=400, depth=4,
                                                 batch_norm=True, rngs=rngs),
                lambda rngs: models.ToyDiscriminator(in_dim=2 * pack, hidden=200, depth=3,
                                                     pieces=5, rngs=rngs),
                key=init_key, g_optimizer=ADAM, d_optimizer=ADAM, pack=pack,
            )
        """),
        md("""
        ## Training several seeds at once

        GAN results swing from seed to seed, so PacGAN reports mean ± standard error over 10
        trials. `jaxgan.ensembles` trains the seeds of a setting together: their states are
        stacked on a leading axis and trained under `vmap` in one compiled program
        (`create_ensemble`, `fit_ensemble`), each seed with its own initialisation, noise and
        data order. After each segment we keep seed 0's samples for the plots and evaluate
        every seed with PacGAN's metrics (`evaluators.mixture_evaluator`, which calls
        `jaxgan.metrics.mixture_metrics`).
        """),
        code("""
        runs = ensembles.plan_runs(SEEDS, {"pack": list(PACKS)})
        groups = ensembles.group_runs(runs)  # one group (one compiled program) per pack value
        samples, evaluations = {}, {}
        for name in DATASETS:
            evaluate = evaluators.mixture_evaluator(name)
            for group in groups:
                pack = group[0].hyperparams["pack"]
                start = time.perf_counter()
                stacked, keys = ensembles.create_ensemble(build, group)
                samples[name, pack], evaluations[name, pack] = [], []
                for _ in range(SEGMENTS):
                    stacked, _ = ensembles.fit_ensemble(
                        stacked, datasets[name].x, steps=STEPS // SEGMENTS, batch_size=BATCH_SIZE,
                        keys=keys, steps_per_call=min(100, STEPS // SEGMENTS))
                    samples[name, pack].append(
                        ensembles.sample_ensemble(stacked, EVAL_SEED, NUM_SAMPLES)[0])
                    evaluations[name, pack].append(evaluators.evaluate_ensemble(
                        stacked, evaluate, num_samples=NUM_SAMPLES, key=EVAL_SEED))
                mean = evaluations[name, pack][-1]["mean"]
                print(f"{name:<7} pack={pack}: {len(group)} seeds × {STEPS} steps in "
                      f"{time.perf_counter() - start:.0f} s; modes {mean['modes']:.1f}, "
                      f"high quality {100 * mean['high_quality']:.1f}%")
        """),
        md("""
        ## Samples over time

        Seed 0 of each setting after every segment (blue: 2,500 generated points, gray: real
        points, red: the modes).
        """),
        code("""
        steps = [STEPS // SEGMENTS * (i + 1) for i in range(SEGMENTS)]
        label = {1: "GAN", 2: "PacGAN2"}
        for name in DATASETS:
            real = datasets[name].x[:NUM_SAMPLES]
            fig, axes = plt.subplots(len(PACKS), SEGMENTS, squeeze=False, sharex=True,
                                     sharey=True, figsize=(1.7 * SEGMENTS, 1.8 * len(PACKS)))
            for row, pack in enumerate(PACKS):
                for col, points in enumerate(samples[name, pack]):
                    ax = axes[row, col]
                    ax.scatter(real[:, 0], real[:, 1], s=1, c="0.75", linewidths=0)
                    ax.scatter(points[:, 0], points[:, 1], s=1, c="tab:blue", linewidths=0)
                    ax.scatter(*modes[name].T, marker="x", c="tab:red", s=8, linewidths=0.8)
                    ax.set(xticks=[], yticks=[], aspect="equal")
                    if row == 0:
                        ax.set_title(f"step {steps[col]}", fontsize=9)
                axes[row, 0].set_ylabel(label[pack])
            lim = 1.6 if name == "ring8" else 6.0
            axes[0, 0].set(xlim=(-lim, lim), ylim=(-lim, lim))
            fig.suptitle(name)
            plt.show()
        """),
        md("""
        ## Modes captured and sample quality over training

        Mean ± standard error over the seeds, from 2,500 samples after each segment. The
        dashed lines are the number of modes and PacGAN's published % high quality of the
        vanilla GAN after 400 epochs.
        """),
        code("""
        fig, axes = plt.subplots(2, len(DATASETS), figsize=(9, 5.4), sharex=True, squeeze=False)
        for col, name in enumerate(DATASETS):
            for pack in PACKS:
                for row, metric, scale in ((0, "modes", 1), (1, "high_quality", 100)):
                    mean = [scale * e["mean"][metric] for e in evaluations[name, pack]]
                    se = [scale * e["se"][metric] for e in evaluations[name, pack]]
                    axes[row, col].errorbar(steps, mean, yerr=se, marker="o", capsize=3,
                                            label=label[pack])
            axes[0, col].axhline(len(modes[name]), color="gray", linestyle="--", linewidth=1)
            axes[1, col].axhline(float(PACGAN_TABLE_1[name, 1][1].split()[0]), color="gray",
                                 linestyle="--", linewidth=1)
            axes[0, col].set(title=name, ylabel="modes captured")
            axes[1, col].set(xlabel="step", ylabel="% high quality", ylim=(0, 100))
            axes[0, col].legend()
        plt.show()
        """),
        md("""
        ## The mode table, beside PacGAN's

        Ours: mean ± s.e. over `SEEDS` seeds after `STEPS` iterations, 2,500 samples each.
        PacGAN's Table 1: mean ± s.e. over 10 trials after 400 epochs (400,000 iterations).
        """),
        code("""
        lines = ["| data | model | source | modes | % high quality | reverse KL |",
                 "|---|---|---|---|---|---|"]
        for name in DATASETS:
            for pack in PACKS:
                final = evaluations[name, pack][-1]
                mean, se = final["mean"], final["se"]
                ours = (f"{mean['modes']:.1f} ± {se['modes']:.1f}",
                        f"{100 * mean['high_quality']:.1f} ± {100 * se['high_quality']:.1f}",
                        f"{mean['reverse_kl']:.2f} ± {se['reverse_kl']:.2f}")
                lines.append(f"| {name} | {label[pack]} | jaxgan, {SEEDS} seeds × {STEPS:,} steps"
                             f" | {' | '.join(ours)} |")
                lines.append(f"| {name} | {label[pack]} | PacGAN, 10 trials × 400 epochs"
                             f" | {' | '.join(PACGAN_TABLE_1[name, pack])} |")
        display(Markdown("\\n".join(lines)))
        """),
        md("""
        ## What the short runs show, and what they do not

        In the full run above (3 seeds × 3,000 iterations per setting):

        - **The vanilla GAN has not collapsed yet.** On ring8 it touches all 8 modes by step
          1,500, but most of its samples still lie on spokes through the centre, not on the
          modes (% high quality in the teens). On grid25 it spreads a star of lines across the
          grid and touches about 21 of 25 modes, again with few high-quality samples.
        - **Packing changes the shape of learning.** PacGAN2's samples sit on the ring itself
          from the first segments and it leads on % high quality on ring8; on grid25 it first
          traces the outline of the grid and, at this stage, touches fewer modes than the
          vanilla GAN.
        - **PacGAN's table describes the end of training**, after 400 epochs, when G has
          concentrated its samples on the modes (above 90% high quality) and the vanilla GAN,
          in doing so, has dropped modes (6.3 of 8, 17.3 of 25), while PacGAN2 keeps almost all
          of them. Our 3-epoch runs stop long before that phase, so their rows are not a
          reproduction of the table and their mode counts must not be read as "PacGAN does not
          help".

        To run PacGAN's full protocol: `jaxgan train --preset ring8` (400 epochs; `--set
        pack=2` for PacGAN2), or `jaxgan.experiment.ensemble.run_ensemble(build, data.load("ring8"),
        seeds=10, steps=400_000, batch_size=100, sweep={"pack": [1, 2]}, out_dir=...)` on a
        machine with an accelerator.
        """),
    ]


NOTEBOOKS = {
    "01_generator_walkthrough": walkthrough_cells,
    "02_dcgan": dcgan_cells,
    "03_mode_collapse": mode_collapse_cells,
}


# ----------------------------------------------------------------------------- build and run


def build_notebook(name: str) -> nbformat.NotebookNode:
    """Make the notebook ``name`` from its cells, without outputs.

    Args:
        name: a key of ``NOTEBOOKS``, e.g. ``"02_dcgan"``.

    Returns:
        An nbformat v4 notebook with the python3 kernelspec; the parameter cell is tagged
        ``parameters`` (papermill's convention).

    Example:
        >>> build_notebook("02_dcgan").metadata.kernelspec.name
        'python3'

    """
    if name not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {name!r}; known: {', '.join(NOTEBOOKS)}")
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = dict(KERNEL_SPEC)
    nb.metadata.language_info = {"name": "python"}
    for index, (kind, source) in enumerate(NOTEBOOKS[name]()):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if QUICK_ENV in source:
                cell.metadata.tags = ["parameters"]
        cell.id = f"{name[:2]}-{index:02d}"  # stable ids: rebuilding gives no spurious diff
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def kernel_manager() -> AsyncKernelManager:
    """Return a kernel manager for the ``python3`` kernel of *this* interpreter.

    The kernelspec search path is emptied, so jupyter_client falls back to ipykernel's
    built-in spec, which launches ``sys.executable``: the notebooks run in the same virtual
    environment as the caller, whatever kernelspecs the machine has installed elsewhere.

    Returns:
        An unstarted ``AsyncKernelManager``.

    Example:
        >>> kernel_manager().kernel_spec.argv[0] == sys.executable
        True

    """
    specs = KernelSpecManager(kernel_dirs=[])
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)


def execute_notebook(
    nb: nbformat.NotebookNode, *, quick: bool, timeout: int = 1800, cwd: Path = NOTEBOOK_DIR
) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` top to bottom in a fresh kernel, filling in the outputs.

    Args:
        nb: the notebook (changed in place and returned).
        quick: run in quick mode (``JAXGAN_NOTEBOOK_QUICK=1``) as CI does.
        timeout: seconds one cell may take.
        cwd: the kernel's working directory.

    Returns:
        The executed notebook.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised; the message holds its traceback.

    Example:
        >>> execute_notebook(build_notebook("03_mode_collapse"), quick=True)  # doctest: +SKIP

    """
    env = {**os.environ, QUICK_ENV: "1" if quick else "0"}
    client = NotebookClient(
        nb,
        km=kernel_manager(),
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    return client.execute(env=env)


def notebook_path(name: str) -> Path:
    """Return where notebook ``name`` is committed.

    Args:
        name: a key of ``NOTEBOOKS``.

    Returns:
        ``notebooks/<name>.ipynb`` in this repository.

    Example:
        >>> notebook_path("02_dcgan").name
        '02_dcgan.ipynb'

    """
    return NOTEBOOK_DIR / f"{name}.ipynb"


def reuse_outputs(nb: nbformat.NotebookNode, previous: nbformat.NotebookNode) -> None:
    """Copy the outputs of ``previous`` into ``nb`` when only markdown cells changed.

    For editing the prose of an executed notebook without re-running it (minutes on a CPU).

    Args:
        nb: the freshly built notebook (changed in place).
        previous: the executed notebook with the same code cells, in the same order.

    Raises:
        ValueError: a code cell differs, so the old outputs would not belong to it.

    Example:
        >>> reuse_outputs(build_notebook("02_dcgan"), nbformat.read(notebook_path("02_dcgan"), 4))
        ...                                               # doctest: +SKIP

    """
    new_code = [cell for cell in nb.cells if cell.cell_type == "code"]
    old_code = [cell for cell in previous.cells if cell.cell_type == "code"]
    if [c.source for c in new_code] != [c.source for c in old_code]:
        raise ValueError("code cells changed since the notebook was run; execute it again")
    for new, old in zip(new_code, old_code, strict=True):
        new.outputs, new.execution_count = old.outputs, old.execution_count


def _select(patterns: Sequence[str]) -> list[str]:
    if not patterns:
        return list(NOTEBOOKS)
    chosen = [n for n in NOTEBOOKS if any(n.startswith(p) for p in patterns)]
    if not chosen:
        raise SystemExit(f"no notebook matches {list(patterns)}; known: {', '.join(NOTEBOOKS)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Write (and by default run) the notebooks; print each one's run time and size.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status.

    Example:
        >>> main(["--no-execute", "03"])  # doctest: +SKIP
        0

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to build (names or prefixes)")
    parser.add_argument("--quick", action="store_true", help="run in CI's quick mode")
    parser.add_argument("--no-execute", action="store_true", help="write cells only")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="rewrite markdown only, keeping the committed outputs")
    args = parser.parse_args(argv)
    for name in _select(args.names):
        nb = build_notebook(name)
        if args.keep_outputs:
            reuse_outputs(nb, nbformat.read(notebook_path(name), as_version=4))
        elif not args.no_execute:
            start = time.perf_counter()
            execute_notebook(nb, quick=args.quick)
            print(f"{name}: ran in {time.perf_counter() - start:.0f} s "
                  f"({'quick' if args.quick else 'full'} mode)", flush=True)
        path = notebook_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        print(f"{name}: wrote {path} ({path.stat().st_size / 1e3:.0f} kB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
