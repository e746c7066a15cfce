"""Which code made each result the book reads, and the verify records (issue 29, item 6)."""
import json
import shutil
import sys
from pathlib import Path

import pytest

from mscad.book.provenance import code_by_folder, verify_outcomes
from mscad.errors import MscadError
from mscad.provenance import UNKNOWN_CODE, made_by

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "results" / "datascale" / "table3" / "efficientnet_lite0" / "dn2" / "airplane-seed0.json"


def test_made_by_names_the_commit_the_changes_the_source_or_unknown():
    assert made_by(None) == made_by({}) == UNKNOWN_CODE
    assert made_by({"commit": "5321611ef6b4a39fc2a5", "dirty": False}) == "5321611"
    assert made_by({"commit": "5321611ef6b4a39fc2a5", "dirty": True}) == "5321611+changes"
    assert made_by({"commit": None, "source_sha256": "427179623a60a786b35c"}) == "source 427179623a60"


def test_every_folder_counts_its_files_by_code_and_says_unknown_for_old_files(tmp_path):
    folder = tmp_path / "some-experiment" / "dn2"
    folder.mkdir(parents=True)
    shutil.copy(RUN, folder / "airplane-seed0.json")
    old = json.loads(RUN.read_text())
    old.pop("code")  # as files written before results recorded their code
    (folder / "bird-seed0.json").write_text(json.dumps(old))
    (tmp_path / "not-runs").mkdir()
    (tmp_path / "not-runs" / "grid.json").write_text("{}")
    table = code_by_folder(tmp_path).set_index("made by code")
    assert list(table.folder.unique()) == ["some-experiment"]  # the folder without runs is left out
    assert table.loc["5321611", "result files"] == 1
    assert table.loc[UNKNOWN_CODE, "result files"] == 1


def test_the_committed_results_say_which_code_made_them_or_that_it_is_unknown():
    table = code_by_folder(folders={"sweep-cpu", "datascale", "history"})
    assert set(table.folder) == {"sweep-cpu", "datascale", "history"}  # only the folders asked for
    by = table.set_index(["folder", "made by code"])["result files"]
    # stage T's runs were made from the worktree frozen at 5321611; the sweep predates code records
    assert set(table[table.folder == "datascale"]["made by code"]) == {"5321611"}
    assert by[("sweep-cpu", UNKNOWN_CODE)] == 180


def test_verify_records_are_read_and_a_failed_rerun_is_not_taken_for_a_result(tmp_path):
    (tmp_path / "sweep-cpu.txt").write_text(
        "$ python -m mscad verify results/sweep-cpu/x/msc/airplane-seed0.json --quiet --tolerance 0.1\n"
        "exit 0; 212 s\n\nverifying results/sweep-cpu/x/msc/airplane-seed0.json: airplane, msc, "
        f"efficientnet_lite0 @ 64px, 5 epochs, seed 0; made by code {UNKNOWN_CODE}; rerun now by abc on cpu\n"
        "| epoch | stored ROC-AUC % | rerun % | difference, points |\n|---|---|---|---|\n"
        "| 0 | 84.412 | 84.412 | +0.000 |\n| 5 | 88.580 | 88.580 | -0.001 |\n"
        "reproduced: largest difference 0.001 points over 2 evaluated epoch(s) (tolerance 0.1); "
        "rerun's compile: off\n")
    (tmp_path / "history.txt").write_text(
        "$ python -m mscad verify results/history/a.json --quiet --tolerance 0.1\nexit 2; 3 s\n\n"
        "mscad: results/history/a.json is not a result this mscad can read.\n")
    rows = verify_outcomes(tmp_path).set_index("folder")
    ok = rows.loc["sweep-cpu"]
    assert ok.outcome == "reproduced" and ok["largest difference (points)"] == 0.001
    assert ok["epochs compared"] == 2 and ok["rerun seconds"] == 212 and ok["made by code"] == UNKNOWN_CODE
    assert ok.file == "results/sweep-cpu/x/msc/airplane-seed0.json"
    bad = rows.loc["history"]
    assert bad.outcome.startswith("rerun failed: mscad: results/history/a.json")
    assert bad["epochs compared"] == 0
    with pytest.raises(MscadError, match="verify_folders"):
        verify_outcomes(tmp_path / "none")
    (tmp_path / "sweep-cpu.2.txt").write_text((tmp_path / "sweep-cpu.txt").read_text().replace(
        "reproduced: largest difference 0.001", "NOT reproduced: largest difference 0.300"))
    rows = verify_outcomes(tmp_path)
    again = rows[rows.folder == "sweep-cpu"]
    assert list(again.attempt) == [1, 2] and list(again.outcome) == ["reproduced", "NOT reproduced"]
    (tmp_path / "empty").mkdir()
    assert list(verify_outcomes(tmp_path / "empty").columns)[:2] == ["folder", "attempt"]


def test_verify_folders_picks_by_settings_and_cost_never_by_numbers(tmp_path):
    sys.path.insert(0, str(ROOT / "experiments"))
    try:
        import verify_folders
    finally:
        sys.path.pop(0)
    run = json.loads(RUN.read_text())

    def write(rel, epochs, auroc):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        d = dict(run, auroc=auroc, config=dict(run["config"], epochs=epochs))
        path.write_text(json.dumps(d))
        return path

    write("dn2/airplane-seed0.json", 0, 0.99)
    long = write("center/airplane-seed0.json", 20, 0.60)
    for numbers in ((0.40, 0.50, 0.45), (0.50, 0.40, 0.45), (0.45, 0.50, 0.40)):  # any order of the numbers
        short_a = write("msc/airplane-seed0.json", 3, numbers[0])
        short_b = write("msc/bird-seed0.json", 3, numbers[1])
        write("msc/cat-seed0.json", 3, numbers[2])
        assert verify_folders.pick(tmp_path) == short_a  # settings and path order alone
    (tmp_path / "msc" / "cat-seed0.json").unlink()
    for p in (short_a, short_b):
        p.unlink()
    assert verify_folders.pick(tmp_path) == long
    long.unlink()
    assert verify_folders.pick(tmp_path).name == "airplane-seed0.json"  # DN2 alone
    assert verify_folders.pick(tmp_path / "dn2").parent.name == "dn2"
