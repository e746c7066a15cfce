"""The chapters' helpers: one switch for the class, the scale read from the profile."""
from types import SimpleNamespace

import numpy as np

from mscad.notebook import chapter_class, compared, scale_phrase, start_chapter, sweep_beside_table


def test_the_class_switch_order_is_parameter_then_environment_then_showcase(monkeypatch):
    monkeypatch.setenv("MSCAD_CLASS", "cat")
    assert chapter_class("ship") == "ship"
    assert chapter_class(None) == "cat"
    monkeypatch.delenv("MSCAD_CLASS")
    assert chapter_class(None) == "horse"  # the rule on the committed validation runs


def test_start_chapter_gives_the_settings_every_run_shares(monkeypatch, capsys):
    monkeypatch.setenv("MSCAD_CLASS", "deer")
    settings, normal, base = start_chapter(seed=2, profile="quick", dataset="cifar10")
    assert normal == "deer" and settings["profile"] == "quick" and settings["seed"] == 2
    assert base == dict(dataset="cifar10", normal_class="deer", profile="quick", seed=2)
    assert "normal class: deer" in capsys.readouterr().out


def test_the_scale_is_read_from_the_profile_and_the_data():
    settings = dict(image_size=128, profile="gpu")
    assert scale_phrase(settings) == "128-pixel inputs at the `gpu` profile"
    data = SimpleNamespace(train=np.zeros(2000), test=np.zeros(4000))
    assert scale_phrase(settings, data).endswith("2,000 normal training and 4,000 test images per class")


def test_the_sweep_table_covers_the_finished_seeds(capsys):
    sweep, table = sweep_beside_table("cifar10", ["dn2", "msc"])
    assert set(sweep.objective) == {"dn2", "msc"} and "seed" in capsys.readouterr().out
    assert table is not None and len(table) == 11  # ten classes and the mean


def test_compared_words_follow_the_numbers():
    assert compared(2.0, 1.0) == "above" and compared(1.0, 2.0) == "below"
    assert compared(1.0, 1.04) == "level with"


# ------------------------------------------------------------------ live prose (issue 32)
def test_live_prose_shows_the_readers_numbers_and_the_books_where_they_differ(monkeypatch):
    from mscad.book import notebook

    monkeypatch.setattr(notebook, "GLUED", {"auc": 55.278, "word": "above", "cls": "horse"})
    text = ("For {glue:text}`cls` the score is {glue:text}`auc:.1f`%, {glue:text}`word` the raw "
            "{glue:text}`raw:.1f`%.")
    shown = notebook.live_text(text, {"auc": 84.42, "word": "above", "cls": "horse", "raw": 60.42})
    assert shown == ("For horse the score is 55.3% (the book's run: 84.4%), above the raw "
                     "60.4% (the book's run; yours is computed further down).")
    same = notebook.live_text("{glue:text}`auc:.1f`", {"auc": 55.31})
    assert same == "55.3"  # equal as printed: no bracket


def test_beside_the_book_sets_every_glued_value_beside_the_readers(monkeypatch):
    from mscad.book import notebook

    monkeypatch.setattr(notebook, "GLUED", {"auc": 55.278, "cls": "horse"})
    table = notebook.beside_the_book({"auc": 84.4221, "cls": "horse", "later": 3})
    assert list(table.index) == ["auc", "cls", "later"]
    assert table.loc["auc", "your run"] == "55.278" and table.loc["auc", "the book's run"] == "84.4221"
    assert table["same"].tolist() == [False, True, False]
    assert table.loc["later", "your run"] == "not computed"


def test_a_chapter_runs_at_the_books_profile_unless_told(monkeypatch):
    from mscad.book.notebook import BOOK_PROFILE, chapter_profile

    monkeypatch.delenv("MSCAD_PROFILE", raising=False)
    assert chapter_profile() == BOOK_PROFILE == "cpu"  # on any device, a GPU too
    monkeypatch.setenv("MSCAD_PROFILE", "quick")
    assert chapter_profile() == "quick" and chapter_profile("gpu") == "gpu"


def test_beside_the_book_compares_values_as_the_prose_prints_them(monkeypatch):
    from mscad.book import notebook

    monkeypatch.setattr(notebook, "GLUED", {"auc": 84.41})
    table = notebook.beside_the_book({"auc": 84.43}, {"auc": ".1f"})
    assert table.loc["auc", "your run"] == "84.4" and bool(table.loc["auc", "same"])
