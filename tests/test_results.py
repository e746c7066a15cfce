"""The versioned result type: every committed result reads (old ones migrated), round-trips,
and a new result records the code that produced it."""
import json
from pathlib import Path

import pytest

from mscad.errors import CorruptResultError
from mscad.results import RESULT_SCHEMA, RunResult, load_result, result_json

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_every_committed_result_reads_and_round_trips():
    n = 0
    for path in RESULTS.rglob("*.json"):
        raw = json.loads(path.read_text())
        if not (isinstance(raw, dict) and "auroc" in raw):
            continue  # a benchmark's summary, not a run
        result = load_result(path)
        again = RunResult.from_dict(json.loads(result_json(result)))
        assert again == result and again.to_dict()["schema"] == RESULT_SCHEMA
        assert result["history"] is result.history and result.config["train_limit"] is not None
        n += 1
    assert n > 500


def test_version_1_is_migrated_and_unknown_keys_are_kept():
    old = dict(auroc=0.9, history=[dict(epoch=0, auroc=0.9)], config=dict(train_limit=None, test_limit=200),
               benchmark=dict(wall_s=3.0))
    r = RunResult.from_dict(old)
    assert r.config["train_limit"] == 0 and r.config["test_limit"] == 200 and r.code is None
    assert r["benchmark"] == {"wall_s": 3.0} and r.to_dict()["benchmark"] == {"wall_s": 3.0}
    with pytest.raises(CorruptResultError, match="newer mscad"):
        RunResult.from_dict(dict(old, schema=RESULT_SCHEMA + 1))
    with pytest.raises(CorruptResultError, match="not an mscad result"):
        RunResult.from_dict(dict(auroc=0.5))


def test_a_new_result_records_its_code(folder_dataset, tmp_path):
    from mscad.cli import main
    from mscad.results import code_provenance

    out = tmp_path / "r.json"
    assert main(["run", "--dataset", str(folder_dataset), "--normal-class", "circle", "--objective", "dn2",
                 "--profile", "quick", "--quiet", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["schema"] == RESULT_SCHEMA
    code = written["code"]
    assert code == code_provenance() and len(code["source_sha256"]) == 64 and code["mscad"]
    assert code["commit"] is None or len(code["commit"]) == 40
