"""Fine-tuning a model: the trainer set-up (``trainer``), the mono / cross / hybrid batch
samplers (``sampling``) and the ``TrainerCallback`` classes (``callbacks``)."""
