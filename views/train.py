"""Train & evaluate: choose a model scale and a sampling mix, launch a background job, watch it."""

import shlex
import time

import streamlit as st

import ui
from hybridir_core import devices, paths
from hybridir_core.cli import job_argv
from hybridir_core.config import DATASETS, STUDY_TRAIN, EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.jobs import estimate, launchers
from hybridir_core.jobs import queue as jobs
from hybridir_core.models.registry import default_learning_rate, is_built, list_models, resolve_cache_dir


@st.cache_data(show_spinner=False, ttl=10)
def model_choices() -> tuple[dict[str, str], dict[str, bool], dict[str, int]]:
    """Registry names (the offline depth ladder first, by depth) -> a label with layers,
    non-embedding parameters and build state; which offline models are built; each model's layers."""
    specs = sorted(list_models(), key=lambda s: (s.source != "offline", s.layers, s.name))
    built = {s.name: is_built(resolve_cache_dir() / s.name, s.name) for s in specs if s.source == "offline"}
    labels = {}
    for s in specs:
        non_emb = f" · {s.non_embedding_params / 1e6:.1f}M non-embedding" if s.non_embedding_params else ""
        state = "" if s.source != "offline" else (" · built" if built[s.name] else " · not built yet")
        labels[s.name] = f"{s.name} · {s.layers} layers{non_emb}{state} · {s.source}"
    return labels, built, {s.name: s.layers for s in specs}


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


def build_job(model: str, dataset: str, limit: int | None, train: dict | None,
              prompts: tuple[str | None, str | None] = (None, None)) -> JobConfig:
    """The job the form describes; a ValueError names the first invalid field.

    ``train`` holds ``corpus``, ``sampling``, ``alpha``, ``mix``, ``steps``, ``batch_size``,
    ``seed`` and optionally ``precision`` (None for a zero-shot evaluation). Mono is α = 1 and cross α = 0 whatever the
    slider says. ``dataset`` may be a folder; ``prompts`` (query, passage) replace the model's (None: its own).
    """
    evaluation = EvalConfig(model=model, datasets=DATASETS if dataset == "all" else (dataset,),
                            limit_per_lang=limit, query_prompt=prompts[0], passage_prompt=prompts[1])
    if train is None:
        return JobConfig("evaluate", evaluation)
    sampling = SamplingConfig(train["sampling"], train["alpha"], train["mix"])
    config = TrainConfig(model=model, corpus=train["corpus"], sampling=sampling, steps=train["steps"],
                         batch_size=train["batch_size"], seed=train["seed"],
                         learning_rate=default_learning_rate(model), precision=train.get("precision", "fp32"))
    return JobConfig("train", evaluation, config)


# The form's opening values: the study's recipe (config.STUDY_TRAIN: 12 layers, hybrid α = 0.5, 200
# steps of 32 XQuAD-R triplets, evaluated on all of MLQA-R), as the CLI's defaults are.
STUDY = {"model": STUDY_TRAIN.model, "train_mode": "Train, then evaluate", "train_corpus": STUDY_TRAIN.corpus,
         "train_dataset": "mlqa-r", "train_quick": False, "train_limit": 50, "train_sampling": "hybrid",
         "train_alpha": 0.5, "train_mix": "per-batch", "train_steps": STUDY_TRAIN.steps,
         "train_batch": STUDY_TRAIN.batch_size, "train_seed": 0}
# A first run that finishes in a few minutes: the built 12-layer model, zero-shot, 50 questions per
# language of MLQA-R (every candidate is still encoded).
FIRST_RUN = {**STUDY, "train_mode": "Zero-shot evaluation only", "train_quick": True, "train_limit": 50}
MODES = ["Train, then evaluate", "Zero-shot evaluation only"]


def preset(values: dict) -> None:
    """Put every form field to ``values`` (a button's callback, so before the widgets are drawn)."""
    for key, value in values.items():
        st.session_state[key] = value


def open_form(models: dict) -> None:
    """Open each field on the reader's last value, or on the study's setting the first time."""
    for key, value in STUDY.items():
        if key != "train_dataset":  # its choices depend on the corpus: the form opens it
            ui.follow(key, None, value, list(models) if key == "model" else None)


def estimate_of(job: JobConfig, layers: dict, built: dict) -> estimate.Estimate:
    """The job's expected time from the runs found (this machine's first, then the shipped ones)."""
    model = job.train.model if job.train else job.eval.model
    card = paths.REPO_ROOT / "results" / "ladder" / f"build_card-{model}.json"
    build = estimate.build_seconds(card) if built.get(model) is False else None
    return estimate.estimate(job, ui.listing().runs, layers.get(model), build)


def show_estimate(job: JobConfig, layers: dict, built: dict) -> None:
    guess = estimate_of(job, layers, built)
    parts = ", ".join(f"{phase} {ui.fmt_seconds(s)}" for phase, s in guess.phases.items())
    words = "Rough estimate" if guess.rough else "Estimated time"
    st.info(f"**{words}: about {ui.fmt_seconds(guess.seconds)}** ({parts}). Basis: {guess.basis}.",
            icon=":material/timer:")


def first_run_box(layers: dict, built: dict) -> None:
    """The study's run next to a first run of a few minutes, with their estimated times."""
    study, quick = (estimate_of(form_job(values), layers, built) for values in (STUDY, FIRST_RUN))
    with st.container(border=True):
        st.markdown(f"**First run here?** The study's setting (below) trains 12 layers for 200 steps: about "
                    f"{ui.fmt_seconds(study.seconds)}. A quick zero-shot evaluation of {FIRST_RUN['model']} on "
                    f"MLQA-R ({FIRST_RUN['train_limit']} questions per language) takes about "
                    f"{ui.fmt_seconds(quick.seconds)}.")
        left, right = st.columns(2)
        left.button("Quick first run", on_click=preset, args=(FIRST_RUN,), icon=":material/bolt:", key="preset_quick")
        right.button("The study's setting", on_click=preset, args=(STUDY,), icon=":material/science:",
                     key="preset_study")


def form_job(values: dict) -> JobConfig:
    """The job a set of form values describes (the presets' estimates use it)."""
    train = values["train_mode"] == MODES[0]
    form = {"corpus": values["train_corpus"], "sampling": values["train_sampling"], "alpha": values["train_alpha"],
            "mix": values["train_mix"], "steps": values["train_steps"], "batch_size": values["train_batch"],
            "seed": values["train_seed"]}
    return build_job(values["model"], values["train_dataset"], values["train_limit"] if values["train_quick"] else None,
                     form if train else None)


def training_fields(left, right, corpus: str) -> dict:
    """Sampling, α, mix, steps, batch size, seed and precision of a training job."""
    sampling = left.radio("Batch sampling", ["mono", "cross", "hybrid"], horizontal=True, key="train_sampling",
                          help="mono: X-X batches; cross: X-Y batches; hybrid: monolingual with probability α")
    alpha = left.slider("α (probability of a monolingual batch)", 0.0, 1.0, step=0.05, key="train_alpha",
                        disabled=sampling != "hybrid")
    mix = left.radio("Mix", ["per-batch", "per-pair"], horizontal=True, disabled=sampling != "hybrid", key="train_mix",
                     help="per-batch: the paper; per-pair: each pair drawn monolingual with probability α")
    return {"corpus": corpus, "sampling": sampling, "alpha": alpha, "mix": mix,
            "steps": int(right.number_input("Steps", 1, 100_000, step=50, key="train_steps")),
            "batch_size": int(right.number_input("Batch size", 2, 1024, step=8, key="train_batch")),
            "seed": int(right.number_input("Seed", 0, 2**31 - 1, key="train_seed")),
            "precision": precision_choice(right)}


def own_model_and_data(model: str, dataset: str) -> tuple[str, str, tuple[str | None, str | None]]:
    """Optional overrides: a hub id or model folder, a dataset folder, prompts (empty: the model's own)."""
    with st.expander("Your own model, dataset or prompts"):
        left, right = st.columns(2)
        own_model = left.text_input("Model: hub id or folder", key="own_model",
                                    placeholder="intfloat/multilingual-e5-base").strip()
        own_data = right.text_input("Dataset folder (BEIR with a lang field, or <lang>.json files)",
                                    key="own_dataset").strip()
        query = left.text_input("Query prompt", key="query_prompt", placeholder="the model's own")
        passage = right.text_input("Passage prompt", key="passage_prompt", placeholder="the model's own")
    return own_model or model, own_data or dataset, (query or None, passage or None)


def form(models: dict, built: dict) -> tuple[JobConfig | None, bool]:
    """The form's fields; (the job they describe or None after an inline error, quick mode)."""
    left, right = st.columns(2)
    model = left.selectbox("Model scale", list(models), format_func=models.get, key="model")
    if built.get(model) is False:
        left.info(f"{model} is built on first use (the job does it, with progress); to build it now: "
                  f"`python -m hybridir_core models --build {model}`")
    train = right.radio("What to run", MODES, horizontal=True, key="train_mode") == MODES[0]
    corpus = "xnli"
    if train:
        corpus = left.radio("Training data", list(CORPORA), format_func=CORPORA.get, horizontal=True,
                            key="train_corpus", help="XQuAD-R QA triplets are the study's protocol; they "
                                                     "are evaluated on MLQA-R only (scoring training data is refused)")
    choices = ["mlqa-r"] if corpus == "xquad" else ["xquad-r", "mlqa-r", "all"]
    ui.follow("train_dataset", corpus, "mlqa-r", choices)
    dataset = left.selectbox("Evaluate on", choices, key="train_dataset")
    quick = right.checkbox("Quick mode (fewer questions per language; candidates stay whole)", key="train_quick")
    limit = right.number_input("Questions per language", 5, 5000, step=5, disabled=not quick, key="train_limit")
    fields = training_fields(left, right, corpus) if train else None
    model, dataset, prompts = own_model_and_data(model, dataset)
    try:
        return build_job(model, dataset, int(limit) if quick else None, fields, prompts), quick
    except ValueError as exc:
        st.error(f"These settings cannot run: {exc}")
        return None, quick


def launch(job: JobConfig, quick: bool, runs_root) -> None:
    """Run name, the equivalent command, and the Launch button."""
    model = job.eval.model
    if job.train is not None:
        suggested = f"{model}-{job.train.sampling.label}-s{job.train.seed}"
    else:
        suggested = f"zs-{model}-{'all' if len(job.eval.datasets) > 1 else job.eval.datasets[0]}"
    suggested += ("-quick" if quick else "") + time.strftime("-%m%d-%H%M")
    name = st.text_input("Run name", placeholder=suggested, key="run_name", help="Letters, digits, '.', '_' or '-'; "
                         "leave empty to use the suggestion.").strip() or suggested
    st.caption("The same run from a terminal:")
    st.code("python -m hybridir_core " + shlex.join(job_argv(job, ui.shown_path(runs_root / name))), language="bash",
            wrap_lines=True)
    if st.button("Launch", type="primary", key="launch"):
        try:
            jobs.submit(job, name, runs_root)
        except jobs.JobError as exc:
            st.error(str(exc))
        else:
            st.success(f"Queued {name}. It runs in the background; this page shows its progress.")


def main() -> None:
    st.title("Train & evaluate")
    runs_root, _ = ui.roots()
    models, built, layers = model_choices()
    open_form(models)
    first_run_box(layers, built)
    job, quick = form(models, built)
    if job is None:
        return
    if job.train is not None and job.train.learning_rate != TrainConfig.learning_rate:
        st.caption(f"{job.train.model} trains at learning rate {job.train.learning_rate:g}, its own "
                   f"(the study's {TrainConfig.learning_rate:g} leaves it almost untrained; docs/data-and-models.md)")
    show_estimate(job, layers, built)
    launch(job, quick, runs_root)
    st.subheader("Jobs")
    job_list(runs_root)


st.sidebar.caption("One job runs at a time; the others wait in the queue. Jobs keep running "
                   "when you close this tab.")
ui.sidebar_footer()
main()
