# %% [markdown]
# # 1 · The seed's GAN, one step at a time
#
# A generative adversarial network is two networks playing a game. The **generator G**
# turns random noise z into an image; the **discriminator D** looks at an image and says
# how likely it is to be real. D is trained to tell real images from G's; G is trained to
# make D say "real". When the game goes well, G ends up drawing images that look like the
# training data.
#
# This notebook redoes the founding document's lesson with jaxgan: build its fully
# connected generator and a discriminator, write out one alternating D/G training step
# with jaxgan's pure functions, train with `jaxgan.fit`, and judge the generator on the
# seed's three criteria: **quality**, **diversity** and **similarity to real images**.
#
# It uses the Fashion-MNIST sample bundled with jaxgan (5,000 training and 1,000 test
# images), so it runs offline. The outputs below come from the full run (about
# `TRAIN_STEPS` = 10,000 iterations); CI runs the same cells in quick mode.

# %% tags=["parameters"]
import os

# CI runs every notebook with JAXGAN_NOTEBOOK_QUICK=1: same cells, drastically shorter training.
QUICK = os.environ.get("JAXGAN_NOTEBOOK_QUICK") == "1"
print(f"QUICK = {QUICK}")

TRAIN_STEPS = 200 if QUICK else 10_000  # one step = one D update + one G update
NUM_EVAL = 200 if QUICK else 1_000  # generated images judged (the test split has 1,000)
BATCH_SIZE = 64
SEED = 0

# %%
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

plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})  # small figures, small notebook
FIGURES = Path(tempfile.mkdtemp(prefix="jaxgan-notebook-"))  # jaxgan.viz writes PNGs here

# %% [markdown]
# ## The data
#
# `jaxgan.data.load` returns a `Dataset` of uint8 images (N, 28, 28, 1) with labels.
# Models see floats in [-1, 1]: `data.to_model_input` converts (as `jaxgan.fit` does
# internally).

# %%
train = data.load("fashion_mnist_sample")
test = data.load("fashion_mnist_sample", split="test")
print("train", train.x.shape, train.x.dtype, "| test", test.x.shape)
print("classes:", ", ".join(data.FASHION_MNIST_CLASSES))
display(Image(filename=viz.save_image_grid(train.x[:32], FIGURES / "real.png",
                                           columns=16, scale=2)))

# %% [markdown]
# ## G and D
#
# The seed's generator: z (100 numbers drawn from N(0, I)) → Dense 128 + ReLU →
# Dropout 0.3 → Dense 784 + tanh → a 28×28 image in [-1, 1]. Its discriminator here is
# the matching fully connected network: flatten 784 → Dense 128 + LeakyReLU(0.2) →
# Dense 1. D returns a **logit**; the probability "real" is `sigmoid(logit)`.
# Both are ordinary Flax NNX modules.

# %%
G = models.MLPGenerator(latent_dim=100, hidden=128, dropout=0.3, rngs=nnx.Rngs(0))
D = models.MLPDiscriminator(image_shape=(28, 28, 1), hidden=128, rngs=nnx.Rngs(1))
for name, module in (("G", G), ("D", D)):
    params = nnx.state(module, nnx.Param)
    shapes = {"/".join(map(str, path)): tuple(p.shape) for path, p in params.flat_state()}
    print(name, f"{sum(p.size for p in jax.tree.leaves(params)):,} parameters", shapes)

# %% [markdown]
# Untrained, G draws noise and D has no opinion yet (probabilities near 0.5):

# %%
G.eval()  # evaluation mode: no dropout
z = jaxgan.sample_latent(jax.random.key(1), 16, 100)
untrained = G(z)
print("G(z):", untrained.shape, f"values in [{untrained.min():.2f}, {untrained.max():.2f}]")
print("D(G(z)) =", " ".join(f"{p:.2f}" for p in jax.nn.sigmoid(D(untrained))))
display(Image(filename=viz.save_image_grid(untrained, FIGURES / "untrained.png",
                                           columns=16, scale=2)))

# %% [markdown]
# ## The training state
#
# `jaxgan.create_state` packs both players into one immutable `GANState`: for each
# player its parameters, its other variables (BatchNorm statistics; none here) and its
# optimiser state (Adam, lr 2e-4, β1 0.5: DCGAN's settings, the default), plus two update
# counters. The loss (non-saturating, the default) and the other settings are a static
# `StepConfig`.

# %%
state = jaxgan.create_state(G, D)
print("step", int(state.step), "| d_updates", int(state.d_updates),
      "| g_updates", int(state.g_updates))
print(state.config)

# %% [markdown]
# ## One alternating step, written out
#
# One training iteration is two updates:
#
# 1. **D step** (`jaxgan.d_update`): draw z, make a fake batch G(z), and move D's
#    parameters down the gradient of `−log D(x) − log(1 − D(G(z)))` on a real batch x:
#    D learns to say 1 on real and 0 on fake images.
# 2. **G step** (`jaxgan.g_update`): draw new z and move G's parameters down the gradient
#    of `−log D(G(z))` (the *non-saturating* loss): G learns to make D say 1.
#
# Both are **pure functions** `(state, batch, key) -> (new_state, metrics)`: nothing is
# changed in place, the old state stays valid, and the randomness of each update is
# `fold_in(fold_in(key, player), counter)`, so the same base key passed every time gives
# a reproducible run. We compile them with `jax.jit`. (`jaxgan.d_step` and
# `jaxgan.g_step` are the same functions compiled with the input state *donated*: faster,
# but the state passed in may not be used again. We keep it here to compare.)

# %%
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

# %% [markdown]
# Read the rows: the D step bumped `d_updates` and moved D's parameters (its output bias
# left 0) but left G untouched; the G step bumped `g_updates` and moved G's parameters
# only. The state we passed in is unchanged. `d_real` and `d_fake` are D's mean
# probability "real" on the real and the fake batch; `d_fake_g` is the same for the fresh
# fakes of the G step.
#
# Pure also means repeatable: the same state, batch and key give the same bits.

# %%
again, _ = d_update(state, real, key)
same = all(np.array_equal(a, b) for a, b in
           zip(jax.tree.leaves(after_d), jax.tree.leaves(again), strict=True))
print("same inputs, same new state:", same)

# %% [markdown]
# ## Training
#
# Training is that pair of updates repeated on shuffled batches. `jaxgan.fit` puts the
# data on the device once, draws each batch by index there, and runs many iterations per
# compiled call (a `lax.scan` for a small model like this one), which is why it is much
# faster than a Python loop of the steps above. It continues from the state's counters:
# here from step 1, the iteration we did by hand. `history` holds every iteration's
# metrics. (`jaxgan train --preset seed-mlp` runs the same training from the command
# line.)

# %%
start = time.perf_counter()
state, history = jaxgan.fit(after_g, train.x, steps=TRAIN_STEPS, batch_size=BATCH_SIZE,
                            key=key)
seconds = time.perf_counter() - start
print(f"trained to step {int(state.step)} in {seconds:.1f} s "
      f"({TRAIN_STEPS / seconds:.0f} it/s with compilation) on {jax.default_backend()}")
rows = [{k: v[i] for k, v in history.items()} for i in range(len(history["step"]))]
display(Image(filename=viz.save_loss_curves(rows, FIGURES / "loss.png",
                                            title="seed MLP GAN, per iteration")))

# %% [markdown]
# Unlike a classifier's loss, neither curve is meant to go to zero: the two losses
# measure a game. A healthy run keeps D's output on real images (`D(x)`) and on fakes
# (`D(G(z))`) apart but bounded away from 1 and 0; if `D(G(z))` sinks to 0 for good, D
# has won and G stops learning.
#
# ## Samples
#
# `jaxgan.generate` applies G in evaluation mode (dropout off). Each image below comes
# from its own z.

# %%
fake = jaxgan.generate(state, jaxgan.sample_latent(jax.random.key(123), NUM_EVAL, 100))
display(Image(filename=viz.save_image_grid(fake[:64], FIGURES / "samples.png",
                                           columns=16, scale=2)))

# %% [markdown]
# ## Quality, diversity, similarity
#
# Judging images needs a feature space. jaxgan ships a small CNN trained on
# Fashion-MNIST (`metrics.load_classifier`, checksummed weights); its 128-d penultimate
# features and its class predictions are the space of every number below, and the name
# of that space travels with the numbers. (Standard FID lives in the InceptionV3 space and
# is not comparable with these.)
#
# `metrics.evaluate_images` scores `NUM_EVAL` generated images against the 5,000 training
# images, and, as the **floor**, 1,000 *real* test images against the same training
# images at the same sample count: the score a perfect generator would get.

# %%
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

# %% [markdown]
# What each number says (in the classifier's feature space; "ball" = the distance from a
# point to its k-th nearest neighbour in its own set):
#
# **Quality: do single images look like real ones?**
# - `precision` (k = 3): share of generated images inside the real data's balls, i.e.
#   that look like *some* real image. The floor is below 1: real test images miss too.
# - `density` (k = 5): how many real balls contain a generated image, on average,
#   divided by k: ≈ 1 for real data; far above 1 means samples crowd where the real data
#   is densest.
# - `classifier_score`: the Inception-style score exp E[KL(p(y|x) ‖ p(y))] with the
#   Fashion-MNIST classifier; high when each image is confidently one class and all 10
#   classes occur (at most 10). `mean_confidence`: average top class probability.
#
# **Diversity: does G cover the whole data set?**
# - `recall` (k = 3): share of real images inside the generated images' balls: the part
#   of the data G can draw.
# - `coverage` (k = 5): share of real images whose ball holds at least one generated
#   image; ≈ 1 − 2⁻⁵ ≈ 0.97 for two *equally large* samples of one distribution, lower
#   here (see the floor) because 1,000 images are set against 5,000.
# - `class_histogram_kl`: KL(classes of generated ‖ classes of real), 0 when every class
#   appears as often as in the data; `classes_covered`: classes predicted at least once.
#   A collapsed generator scores a high KL and few classes.
#
# **Similarity: how far is the whole generated distribution from the real one?**
# - `fd`: Fréchet distance between Gaussians fitted to the two feature sets (0 for
#   identical ones). It is biased in the sample count: compare FDs only at equal N_gen
#   and N_ref, as the floor is.
# - `kid`: the unbiased kernel distance (MMD² with a cubic polynomial kernel, mean over
#   subsets); ≈ 0 for real data, negative values are noise around 0.
#
# Judge each value by its distance to its floor, not to 0 or 1. In the full run above the
# seed's small fully connected GAN does best on quality (precision close to its floor:
# most single samples land among real items) and worst on diversity (recall and coverage
# far below their floors: it draws a narrow, blurry part of the data), and its FD is two
# orders of magnitude above the floor. `02_dcgan.ipynb` trains a convolutional GAN and
# tracks the same FD, in the same space and at the same N, while it trains: it gets well
# below this one within a few thousand iterations.
#
# The report also lists, for a few generated images, their nearest *training* images in
# the feature space: a memorisation check. Below, each group of four is one generated
# image followed by its three nearest training images; a GAN that copied its data would
# show near-identical neighbours. (`metrics.save_report_panel` draws samples, neighbours
# and the table as one PNG for a run folder.)

# %%
examples = report["examples"]
groups = [np.concatenate([metrics.to_uint8(fake[i : i + 1]), train.x[nearest]])
          for i, nearest in zip(examples["fake_indices"], examples["nearest_real_indices"],
                                strict=True)]
display(Image(filename=viz.save_image_grid(np.concatenate(groups),
                                           FIGURES / "neighbours.png",
                                           columns=8, scale=2)))
