"""The data the study reads: LAReQA evaluation sets (``lareqa``), training corpora (``corpora``),
the XQuAD-R QA training pairs (``qa_pairs``) and the one pinned, checksummed downloader (``fetch``)."""


class DataError(Exception):
    """Bad or missing dataset input; the message names the file and the problem."""
