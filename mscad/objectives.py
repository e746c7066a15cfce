"""The fine-tuning objectives as data: one record each (paper Table 3).

A record says everything the rest of mscad needs to know about an objective: its loss
(on the backbone's raw features of one or two views), how many views of each image it
trains on, which center it uses, and its optimiser's momentum. The training loop, the
plots, the report and the command line read :data:`OBJECTIVES`; adding an objective is
one record here plus its loss in :mod:`mscad.losses`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .registry import Registry
from .losses import angular_center_loss, center_loss, contrastive_loss, msc_loss

# PANDA's optimiser for the center objectives (Reiss et al. 2021): SGD with momentum 0.9.
PANDA_MOMENTUM = 0.9


@dataclass(frozen=True)
class Objective:
    """One objective. ``loss(views, center, temperature)`` takes the list of raw-feature
    tensors of the ``views`` views of a batch (one for the center losses, two for the
    contrastive ones) and returns the batch-mean loss."""

    name: str
    label: str  # for legends and tables
    loss: Callable | None  # None: no fine-tuning (DN2)
    views: int  # 0: no training; 1: the evaluation transform (PANDA); 2: MoCo v2 views
    center: str | None  # "raw": mean of raw features (Eq. 1); "normalised": Eq. 3; None
    momentum: float = 0.0  # SGD momentum; the paper's MSC uses none (A.3)
    short: str = ""  # a legend's short name
    color: str = "tab:gray"  # one colour per objective in every figure of the book

    @property
    def trains(self) -> bool:
        return self.loss is not None


def _msc_angular(views, center, temperature):
    z1, z2 = views
    # Table 3's best: Eq. 4 plus Eq. 6 on both views.
    return msc_loss(z1, z2, center, temperature) + 0.5 * (
        angular_center_loss(z1, center) + angular_center_loss(z2, center))


_RECORDS = (
    Objective("dn2", "DN2 (no fine-tuning)", None, views=0, center=None, short="DN2", color="black"),
    Objective("center", "center loss (PANDA, Eq. 1)", lambda v, c, t: center_loss(v[0], c),
              views=1, center="raw", momentum=PANDA_MOMENTUM, short="center", color="tab:orange"),
    Objective("angular-center", "angular center (Eq. 6)",
              lambda v, c, t: angular_center_loss(v[0], c),
              views=1, center="normalised", momentum=PANDA_MOMENTUM, short="angular center",
              color="tab:brown"),
    Objective("contrastive", "contrastive (Eq. 2)", lambda v, c, t: contrastive_loss(v[0], v[1], t),
              views=2, center=None, short="contrastive", color="tab:red"),
    Objective("msc", "mean-shifted contrastive (Eq. 4)",
              lambda v, c, t: msc_loss(v[0], v[1], c, t), views=2, center="normalised",
              short="MSC", color="tab:blue"),
    Objective("msc-angular", "MSC + angular (Eq. 4 + 6)", _msc_angular, views=2, center="normalised",
              short="MSC + angular", color="tab:cyan"),
)

OBJECTIVES = Registry("objective", _RECORDS)  # in the paper's order
OBJECTIVE_LABELS = OBJECTIVES.view("label")  # live: registered objectives appear too
OBJECTIVE_COLORS = OBJECTIVES.view("color")


def objective_label(name: str) -> str:
    """The legend label of an objective, registered ones included (else the name)."""
    return OBJECTIVES[name].label if name in OBJECTIVES else name


def get_objective(name: str) -> Objective:
    return OBJECTIVES.require(name)
