"""Shared test set-up: one model cache for the whole session (built once by scripts/setup.sh).

``make test-fast`` sets ``HYBRIDIR_TEST_FAST=1``: besides the tests it deselects by marker
(slow, browser, slurm, training), any test that reaches a model training (``Trainer.train``:
fine-tuning and distillation alike) is skipped there, so an unmarked new training test cannot
make the edit-test loop slow. ``make test`` runs everything.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HYBRIDIR_MODEL_CACHE", str(Path.home() / ".cache" / "hybridir" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _no_training_in_fast_mode():
    """Under ``HYBRIDIR_TEST_FAST=1``, reaching ``Trainer.train`` skips the test (fixtures too)."""
    if os.environ.get("HYBRIDIR_TEST_FAST") != "1":
        yield
        return
    import transformers

    def skip(*args, **kwargs):
        pytest.skip("trains a model: make test runs it, make test-fast does not")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transformers.Trainer, "train", skip)
        yield
