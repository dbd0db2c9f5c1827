"""Train & evaluate: choose a model scale and a sampling mix, launch a background job, watch it."""

import time

import streamlit as st

import ui
from hybridir_core import devices
from hybridir_core.cli import job_argv
from hybridir_core.config import DATASETS, EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.jobs import launchers
from hybridir_core.jobs import queue as jobs
from hybridir_core.models.registry import default_learning_rate, is_built, list_models, resolve_cache_dir


@st.cache_data(show_spinner=False, ttl=10)
def model_choices() -> tuple[dict[str, str], dict[str, bool]]:
    """Registry names (the offline depth ladder first, by depth) -> a label with layers,
    non-embedding parameters and build state; and which offline models are built."""
    specs = sorted(list_models(), key=lambda s: (s.source != "offline", s.layers, s.name))
    built = {s.name: is_built(resolve_cache_dir() / s.name, s.name) for s in specs if s.source == "offline"}
    labels = {}
    for s in specs:
        non_emb = f" · {s.non_embedding_params / 1e6:.1f}M non-embedding" if s.non_embedding_params else ""
        state = "" if s.source != "offline" else (" · built" if built[s.name] else " · not built yet")
        labels[s.name] = f"{s.name} · {s.layers} layers{non_emb}{state} · {s.source}"
    return labels, built


def precision_choice(column) -> str:
    """fp32, or bf16 where the device trains it natively and the user asks for it. Offered, not the
    default: bf16 runs are a protocol of their own, so a CPU-dependent default would split seeds."""
    try:
        devices.precision_flags("bf16")
    except ValueError:
        return "fp32"
    bf16 = column.checkbox("Train in bf16 (this machine has native bf16)", value=False,
                           help="Measured at 1.6-1.8x the fp32 pairs/s, validation loss within 0.1% after 300 "
                                "steps, on a 2-core AMD EPYC with AVX512-BF16 (bench part 6, README); other "
                                "CPUs may differ. bf16 runs never pool with fp32 runs, the shipped study's included.")
    return "bf16" if bf16 else "fp32"


@st.fragment(run_every=2)
def job_list(runs_root) -> None:
    listed = jobs.list_jobs(runs_root)
    on_slurm = launchers.slurm_runs(runs_root)
    if not listed and not on_slurm:
        st.caption("No jobs yet.")
        return
    queued = [j for j in listed if j.state == "queued"]
    for job in listed[:15]:
        ui.job_card(job, runs_root, queued.index(job) + 1 if job in queued else None)
    if on_slurm:
        st.caption("On Slurm (`sweep --launcher slurm`): the scheduler's state beside each run's own")
        for run in on_slurm[:15]:
            ui.slurm_card(run)


CORPORA = {"xquad": "XQuAD-R QA triplets", "xnli": "XNLI entailment pairs"}


def build_job(model: str, dataset: str, limit: int | None, train: dict | None) -> JobConfig:
    """The job the form describes; a ValueError names the first invalid field.

    ``train`` holds ``corpus``, ``sampling``, ``alpha``, ``mix``, ``steps``, ``batch_size``,
    ``seed`` and optionally ``precision`` (None for a zero-shot evaluation). Mono is α = 1 and cross α = 0 whatever the
    slider says.
    """
    evaluation = EvalConfig(model=model, datasets=DATASETS if dataset == "all" else (dataset,),
                            limit_per_lang=limit)
    if train is None:
        return JobConfig("evaluate", evaluation)
    sampling = SamplingConfig(train["sampling"], train["alpha"], train["mix"])
    config = TrainConfig(model=model, corpus=train["corpus"], sampling=sampling, steps=train["steps"],
                         batch_size=train["batch_size"], seed=train["seed"],
                         learning_rate=default_learning_rate(model), precision=train.get("precision", "fp32"))
    return JobConfig("train", evaluation, config)


def training_form(left, right, corpus: str) -> dict:
    """The training half of the form: sampling, α, mix, steps, batch size, seed, precision."""
    sampling = left.radio("Batch sampling", ["mono", "cross", "hybrid"], index=2, horizontal=True,
                          help="mono: X-X batches; cross: X-Y batches; hybrid: monolingual with probability α")
    alpha = left.slider("α (probability of a monolingual batch)", 0.0, 1.0, 0.5, 0.05,
                        disabled=sampling != "hybrid")
    mix = left.radio("Mix", ["per-batch", "per-pair"], horizontal=True, disabled=sampling != "hybrid",
                     help="per-batch: the paper; per-pair: each pair drawn monolingual with probability α")
    return {"corpus": corpus, "sampling": sampling, "alpha": alpha, "mix": mix,
            "steps": int(right.number_input("Steps", 1, 100_000, 200, step=50)),
            "batch_size": int(right.number_input("Batch size", 2, 1024, 32, step=8)),
            "seed": int(right.number_input("Seed", 0, 2**31 - 1, 0)), "precision": precision_choice(right)}


def main() -> None:
    st.title("Train & evaluate")
    runs_root, _ = ui.roots()
    models, built = model_choices()
    left, right = st.columns(2)
    default = list(models).index("me5-small") if "me5-small" in models else 0
    model = left.selectbox("Model scale", list(models), format_func=models.get, index=default, key="model")
    if built.get(model) is False:
        left.info(f"{model} is built on first use (the job does it, with progress); to build it now: "
                  f"`python -m hybridir_core models --build {model}`")
    mode = right.radio("What to run", ["Train, then evaluate", "Zero-shot evaluation only"], horizontal=True)
    train = mode.startswith("Train")
    corpus = "xnli"
    if train:
        corpus = left.radio("Training data", list(CORPORA), format_func=CORPORA.get, horizontal=True,
                            help="XQuAD-R QA triplets are the study's protocol; they are evaluated on "
                                 "MLQA-R only (evaluating on the training data is refused)")
    choices = ["mlqa-r"] if corpus == "xquad" else ["xquad-r", "mlqa-r", "all"]
    dataset = left.selectbox("Evaluate on", choices)
    quick = right.checkbox("Quick mode (fewer questions per language; candidates stay whole)", value=True)
    limit = right.number_input("Questions per language", 5, 5000, 50, step=5, disabled=not quick)
    limit = int(limit) if quick else None
    try:
        job = build_job(model, dataset, limit, training_form(left, right, corpus) if train else None)
    except ValueError as exc:
        st.error(f"These settings cannot run: {exc}")
        return
    if job.train is not None and job.train.learning_rate != TrainConfig.learning_rate:
        right.caption(f"{model} trains at learning rate {job.train.learning_rate:g}, its own "
                      f"(the study's {TrainConfig.learning_rate:g} leaves it almost untrained; README)")
    if job.train is not None:
        suggested = f"{model}-{job.train.sampling.label}-s{job.train.seed}"
    else:
        suggested = f"zs-{model}-{dataset}"
    suggested += ("-quick" if quick else "") + time.strftime("-%m%d-%H%M")
    name = st.text_input("Run name", placeholder=suggested, help="Letters, digits, '.', '_' or '-'; "
                         "leave empty to use the suggestion.").strip() or suggested
    st.caption("The same run from a terminal:")
    st.code("python -m hybridir_core " + " ".join(job_argv(job, runs_root / name)), language="bash",
            wrap_lines=True)
    if st.button("Launch", type="primary"):
        try:
            jobs.submit(job, name, runs_root)
        except jobs.JobError as exc:
            st.error(str(exc))
        else:
            st.success(f"Queued {name}. It runs in the background; this page shows its progress.")
    st.subheader("Jobs")
    job_list(runs_root)


st.sidebar.caption("One job runs at a time; the others wait in the queue. Jobs keep running "
                   "when you close this tab.")
ui.sidebar_footer()
main()
