# %% [markdown]
# # 5 · Data augmentation with a conditional GAN
#
# Can a generator make extra training data for another model? This notebook asks it the
# way `jaxgan augment-study` does, at one k: train a **class-conditional DCGAN** on only
# `K` labelled images per class, look at its samples class by class, measure its
# per-class quality, **export** a labelled synthetic dataset that `jaxgan.data.load` reads
# back, and then train a small classifier on the study's arms:
#
# - `real`: the `K` labelled images per class only;
# - `classic`: the same with shifts, rotations, zoom and horizontal flips;
# - `gan_r`: the same plus `r` times as many GAN samples (r = 1, 4, 10);
# - `gan_only`: the GAN's samples alone (the classification accuracy score, CAS);
# - `all_real`: every training image (the ceiling).
#
# Every arm trains for about the same number of batches and is scored on the real test
# split. The literature is mixed: Ravuri & Vinyals (2019) found that a classifier trained
# only on BigGAN-deep samples reaches 42.65 % top-1 on ImageNet against 73.09 % on real
# data, and mixing synthetic with real data helps mostly when real data is scarce. The
# data here is the bundled Fashion-MNIST sample (5,000 training and 1,000 test images),
# so everything runs offline; `docs/results.md` has the study on the full Fashion-MNIST
# and on MNIST.

# %% tags=["parameters"]
import os

# CI runs every notebook with JAXGAN_NOTEBOOK_QUICK=1: same cells, drastically less work.
QUICK = os.environ.get("JAXGAN_NOTEBOOK_QUICK") == "1"
print(f"QUICK = {QUICK}")

DATA = "fashion_mnist_sample"  # bundled: 500 train / 100 test images per class, offline
K = 100  # labelled real images per class (the GAN sees these and nothing else)
GAN_WIDTH = 4 if QUICK else 16  # the preset's own width is 32
GAN_STEPS = 4 if QUICK else 1500  # GAN iterations (the preset's own: 3,000)
SEEDS = 1 if QUICK else 3  # classifier seeds per arm
ALL_ARMS = ("real", "classic", "gan", "gan_only", "all_real")  # "gan": one arm per ratio
ARMS = ("real", "gan", "all_real") if QUICK else ALL_ARMS  # each arm compiles its classifier
RATIOS = (1,) if QUICK else (1, 4, 10)  # synthetic : real ratios of the gan_r arms
CLASSIFIER_STEPS = 2 if QUICK else 300  # batches per classifier (rounded up to whole epochs)
CLASSIFIER_WIDTHS = (4,) if QUICK else (16, 32)  # the study's small CNN
BATCH_SIZE = 64  # classifier batch size
QUALITY_PER_CLASS = 10 if QUICK else 500  # generated images per class for CAS and FD
TEST_LIMIT = 100 if QUICK else None  # None: the whole test split
EXPORT_PER_CLASS = K if QUICK else 10 * K  # synthetic images per class to export

# %%
import json
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, Markdown, display

from jaxgan import data, viz
from jaxgan.apps.augment_study import StudyConfig, run_study
from jaxgan.apps.class_quality import class_quality
from jaxgan.apps.export import export_run, export_samples
from jaxgan.experiment import load_preset
from jaxgan.experiment.sample import load_run
from jaxgan.experiment.train import train
from jaxgan.metrics.classifier import load_classifier

plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})  # small figures, small notebook
WORK = Path(tempfile.mkdtemp(prefix="jaxgan-notebook-"))  # runs, exports and PNGs go here
CLASSES = data.FASHION_MNIST_CLASSES

# %% [markdown]
# ## K labelled images per class
#
# `data.per_class_subset` keeps `K` images of every class, chosen by the fixed
# `data.SUBSET_SEED`: the GAN's training run (`per_class=K` in its config) and every arm of
# the study see exactly these images.

# %%
train_split = data.load(DATA)
test = data.load(DATA, split="test", limit=TEST_LIMIT)
real = data.per_class_subset(train_split, K)
print(f"{len(real)} labelled images, per class {np.bincount(real.y).tolist()}")
print(f"of {len(train_split)} training images; {len(test)} test images")

# %% [markdown]
# ## A conditional DCGAN trained on them
#
# The `cdcgan-fashion-mnist` preset: the 28×28 DCGAN with conditional BatchNorm in G, a
# projection discriminator, DiffAugment translation (small data) and an EMA of G's weights
# for sampling. `train` writes an ordinary run folder; we change only the data, the
# subset, the width and the length. Then ten samples of every class, one class per row.

# %%
chunk = min(GAN_STEPS, 100)  # iterations per compiled call
gan_config = load_preset("cdcgan-fashion-mnist").replace(
    data=DATA, per_class=K, width=GAN_WIDTH, steps=GAN_STEPS, steps_per_call=chunk,
    log_every=chunk, sample_every=GAN_STEPS, checkpoint_every=GAN_STEPS,
)  # fmt: skip
run_dir = WORK / f"gan-k{K}"
start = time.perf_counter()
summary = train(gan_config, run_dir, progress=False)
print(f"trained {summary.step} iterations in {time.perf_counter() - start:.0f} s")
_, state, _ = load_run(run_dir)
x, y = export_samples(state, 10 * len(CLASSES), seed=1, per_class=True)
by_class = np.argsort(y, kind="stable")  # sample i has class i mod 10: sort into rows
print("rows:", ", ".join(CLASSES))
display(
    Image(
        filename=viz.save_image_grid(
            x[by_class], WORK / "per_class.png", columns=10, scale=2
        )
    )
)

# %% [markdown]
# ## Per-class quality
#
# Two numbers per class, in the feature space of jaxgan's pretrained Fashion-MNIST
# classifier: **CAS-on-self**, how often the classifier recognises a sample as the class it
# was generated for, and the **intra-class Fréchet distance** between the samples of a
# class and the real test images of that class. Real training images measured the same
# way give the floor.

# %%
classifier = load_classifier("fashion_mnist")
qx, qy = export_samples(state, QUALITY_PER_CLASS * len(CLASSES), seed=10_000, per_class=True)
quality = class_quality(qx, qy, test.x, test.y, classifier)
floor_images = data.per_class_subset(train_split, QUALITY_PER_CLASS)
floor = class_quality(floor_images.x, floor_images.y, test.x, test.y, classifier)
print(f"feature space: {quality['feature_space']}")
print(f"GAN:  CAS-on-self {quality['accuracy']:.1%}, mean intra-class FD "
      f"{quality['mean_intra_fd']:.2f}")  # fmt: skip
print(f"real: CAS-on-self {floor['accuracy']:.1%}, mean intra-class FD "
      f"{floor['mean_intra_fd']:.2f}  (the floor)")  # fmt: skip
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for ax, key, title in [(axes[0], "accuracy", "CAS-on-self"), (axes[1], "fd", "intra-class FD")]:
    ax.bar(np.arange(10) - 0.2, [c[key] for c in quality["per_class"]], 0.4, label="GAN")
    ax.bar(np.arange(10) + 0.2, [c[key] for c in floor["per_class"]], 0.4, label="real")
    ax.set_xticks(range(10), CLASSES, rotation=45, ha="right")
    ax.set_title(title)
axes[0].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Export: a labelled synthetic dataset
#
# `export_run` (`jaxgan export` on the command line) draws class-balanced samples and writes
# them under a temporary name, renamed into place at the end, with the run, its step, the
# seed, the truncation and a sha256 of the arrays beside them. `jaxgan.data.load` reads the
# result like any other dataset; sample `i` was generated for class `i mod 10`.
# (`jaxgan.apps.synthetic.synthetic_stream` gives the same draws as device batches, without
# files.)

# %%
n = EXPORT_PER_CLASS * len(CLASSES)
meta = export_run(run_dir, WORK / "synthetic.npz", n=n, per_class=True, fmt="npz")
synthetic = data.load(meta["load_as"])
print(f"{len(synthetic)} images, per class {np.bincount(synthetic.y).tolist()}")
print(f"labels as conditioned: {np.array_equal(synthetic.y, np.arange(n) % len(CLASSES))}")
print(json.dumps({k: meta[k] for k in ("step", "seed", "truncation", "sha256")}, indent=1))

# %% [markdown]
# ## The study's arms at k = K
#
# `run_study` trains the study's small CNN (the code path of jaxgan's own evaluation
# classifiers) once per arm and seed. It reuses the GAN trained above (`gan_runs`) and
# draws each seed's synthetic images from it; `results.json` records every run with the
# exact count of real and synthetic images it was trained on.

# %%
study = StudyConfig(
    data=DATA, ks=(K,), seeds=SEEDS, arms=ARMS, ratios=RATIOS, classifier_steps=CLASSIFIER_STEPS,
    batch_size=BATCH_SIZE, widths=CLASSIFIER_WIDTHS, gan_runs={K: str(run_dir)},
    test_limit=TEST_LIMIT, quality_per_class=QUALITY_PER_CLASS,
)  # fmt: skip
start = time.perf_counter()
results = run_study(study, WORK / "study", log=None)
print(f"{len(results['runs'])} classifiers in {time.perf_counter() - start:.0f} s")
for row in results["runs"][: len(results["runs"]) // SEEDS]:
    counts = row["counts"]
    print(f"{row['arm']:>9}: {counts['real']:>5} real + {counts['synthetic']:>5} synthetic, "
          f"{row['steps']} steps")  # fmt: skip
display(Markdown((WORK / "study" / "results.md").read_text()))

# %% [markdown]
# Test accuracy per arm (mean ± standard error over the seeds; the dashed line is the
# ceiling, every training image):

# %%
table = [row for row in results["table"] if row["arm"] != "all_real"]
ceiling = next(row for row in results["table"] if row["arm"] == "all_real")
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.bar([row["arm"] for row in table], [100 * row["mean"] for row in table],
       yerr=[100 * (row["se"] or 0) for row in table], capsize=4)  # fmt: skip
ax.axhline(100 * ceiling["mean"], color="k", linestyle="--", label="all_real")
ax.set_ylabel("test accuracy (%)")
ax.set_title(f"k = {K} labelled images per class, {SEEDS} seed(s)")
ax.legend()
fig.tight_layout()
plt.show()
real_mean = next(row["mean"] for row in table if row["arm"] == "real")
for row in table[1:]:
    change = 100 * (row["mean"] - real_mean)
    verdict = "helps" if change > 1 else "hurts" if change < -1 else "is neutral (±1 point)"
    print(f"{row['arm']:>9} {verdict}: {change:+.1f} points against real")

# %% [markdown]
# ## What this shows, and what it does not
#
# The verdict lines above are this run's only; with a GAN trained for minutes on a CPU
# its samples are far from the real images (compare the CAS-on-self and FD with the real
# floor), and a classifier fed many of them learns their flaws. `docs/results.md` gives
# the 3-seed study on the full Fashion-MNIST at k = 10 and 100 and on MNIST, with the same
# verdict and the distance from a converged GAN. With a GPU: raise `GAN_STEPS` to the
# tens of thousands, keep the preset's width 32, and run
# `jaxgan augment-study --data idx:<folder> --k 10,50,100,500 --seeds 3`.
