"""The network and training parameters are defined once (tsLSTM.hyperparams): the
estimators' signatures, constraints and docstrings and the command's options agree
with the table."""

import inspect

import numpy as np
import pytest

from tsLSTM import LSTMClassifier, LSTMForecaster, LSTMRegressor, hyperparams
from tsLSTM.cli import CLI_DEFAULTS, build_parser
from tsLSTM.optim import OPTIMIZERS

ESTIMATORS = {
    LSTMRegressor: hyperparams.NETWORK_PARAMS,
    LSTMClassifier: hyperparams.NETWORK_PARAMS,
    LSTMForecaster: hyperparams.FORECASTER_PARAMS,
}


@pytest.mark.parametrize("estimator, names", ESTIMATORS.items(), ids=lambda x: str(x)[:30])
def test_signatures_constraints_and_docs_follow_the_table(estimator, names):
    signature = inspect.signature(estimator.__init__).parameters
    for name in names:
        assert signature[name].default == hyperparams.BY_NAME[name].default, name
        assert hyperparams.parameter_doc(name) in estimator.__doc__, name
        ours = estimator._parameter_constraints[name]
        assert list(map(str, ours)) == list(map(str, hyperparams.sklearn_constraints([name])[name]))
    table = set(hyperparams.NETWORK_PARAMS)
    own = {LSTMClassifier: {"class_weight"}, LSTMRegressor: {"baseline"}}.get(estimator, set())
    if estimator is LSTMForecaster:
        own = set(signature) - {"self"} - table
        assert not own & table
        assert set(estimator._parameter_constraints) == set(signature) - {"self"}
    else:
        assert set(signature) - {"self"} == table | own  # nothing outside the table
    for name in own:  # parameters of one estimator are documented by it
        assert f"\n    {name}" in estimator.__doc__ or name in ("time_col", "target_col")


def test_forecaster_passes_through_every_network_parameter_of_the_table():
    assert hyperparams.FORECASTER_PARAMS == tuple(
        p.name for p in hyperparams.PARAMETERS if p.forecaster
    )
    model = LSTMForecaster(window=3, hidden_size=5, dropout=0.25, weight_decay=0.5)
    from tsLSTM.forecasting.forecaster import NETWORK_PARAMS

    assert NETWORK_PARAMS == hyperparams.FORECASTER_PARAMS  # the old name stays
    params = model.get_params()
    assert {name: params[name] for name in NETWORK_PARAMS}["dropout"] == 0.25


def test_forecaster_keeps_the_old_values_of_changed_estimator_defaults():
    # conv_filters='auto' and baseline='ridge' are LSTMRegressor's defaults; the
    # forecaster passes the values of before, so its models do not change
    assert hyperparams.FORECASTER_FIXED == {"conv_filters": None, "baseline": None}
    assert not set(hyperparams.FORECASTER_FIXED) & set(hyperparams.FORECASTER_PARAMS)
    series = np.sin(np.arange(80) / 3.0)
    model = LSTMForecaster(window=30, horizon=2, hidden_size=3, max_epochs=1, random_state=0)
    model.fit(series)
    assert model.regressor_.conv_filters_ == [] and model.regressor_.baseline_coef_ is None


def test_optimizer_names_are_the_registry():
    assert set(hyperparams.OPTIMIZER_NAMES) == set(OPTIMIZERS)


def test_command_exposes_the_pass_through_parameters():
    assert set(hyperparams.CLI_PARAMS) == set(hyperparams.FORECASTER_PARAMS) - {"verbose"}
    parser = build_parser()
    for command in ("forecast", "train", "backtest"):
        extra = ["--save", "m"] if command == "train" else []
        args = parser.parse_args([command, "in.csv", "--horizon", "2", *extra])
        for name in hyperparams.CLI_PARAMS:
            expected = CLI_DEFAULTS.get(name, hyperparams.BY_NAME[name].default)
            assert getattr(args, name) == expected, (command, name)
    args = parser.parse_args(
        ["train", "in.csv", "--horizon", "2", "--save", "m", "--bidirectional", "--dropout",
         "0.2", "--optimizer", "sgd", "--clip-grad-norm", "none", "--seed", "7", "--dtype",
         "float64", "--n-iter-no-change", "3", "--tol", "0.01", "--weight-decay", "0.1",
         "--validation-fraction", "0.3", "--early-stopping", "--n-jobs", "2"]
    )  # fmt: skip
    assert (args.bidirectional, args.dropout, args.optimizer, args.clip_grad_norm) == (
        True, 0.2, "sgd", None)  # fmt: skip
    assert (args.random_state, args.dtype, args.n_iter_no_change, args.tol) == (
        7, "float64", 3, 0.01)  # fmt: skip
    assert (args.weight_decay, args.validation_fraction, args.early_stopping, args.n_jobs) == (
        0.1, 0.3, True, 2)  # fmt: skip
    from tsLSTM.cli import make_forecaster

    made = make_forecaster(args, 2).get_params()
    assert {name: made[name] for name in hyperparams.CLI_PARAMS} == {
        name: getattr(args, name) for name in hyperparams.CLI_PARAMS
    }
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "in.csv", "--horizon", "2", "--batch-size", "0"])
