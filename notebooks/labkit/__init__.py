"""labkit: the small helper package the workshop's notebooks share.

Each function here was first written out and explained in a notebook; later notebooks import it.

    settings  the LAB_* run settings          devices   device choice, moving batches, timing
    data      CIFAR-10 and the stand-in       models    Net, a linear baseline, SmallResNet
    training  loop, evaluation, checkpoints   plots     image grids, curves, confusion matrix
"""

from .settings import LabError, load_settings

__all__ = ["LabError", "load_settings"]
