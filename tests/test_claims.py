"""The claims table: verdicts that state size as well as sign, paper numbers read from
mscad.paper, and epoch-0 comparisons for the collapse curves."""
import numpy as np
import pandas as pd
import pytest

from mscad import paper
from mscad.claims import CLAIMS, EPOCH0, Claim, claim_margins, get_claim, evaluate_claim, verdict
from mscad.errors import MscadError


@pytest.mark.parametrize("low, high, paper_margin, expected", [
    (1.5, 2.3, 1.4, "holds"),                          # above 0, contains the paper's +1.4
    (1.5, 2.3, 1.0, "holds"),                          # exceeds the paper's size
    (1.9, 2.4, 4.9, "holds, smaller than the paper"),  # multi-class: +2.2 against +4.9
    (-0.38, 0.10, 0.3, "not reproduced"),              # contains 0, excludes the paper's +0.3
    (-2.0, -0.5, 0.4, "not reproduced"),               # the other way
    (-0.5, 0.5, 0.4, "unresolved"),                    # contains both 0 and the paper's value
    (float("nan"), float("nan"), 1.4, "unresolved (one seed)"),
    (0.05, 0.3, None, "holds (sign only: no paper number)"),
    (-0.3, -0.05, None, "not reproduced (sign only: no paper number)"),
    (-0.3, 0.2, None, "unresolved (sign only: no paper number)"),
])
def test_verdicts(low, high, paper_margin, expected):
    assert verdict(low, high, paper_margin) == expected


def test_paper_numbers_come_from_mscad_paper():
    assert get_claim("msc>dn2").paper_margin == pytest.approx(paper.TABLE3["msc"] - paper.TABLE3["dn2"])
    assert get_claim("multiclass:dn2>center").paper_scores == (paper.TABLE5["dn2"], paper.TABLE5["center"])
    assert len({c.key for c in CLAIMS}) == len(CLAIMS)
    with pytest.raises(MscadError, match="unknown claim 'x'"):
        get_claim("x")


def frame(rows):
    return pd.DataFrame(rows, columns=["objective", "normal_class", "seed", "auroc", "epoch0"])


def test_margins_pair_class_and_seed_and_epoch0_is_the_runs_start():
    rows = []
    for seed in (0, 1, 2):
        for c, base in (("cat", 80.0), ("dog", 70.0)):
            rows.append(("contrastive", c, seed, base - 3 - seed, base))
            rows.append(("msc", c, seed, base + 2, base))
    results = frame(rows)
    collapse = Claim("k", "contrastive falls", "Fig. 5", "f", EPOCH0, "contrastive")
    diff = claim_margins(results, collapse)
    assert diff.shape == (3, 2) and diff.loc[2, "cat"] == pytest.approx(5.0)  # start - end
    row = evaluate_claim(collapse, results)
    assert row["verdict"].startswith("holds") and row["classes above in every seed"] == 2
    wrong_way = Claim("k", "contrastive above msc", "x", "f", "contrastive", "msc", (90.0, 89.0))
    row = evaluate_claim(wrong_way, results)
    assert row["verdict"] == "not reproduced" and row["classes below in every seed"] == 2
    assert row["baseline here / paper"] == "77.0 / 89.0"  # the msc side, and the paper's


def test_a_claim_without_common_classes_is_refused():
    results = frame([("msc", "cat", 0, 90.0, 80.0), ("dn2", "dog", 0, 80.0, 80.0)])
    with pytest.raises(MscadError, match="no class and seed have results on both sides"):
        claim_margins(results, get_claim("msc>dn2"))


def test_the_committed_evidence_gives_every_verdict_its_numbers():
    from mscad.claims import claims_table
    from mscad.data import CIFAR10_CLASSES

    table = claims_table(classes=list(CIFAR10_CLASSES))
    row = table.loc["msc>dn2"]
    assert row["classes x seeds"] == "10 x 3" and row["low"] > 0
    assert table.loc["msc-angular>msc", "verdict"] == "not reproduced"
    assert not np.isnan(table.loc["multiclass:msc>dn2", "mean"])


def test_claim_phrase_says_one_seed_once_and_names_the_paper():
    import pandas as pd

    from mscad.claims import claim_phrase

    table = pd.DataFrame([
        {"key": "a", "ours: margin [95% interval]": "+8.7 (one seed)",
         "verdict": "unresolved (one seed)", "paper": "96.2 vs 95.8: +0.4"},
        {"key": "b", "ours: margin [95% interval]": "no finished seed of center yet",
         "verdict": "not tested yet", "paper": "x"}]).set_index("key")
    assert claim_phrase(table, "a") == \
        "+8.7 points, unresolved (one seed); the paper: 96.2 vs 95.8: +0.4"
    assert claim_phrase(table, "b").startswith("not tested yet (no finished seed")


# ------------------------------------------------------------------ Fig. 5 on its content
def synthetic_curves(steps_per_epoch=15, epochs=20, seeds=(0, 1, 2)):
    """Curves shaped as the paper describes them: the contrastive loss falls to chance
    in a few epochs, the center loss rises first and then falls to chance, MSC rises and
    then declines slowly, staying above the center loss."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in seeds:
        for e in range(epochs + 1):
            noise = lambda: rng.normal(0, 0.1)  # noqa: E731
            curves = {"contrastive": max(50.5, 83 - 12 * e) + noise(),
                      "center": (83 + 0.5 * min(e, 2) - max(0, e - 2) * 2.0) if e <= 16 else 51 + noise(),
                      "msc": 83 + min(e, 4) * 1.2 - max(0, e - 4) * 0.05 + noise()}
            curves["center"] = max(curves["center"], 51.0) + noise()
            rows += [dict(objective=o, seed=seed, epoch=e, step=e * steps_per_epoch, auroc=v)
                     for o, v in curves.items()]
    return pd.DataFrame(rows)


def test_fig5_claims_hold_in_full_on_paper_shaped_curves():
    from mscad.claims import fig5_tests, fig5_verdict

    parts = fig5_tests(synthetic_curves())
    for key in ("collapse:contrastive", "collapse:center", "collapse:msc", "collapse:msc>center"):
        assert fig5_verdict(parts[parts.key == key]) == "holds", parts[parts.key == key]


def test_fig5_verdicts_separate_direction_from_size_and_speed():
    """Our cpu-scale shape: the contrastive loss declines but stays far from chance; the
    center loss never rises; MSC declines faster than the center loss: each named."""
    from mscad.claims import fig5_tests, fig5_verdict

    c = synthetic_curves()
    c.loc[c.objective == "contrastive", "auroc"] = 83 - 0.3 * c.epoch + 0.05 * c.seed
    c.loc[c.objective == "center", "auroc"] = 83 - 0.2 * c.epoch + 0.05 * c.seed
    c.loc[c.objective == "msc", "auroc"] = 90 - 0.4 * c.epoch + 0.05 * c.seed
    parts = fig5_tests(c)
    verdicts = {k: fig5_verdict(parts[parts.key == k]) for k in set(parts.key)}
    assert verdicts["collapse:contrastive"] == ("partly reproduced (direction holds; size not "
                                                "reproduced)")
    assert verdicts["collapse:center"].startswith("partly reproduced (then degrades holds; initial "
                                                  "improvement not reproduced")
    assert "speed not reproduced" in verdicts["collapse:msc"]  # 0.4 a step-epoch against 0.2
    assert verdicts["collapse:msc>center"] == "holds"  # 7 points above throughout


def test_fig5_speed_is_compared_per_step_not_per_epoch():
    """The same per-epoch curves with five times the steps per epoch decline five times
    more slowly per step."""
    from mscad.claims import curve_shape

    small, large = synthetic_curves(steps_per_epoch=15), synthetic_curves(steps_per_epoch=75)
    a, b = curve_shape(small, "msc"), curve_shape(large, "msc")
    np.testing.assert_allclose(a.decline_per_kstep, 5 * b.decline_per_kstep)


def test_holm_adjustment():
    from mscad.claims import holm

    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, float("nan")])[:3], [0.03, 0.06, 0.06])
    assert np.isnan(holm([0.01, float("nan")])[1])


@pytest.mark.parametrize("end, change, expected", [
    (84.4, (1.0, 0.3, 1.6), "ends above its start, not clear of the ±0.5-point level band"),
    (84.4, (1.0, 0.6, 1.6), "improves"),
    (77.6, (-5.8, -7.3, -4.4), "degrades"),
    (83.5, (0.1, -0.3, 0.4), "holds"),
    (52.0, (-30.0, -32.0, -28.0), "collapses to chance"),
    (83.0, (-0.4, -1.2, 0.2), "ends below its start, not clear of the ±0.5-point level band"),
])
def test_course_words_need_the_interval_beyond_the_level_band(end, change, expected):
    from mscad.claims import course_word

    assert course_word(end, change) == expected


def test_claims_table_has_a_holm_corrected_verdict(shared_data):
    from mscad.claims import claims_table

    table = claims_table()
    assert {"p (one-sided)", "p, Holm over the table", "verdict, Holm-corrected"} <= set(table.columns)
    tested = table[table.verdict != "not tested yet"]
    assert (tested["p, Holm over the table"].dropna() >= tested["p (one-sided)"].dropna()).all()
    # a Fig. 5 row is judged on its parts, never restated in reverse
    assert "still above where it started" not in " ".join(table.claim)


def test_no_finished_seed_gives_no_fig5_parts_and_no_crash():
    from mscad.claims import fig5_tests

    empty = synthetic_curves().iloc[0:0]
    parts = fig5_tests(empty)
    assert parts.empty and "key" in parts.columns


def test_a_trend_word_needs_its_interval_beyond_the_level_band():
    from mscad.claims import change_phrase, paired_change

    before = pd.Series({0: 80.0, 1: 81.0, 2: 79.0})
    grows = paired_change(before, before + pd.Series({0: 2.0, 1: 2.2, 2: 1.8}))
    assert grows["word"] == "rises" and grows["pairs"] == 3
    assert change_phrase(grows, rises="grows").startswith("grows by +2.0 [")
    falls = paired_change(before + 2, before)
    assert falls["word"] == "falls"  # after - before, not reversed
    assert change_phrase(falls) == "falls by 2.0 [2.0, 2.0] points"  # a size, not "by -2.0"
    flat = paired_change(before, before + pd.Series({0: 0.1, 1: -0.1, 2: 0.0}))
    assert flat["word"] == "level" and change_phrase(flat).startswith("stays level (")
    # the few-shot gains of issue 33: overlapping, so no "grows"
    noisy = paired_change(pd.Series({0: 0.9, 1: 0.7, 2: 1.1}), pd.Series({0: 1.4, 1: 0.8, 2: 2.1}))
    assert noisy["word"] == "unresolved" and "not clear of the ±0.5-point level band" in change_phrase(noisy)
    assert paired_change(pd.Series({0: 1.0}), pd.Series({0: 2.0}))["word"] == "one pair"
    with pytest.raises(MscadError, match="no seed has both sides"):
        paired_change(pd.Series({0: 1.0}), pd.Series({1: 2.0}))
