"""What training reports after every epoch: :class:`EpochInfo`, for ``on_epoch``.

``fit(..., on_epoch=callback)`` (and ``partial_fit``) call ``callback(info)`` after
every completed epoch, as skorch's ``on_epoch_end`` or a Keras callback: progress
bars, logging, live plots. The callback is a fit argument, not an estimator
parameter, so ``get_params``, ``clone`` and saved models never see it. An epoch that
diverges (see ``TrainingDivergedWarning``) is not reported.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EpochInfo:
    """One finished epoch.

    Attributes
    ----------
    epoch : int
        Epochs run so far (the estimator's ``n_iter_``: it counts on over warm starts
        and ``partial_fit`` calls).
    max_epochs : int
        Epochs this call may run at most (1 for ``partial_fit``); training can stop
        earlier (``n_iter_no_change``).
    loss : float
        Mean training loss of the epoch (``loss_curve_[-1]``).
    validation_score : float or None
        Score on the held-out data with ``early_stopping``, else None.
    seconds : float
        Wall time of the epoch, validation included.
    n_batches : int
        Minibatches in the epoch.
    n_samples : int
        Training samples in the epoch.
    """

    epoch: int
    max_epochs: int
    loss: float
    validation_score: float | None
    seconds: float
    n_batches: int
    n_samples: int
