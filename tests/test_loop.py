"""The lean loop (mscad.train.train_epochs) and its hooks."""
import pytest
import torch

from mscad.config import TrainConfig
from mscad.model import FeatureModel
from mscad.engine import fit
from mscad.train import (Evaluation, compute_center, experiment_data, make_optimizer,
                         train_epochs)

TINY = dict(backbone="efficientnet_lite0", profile="quick", image_size=32, batch_size=8,
            epochs=2, device="cpu")


@pytest.fixture
def setup(folder_dataset):
    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="msc",
                      **TINY).resolved()
    return cfg, experiment_data(cfg)


def fresh(cfg, data):
    torch.manual_seed(cfg.seed)
    model = FeatureModel(cfg.backbone)
    return model, make_optimizer(model, cfg), compute_center(model, data.train, cfg)


def test_measuring_hooks_fill_the_record_and_keeping_hooks_see_the_history(setup):
    cfg, data = setup
    model, optimizer, center = fresh(cfg, data)
    history = [dict(epoch=0, auroc=None, loss=None, steps=None, seconds=0.0)]
    kept = []
    train_epochs(model, data.train, center, optimizer, cfg, history, range(1, 3),
                 measure=[lambda epoch, model, losses: dict(steps=len(losses))],
                 keep=[lambda epoch, history: kept.append((epoch, len(history)))])
    n_batches = max(1, len(data.train) // cfg.batch_size)  # a batch larger than the set: one
    assert [r["epoch"] for r in history] == [0, 1, 2]
    assert [r["steps"] for r in history[1:]] == [n_batches, n_batches]
    assert kept == [(1, 2), (2, 3)]  # called after the epoch's record joined the history
    assert all(list(r) == list(history[0]) for r in history)  # one shape for every record


def test_evaluating_every_epoch_does_not_change_what_is_trained(setup):
    """The evaluation hook only reads the model: had it touched the weights (a BatchNorm
    update in train mode, a stray step), the weights trained beside it would differ from
    the loop's without it."""
    cfg, data = setup
    cfg = cfg.for_train_set(len(data.train))
    weights = []
    for hooks in ([], [Evaluation(data, cfg, True)]):
        state = fit(cfg, data.train, hooks)
        history = state.history
        if hooks:
            assert all(0 <= r["auroc"] <= 1 for r in history) and history[2]["uniformity"] is not None
        else:
            assert all(r["auroc"] is None for r in history)  # the engine alone measures nothing
        weights.append(state.model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_clipping_bounds_every_step_as_pandas_code_does(setup):
    """PANDA's code clips the gradient norm at 1e-3 before each step: with momentum 0 and
    no weight decay, every step then moves the trainable weights by at most lr * 1e-3."""
    import dataclasses

    cfg, data = setup
    cfg = dataclasses.replace(cfg, objective="center", lr=10.0, momentum=0.0, weight_decay=0.0,
                              clip_grad_norm=1e-3, batch_size=3)
    model, _, center = fresh(cfg, data)
    optimizer = make_optimizer(model, cfg)  # momentum and weight decay 0: the bound is exact
    before = torch.cat([p.detach().flatten().clone() for p in model.spec.trainable_parameters()])
    train_epochs(model, data.train, center, optimizer, cfg, [dict(epoch=0)], range(1, 2))
    after = torch.cat([p.detach().flatten() for p in model.spec.trainable_parameters()])
    steps = max(1, len(data.train) // cfg.batch_size)
    moved = (after - before).norm().item()
    assert 0 < moved <= steps * cfg.lr * 1e-3 * 1.001
    unclipped = dataclasses.replace(cfg, clip_grad_norm=0.0)
    model, _, center = fresh(unclipped, data)
    optimizer = make_optimizer(model, unclipped)
    train_epochs(model, data.train, center, optimizer, unclipped, [dict(epoch=0)], range(1, 2))
    free = torch.cat([p.detach().flatten() for p in model.spec.trainable_parameters()])
    assert (free - before).norm().item() > 10 * moved  # the clip is what held it back


def test_the_paper_profile_clips_the_center_losses_only():
    from mscad.config import TrainConfig

    assert TrainConfig(objective="center", profile="paper").resolved().clip_grad_norm == 1e-3
    assert TrainConfig(objective="msc", profile="paper").resolved().clip_grad_norm == 0.0
    assert TrainConfig(objective="center", profile="cpu").resolved().clip_grad_norm == 0.0
    # 0 turns PANDA's clip off in the paper profile; a stored config without the setting
    # (written before it existed) reads as unclipped, whatever its profile
    assert TrainConfig(objective="center", profile="paper", clip_grad_norm=0.0).resolved() \
        .clip_grad_norm == 0.0
    old = TrainConfig(objective="center", profile="paper").resolved().as_dict()
    del old["clip_grad_norm"]
    assert TrainConfig.from_dict(old).resolved().clip_grad_norm == 0.0
    assert TrainConfig(objective="center", profile="cpu", clip_grad_norm=1e-3).resolved() \
        .clip_grad_norm == 1e-3


def test_resuming_with_another_clip_is_refused(setup, tmp_path):
    import dataclasses

    from mscad.errors import CheckpointMismatchError
    from mscad.train import fine_tune

    cfg, data = setup
    ckpt = tmp_path / "run.ckpt"
    fine_tune(dataclasses.replace(cfg, epochs=1), checkpoint=ckpt, progress=False, cache=False,
              data=data)
    with pytest.raises(CheckpointMismatchError, match="clip_grad_norm"):
        fine_tune(dataclasses.replace(cfg, clip_grad_norm=1e-3), checkpoint=ckpt, resume=True,
                  progress=False, cache=False, data=data)
