"""The book's helpers, on top of the library and the experiment machinery: the verdicts
with size (:mod:`.claims`), figures (:mod:`.plots`), probes of training (:mod:`.probes`),
the 2-D toy (:mod:`.toy`), exercise checkers (:mod:`.exercises`), chapter setup
(:mod:`.notebook`) and the report's tables (:mod:`.report`). Nothing below imports it."""
