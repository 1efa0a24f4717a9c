"""Accuracy as an `evaluate` metric module that loads from this folder, offline.

Introduced in 04_train. ``evaluate.load("accuracy")`` fetches the same metric's script
from the Hub; loading this folder by path needs no network.
"""

import datasets
import evaluate

_DESCRIPTION = "Accuracy: the fraction of predictions that equal the reference label."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): true labels.
Returns:
    accuracy (float): between 0 and 1.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references):
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
        correct = sum(int(p) == int(r) for p, r in zip(predictions, references, strict=True))
        return {"accuracy": correct / len(references) if references else 0.0}
