"""Evaluating a model under LAReQA: encode and rank (``evaluate``, ``ranking``), AP and cells
(``metrics``), language-bias rank distances (``bias``) and free-text search (``retrieval``)."""
