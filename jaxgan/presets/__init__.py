"""Training presets: one file per preset, each defining ``CONFIG = TrainConfig(...)``.

Run one with ``jaxgan train --preset <name>`` (file ``seed_mlp.py`` is preset ``seed-mlp``);
``jaxgan.experiment.preset_names()`` lists them and ``jaxgan.experiment.load_preset``
loads them.
A preset's docstring starts with the command that runs it.
"""
