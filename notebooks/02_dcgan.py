# %% [markdown]
# # 2 · DCGAN: watching a convolutional GAN learn
#
# DCGAN (Radford et al. 2016) replaces the fully connected layers of notebook 1 with
# (transposed) convolutions, BatchNorm in the generator and LeakyReLU in the
# discriminator. This notebook trains it on the bundled Fashion-MNIST sample and watches
# the run: loss curves, samples from **fixed noise** over time, and a **metric over
# training** (the Fréchet distance in the Fashion-MNIST classifier's feature space every
# `SEGMENT_STEPS` iterations). It ends with a walk through the latent space.
#
# On a CPU a DCGAN is slow (convolutions dominate), so the full run here is short and
# uses `WIDTH` = 32 channels instead of the tutorial's 64; with a GPU, raise
# `WIDTH`, `SEGMENTS` and the data (`DATA = "fashion_mnist"` through
# tensorflow-datasets, or `"idx:<folder>"` with the full IDX files).

# %% tags=["parameters"]
import os

# CI runs every notebook with JAXGAN_NOTEBOOK_QUICK=1: same cells, drastically shorter training.
QUICK = os.environ.get("JAXGAN_NOTEBOOK_QUICK") == "1"
print(f"QUICK = {QUICK}")

DATA = "fashion_mnist_sample"  # bundled: 5,000 train / 1,000 test images, offline
CLASSIFIER = "fashion_mnist"  # the feature space of the metric over training
WIDTH = 8 if QUICK else 32  # channels of the last hidden layer (64 in the tutorial)
SEGMENTS = 2 if QUICK else 8  # training segments; samples + FD after each
SEGMENT_STEPS = 3 if QUICK else 400  # iterations per segment
NUM_EVAL = 200 if QUICK else 1_000  # generated images per FD
BATCH_SIZE = 64
# a Python loop of fused steps: XLA:CPU runs convolutions inside lax.scan far slower
LOOP = "python"

# %%
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

plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})  # small figures, small notebook
FIGURES = Path(tempfile.mkdtemp(prefix="jaxgan-notebook-"))  # jaxgan.viz writes PNGs here

# %% [markdown]
# ## Data and models
#
# The 28×28 DCGAN pair is the TensorFlow DCGAN tutorial's architecture: G projects z to
# 7×7×(4·WIDTH), then a 5×5 stride-1 and two stride-2 transposed convolutions (with
# BatchNorm and LeakyReLU) reach 28×28×1 with tanh; D has two 5×5 stride-2 convolutions
# with LeakyReLU(0.2) and dropout 0.3, then one logit. On CPU jaxgan runs each stride-2
# transposed convolution as an equivalent sub-pixel convolution (`upsample="auto"`):
# the same function and parameters, much faster gradients on XLA:CPU.
#
# `create_state` accepts *factories* (`rngs -> module`) and builds them from one key.

# %%
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

# %% [markdown]
# ## Training in segments resumes exactly
#
# We will call `jaxgan.fit` once per segment, looking at the generator in between. That
# changes nothing about the run: batches and noise are functions of the run's key and
# the state's counters, so `fit` for 2n steps and `fit` for n steps called twice end in
# the same bits. A check on copies of the initial state (`fit` donates the state it is
# given, so we pass copies):

# %%
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

# %% [markdown]
# ## Training, watched
#
# After each segment: 16 samples from the same fixed noise (so the rows below show the
# *same* 16 latent points over time), and the Fréchet distance (FD) between `NUM_EVAL`
# generated images and the training images in the classifier's 128-d feature space.
# FD is biased in the sample count, so its floor, 1,000 real test images against the
# same training images, is computed at the same N.

# %%
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

# %% [markdown]
# ## Training curves

# %%
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

# %% [markdown]
# In the full run above FD falls steadily for the whole run (note the log scale), from
# about 70 after 400 iterations to about 9 after 3,200, which is still some 40 times its
# real-vs-real floor: the run is far from converged, which is what a CPU budget buys.
# The loss curves are no progress measure (the game keeps both losses roughly level
# while FD falls almost tenfold); a feature-space metric like this one is.
#
# ## Samples over time, from fixed noise
#
# Each row is one segment's end (steps printed above); each column one fixed z. In the
# first row every z gives nearly the same gray shape; a few segments later the columns
# have become different items (pullovers, trousers, sneakers, bags) and later rows
# sharpen them, each column mostly keeping its item: G changes smoothly as its
# parameters move. After 3,200 iterations the images are still blurry and textured.

# %%
print("rows: after steps", ", ".join(map(str, steps)))
display(Image(filename=viz.save_image_grid(np.concatenate(snapshots),
                                           FIGURES / "over_time.png",
                                           columns=16, scale=2)))

# %% [markdown]
# ## Latent interpolation
#
# Walking in a straight line from one z to another and decoding every point shows what
# the generator learned *between* its samples: a smooth morph (an item changing shape or
# shade) means a continuous latent space; sudden jumps point at a generator that
# memorised isolated images.

# %%
ends = jaxgan.sample_latent(jax.random.key(4), 12, state.config.latent_dim)
z0, z1 = ends[:6, None, :], ends[6:, None, :]  # 6 pairs of end points
t = jnp.linspace(0.0, 1.0, 10)[None, :, None]  # 10 points per line
path = ((1.0 - t) * z0 + t * z1).reshape(-1, state.config.latent_dim)
display(Image(filename=viz.save_image_grid(jaxgan.generate(state, path),
                                           FIGURES / "interpolation.png",
                                           columns=10, scale=2)))
