"""StateFinanceIngestOperator's parameter checks: a value no retry can fix fails at once."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from precinct.operators.finance import StateFinanceIngestOperator, selected_states


def operator(**overrides) -> StateFinanceIngestOperator:
    kwargs = {"state": "tx", "source": "file:///srv/raw", "rejects_location": "file:///srv/out",
              **overrides}
    return StateFinanceIngestOperator(task_id="ingest_state", **kwargs)


def test_good_values_are_checked_and_kept():
    run = operator(max_rejected_share="0.1", keep_indices="3", force_promotion="true")._validated()
    assert run == ("tx", "file:///srv/raw", "file:///srv/out", 0.1, True, 3)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"state": "zz"}, "unknown state 'zz'"),
    ({"state": "texas"}, "two-letter"),
    ({"max_rejected_share": "lots"}, "max_rejected_share must be a number"),
    ({"max_rejected_share": 1.5}, "max_rejected_share must be between 0 and 1"),
    ({"keep_indices": 0}, "keep_indices must be at least 1"),
    ({"keep_indices": "two"}, "keep_indices must be a whole number"),
    ({"source": "gs://bucket/raw"}, "Param 'source': must be a file:// or s3:// URL"),
    ({"rejects_location": "s3://Not_A_Bucket"}, "not a valid S3 bucket name"),
])
def test_a_bad_value_fails_without_retry_naming_it(overrides, message):
    with pytest.raises(AirflowFailException, match=message):
        operator(**overrides)._validated()


def test_selected_states_fail_without_retry():
    locations = {"source": "file:///srv/raw", "rejects_location": "file:///srv/out"}
    assert selected_states({"states": ["TX", "tx", "mi"], **locations}) == ["tx", "mi"]
    with pytest.raises(AirflowFailException, match="Param 'states' is empty"):
        selected_states({"states": [], **locations})
    with pytest.raises(AirflowFailException, match="unknown state 'zz'"):
        selected_states({"states": ["zz"], **locations})
