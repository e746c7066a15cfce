"""Draw the glossary's figure key (book/images/figure_key.png) from the one visual
language in mscad.book.plots: run it after changing an objective's colour.

    python book/draw_figure_key.py
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from mscad.book.plots import figure_key  # noqa: E402

OUT = Path(__file__).resolve().parent / "images" / "figure_key.png"

if __name__ == "__main__":
    figure_key().savefig(OUT, dpi=110, bbox_inches="tight")
    print(f"-> {OUT}")
