"""labkit: the small helper package the workshop's notebooks share.

Each function a notebook imports from here was first written out and explained in an earlier
notebook (or earlier in the same one); tests/ checks labkit against the code written there.
Three modules are infrastructure that no notebook teaches: ``standin`` (the offline data set),
``versions`` (the version floor notebook 00 checks) and ``__main__`` (the ``python -m labkit``
commands); ``measure`` (sentences from measurements, the load) is taught in notebook 05.

    settings  the LAB_* run settings          devices   device choice and timing that waits for the GPU
    data      CIFAR-10, transforms, loaders   models    Net, a linear baseline, SmallResNet
    training  loop, evaluation, checkpoints   plots     image grids, curves, confusion matrix
    standin   the offline stand-in            __main__  download, prepare-offline, check
    versions  the version floor               measure   comparisons as sentences, load warnings
"""

from .settings import LabError, load_settings

__all__ = ["LabError", "load_settings"]
