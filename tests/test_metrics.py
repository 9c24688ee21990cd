"""Forecast metrics against hand-computed values."""

import numpy as np
import pytest

from tsLSTM.metrics import mae, mase, rmse, smape


def test_metric_values():
    y, p = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 1.0])
    assert mae(y, p) == pytest.approx(4 / 3)
    assert rmse(y, p) == pytest.approx(np.sqrt(10 / 3))
    assert smape(y, p) == pytest.approx(200 / 3 * (1 / 3 + 0 + 3 / 5))
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0
    train = np.array([1.0, 3.0, 2.0, 6.0])  # naive in-sample MAE (2 + 1 + 4) / 3
    assert mase(y, p, train) == pytest.approx((4 / 3) / (7 / 3))
    assert mase(y, p, train, m=2) == pytest.approx((4 / 3) / 2.0)  # |2-1|, |6-3|


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mae([1, 2], [1]), "shape"),
        (lambda: rmse([np.nan], [1]), "finite"),
        (lambda: smape([], []), "empty"),
        (lambda: mase([1], [1], [1, 1, 1]), "undefined: y_train is constant"),
        (lambda: mase([1], [1], [1, 2], m=2), "more than m=2"),
        (lambda: mase([1], [1], [1, 2, 3], m=0), "m must be a positive integer"),
    ],
)
def test_metric_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
