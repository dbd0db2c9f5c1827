"""The data the study reads: LAReQA evaluation sets (``lareqa``), training corpora (``corpora``),
the XQuAD-R QA training pairs (``qa_pairs``) and the pinned downloader (``fetch``)."""
