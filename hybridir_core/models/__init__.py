"""The models: the registry and its offline builds (``registry``), the E5S1 conversion
(``e5s1``), distilled students (``distill``, ``length_sampler``) and encoding backends (``encoders``)."""
