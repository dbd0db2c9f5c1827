"""Launcher options of ``sweep`` (``--launcher local|slurm`` and the Slurm resources)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridir_core.jobs.launchers import LAUNCHERS, SlurmOptions, launch, wait_for


def add_launcher_options(parser: argparse.ArgumentParser) -> None:
    """``--launcher`` and the ``--slurm-*`` resources of each job."""
    parser.add_argument("--launcher", default="local", choices=LAUNCHERS,
                        help="local: run the cells here one after another; slurm: one Slurm job per cell "
                             "(submitit)")
    group = parser.add_argument_group("slurm launcher")
    defaults = SlurmOptions()
    group.add_argument("--slurm-partition", default=None, help="Slurm partition (default: the cluster's)")
    group.add_argument("--slurm-time", type=int, default=defaults.time_min, help="minutes per job")
    group.add_argument("--slurm-gpus", type=int, default=defaults.gpus, help="GPUs per job")
    group.add_argument("--slurm-cpus", type=int, default=defaults.cpus, help="CPUs per job")
    group.add_argument("--slurm-mem-gb", type=float, default=None, help="memory per job in GB (default: the cluster's)")
    group.add_argument("--slurm-account", default=None, help="Slurm account to charge (default: yours)")
    group.add_argument("--slurm-array-parallelism", type=int, default=None, metavar="N",
                       help="submit one job array running at most N cells at once (default: one job per cell)")
    group.add_argument("--wait", action="store_true", help="slurm: wait for the jobs and print their final states")


def slurm_options_from_args(args: argparse.Namespace) -> SlurmOptions:
    """The ``SlurmOptions`` of parsed ``--slurm-*`` options."""
    return SlurmOptions(partition=args.slurm_partition, time_min=args.slurm_time, gpus=args.slurm_gpus,
                        cpus=args.slurm_cpus, mem_gb=args.slurm_mem_gb, account=args.slurm_account,
                        array_parallelism=args.slurm_array_parallelism)


def run_cells(args: argparse.Namespace, cells: list, out: Path) -> tuple[list[str], list[str]]:
    """Run or submit a sweep's cells with the chosen launcher; returns (skipped, failed) run ids."""
    done = launch(cells, out, args.launcher, args.dry_run,
                  slurm_options_from_args(args) if args.launcher == "slurm" else None)
    for run_id in done.queued:
        print(f"{run_id}: already queued on slurm, skipped")
    for run_id, job_id in done.jobs.items():
        print(f"{run_id}: slurm job {job_id}")
    failed = list(done.failed)
    if args.launcher == "slurm" and args.wait and done.jobs:
        states = wait_for([Path(out) / run_id for run_id in done.jobs])
        for run_id, state in states.items():
            print(f"{run_id}: {state}")
        failed += [run_id for run_id, state in states.items() if state != "completed"]
    return done.skipped + done.queued, failed
