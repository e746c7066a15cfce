"""The paper's experiment machinery, on top of the library (``mscad``): one experiment
(:mod:`.train`: the engine with evaluation, checkpoint and probe hooks, the run cache and
the result), many (:mod:`.sweep`), the command line (:mod:`.cli`), reading results back
(:mod:`.collect`), their statistics (:mod:`.stats`), the paper's tables (:mod:`.paper`),
its orderings (:mod:`.orderings`) and the selection protocol (:mod:`.protocol`).
Imports only from the library; the book's helpers (``mscad.book``) build on it."""
