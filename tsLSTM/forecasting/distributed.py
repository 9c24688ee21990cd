"""Forecasting many series on a Dask cluster.

The series of a long-format table are split into partitions of whole series; the
fitted forecaster is sent once to every worker and each partition is forecast there
with :meth:`LSTMForecaster.predict`. Every series is forecast from its own history by
the same weights, so the result equals the single-process forecast.
"""

import numpy as np
import pandas as pd


def _require_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "the Dask backend needs dask.distributed, which is not installed: "
            "pip install 'tsLSTM[dask]'"
        ) from exc
    return distributed


def _forecast_partition(forecaster, part, horizon):
    return forecaster.predict(horizon=horizon, y=part)


def partition_series(frame, id_col, n_partitions):
    """Split a long frame into ``n_partitions`` frames of whole series (sorted ids)."""
    ids = np.sort(frame[id_col].unique().astype(object)) if len(frame) else np.array([])
    groups = np.array_split(ids, max(1, min(n_partitions, len(ids))))
    by_id = frame.groupby(id_col, sort=False).indices
    return [frame.iloc[np.concatenate([by_id[i] for i in group])] for group in groups if len(group)]


def predict_dask(
    forecaster, y, horizon=None, scheduler=None, client=None, n_partitions=None, timeout=None
):
    """Forecast every series of the long frame ``y`` on a Dask cluster.

    Parameters
    ----------
    forecaster : LSTMForecaster
        A fitted forecaster (without covariates).
    y : pandas.DataFrame
        Long-format history (``id_col``, ``time_col``, ``target_col``).
    horizon : int, optional
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); or pass ``client``.
    client : distributed.Client, optional
    n_partitions : int, optional
        Number of tasks; defaults to twice the number of workers.
    timeout : float, optional
        Seconds to wait for the ``scheduler`` to answer (Dask's connect timeout by
        default, 30 s); an unreachable scheduler raises OSError after that.

    Returns
    -------
    pandas.DataFrame
        The long forecast frame, identical to ``forecaster.predict(horizon, y=y)``.
    """
    distributed = _require_distributed()
    if forecaster.n_covariates_:
        raise ValueError("the Dask backend forecasts models without covariates")
    if not isinstance(y, pd.DataFrame) or forecaster.id_col not in y.columns:
        raise ValueError(
            f"the Dask backend needs a long-format DataFrame with {forecaster.id_col!r}"
        )
    own_client = client is None
    if own_client:
        if scheduler is None:
            raise ValueError("pass a scheduler address or a distributed.Client")
        kwargs = {} if timeout is None else {"timeout": timeout}
        client = distributed.Client(scheduler, **kwargs)
    try:
        if n_partitions is None:
            n_partitions = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        parts = partition_series(y, forecaster.id_col, n_partitions)
        model = client.scatter(forecaster, broadcast=True)
        futures = [client.submit(_forecast_partition, model, part, horizon) for part in parts]
        results = client.gather(futures)
    finally:
        if own_client:
            client.close()
    return pd.concat(results, ignore_index=True)
