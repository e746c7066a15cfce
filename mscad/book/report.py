"""The chapters' and the command line's one import point for results and their reading;
the work is done by one module per job:

- :mod:`mscad.collect`: reading result files, comparability groups, completeness;
- :mod:`mscad.stats`: means and tables over seeds, intervals, paired margins;
- :mod:`mscad.orderings`: the paper's orderings class by class;
- :mod:`mscad.protocol`: the validation protocol (learning rates, the showcase class);
- :mod:`mscad.claims`: the paper's claims with verdicts that state size.
"""
from __future__ import annotations

from ..experiment.collect import (complete_classes, complete_seeded_classes, complete_seeds, dataset_classes,
                      describe_scale, finished_groups, finished_seeds_of, load_results,
                      results_folder, scale_groups)
from ..config import SCALE_KEYS
from ..experiment.orderings import (ORDERING_CLAIMS, ORDERING_OBJECTIVES, claim_row, ordering_checks,
                        ordering_summary, ordering_text, verdict)
from ..experiment.protocol import lr_choices, lr_selection, showcase_class
from ..experiment.stats import (format_margin, interval, margin_interval, objective_intervals, objective_means,
                    per_class_table, scale_tables, seed_means, seed_table, sweep_beside)

__all__ = ["ORDERING_CLAIMS", "ORDERING_OBJECTIVES", "SCALE_KEYS", "claim_row", "complete_classes",
           "complete_seeded_classes", "complete_seeds", "dataset_classes", "describe_scale",
           "finished_groups", "finished_seeds_of", "format_margin", "interval", "load_results",
           "lr_choices", "lr_selection", "margin_interval", "objective_intervals", "objective_means",
           "ordering_checks", "ordering_summary", "ordering_text", "per_class_table", "results_folder",
           "scale_groups", "scale_tables", "seed_means", "seed_table", "showcase_class", "sweep_beside",
           "verdict"]
