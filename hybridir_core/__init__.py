"""hybridir core: data, models, batch sampling, training, LAReQA evaluation and run files.

Nothing here imports streamlit; the dashboard (``app.py``, ``pages/``) calls this package.
"""

__version__ = "0.1.0"
