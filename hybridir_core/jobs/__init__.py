"""Running jobs: the dashboard's queue (``queue``), one job or a sweep into run directories
(``pipeline``) and where a sweep runs, locally or on Slurm (``launchers``)."""
