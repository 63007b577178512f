import pytest
from pydantic import ValidationError

from services.training.config import TrainingConfig
from services.training.estimators import build_estimator


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"estimator": "svm"}, "logistic_regression"),
        ({"model_name": "Bad_Name"}, "not a valid model name"),
        ({"dataset": "iris"}, "neither a built-in dataset"),
        ({"dataset": "/nope/data.csv"}, "does not exist"),
        ({"test_size": 1.5}, "less than 1"),
        ({"gate_metric": "mse"}, "roc_auc"),
        ({"gate_margin": -0.1}, "greater than or equal to 0"),
        ({"params": {"depth": 3}}, "unknown hyper-parameter(s) ['depth']"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_training_config_names_the_problem(overrides, fragment):
    with pytest.raises(ValidationError) as info:
        TrainingConfig(**overrides)
    assert fragment in str(info.value)


def test_defaults_build_a_scaled_pipeline():
    config = TrainingConfig()
    pipeline = build_estimator(config.estimator, {"C": 0.5}, config.seed)
    assert list(pipeline.named_steps) == ["scale", "model"]
    assert pipeline.named_steps["model"].C == 0.5
    assert pipeline.named_steps["model"].random_state == 42
