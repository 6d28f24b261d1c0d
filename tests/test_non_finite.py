"""No answer ever holds a non-finite number: bounds at load keep figures finite, and the engine refuses
a request whose figures would not be (schedules changed in memory past the loader's bounds)."""

import io
import json

import numpy as np
import pytest

from estimator.batch.stream import estimate_csv
from estimator.core.engine import NOT_FINITE
from estimator.core.errors import RequestError
from estimator.core.schedules import load_schedules
from estimator.core.service import estimate_encounter, estimate_one
from estimator.web.app import create_app

from .conftest import TEST_SCHEDULES, TODAY

REQUEST = {"cpt_code": "11111", "payer_id": "plan", "region_id": "r1", "date_of_service": "2025-06-01"}


@pytest.fixture
def overflowing():
    schedules = load_schedules(TEST_SCHEDULES)
    rates = schedules.arrays["rates"]
    rates["value"] = np.full(len(rates["value"]), 1e308)  # past every bound the loader holds
    return schedules


def test_the_engine_refuses_figures_that_are_not_finite(overflowing):
    with pytest.raises(RequestError) as caught:
        estimate_one({**REQUEST, "units": 99}, overflowing, TODAY)
    assert caught.value.messages == {"fee_schedules": [NOT_FINITE]}


def test_a_batch_reports_them_in_their_rows_and_goes_on(overflowing):
    out = io.BytesIO()
    text = "cpt_code,payer_id,units,date_of_service\n11111,plan,99,2025-06-01\n11111,bare,1,2025-06-01\n"
    summary = estimate_csv(io.BytesIO(text.encode()), out, overflowing, TODAY)
    lines = out.getvalue().decode().splitlines()
    assert NOT_FINITE in lines[1] and "inf" not in lines[1].lower()
    assert summary["failed"] == 1 and summary["rows"] == 2


def test_the_api_answers_valid_json(overflowing):
    app = create_app({"TESTING": True, "FEE_SCHEDULES": str(TEST_SCHEDULES), "RELOAD_INTERVAL": 0})
    app.extensions["schedule_store"].schedules = overflowing
    response = app.test_client().post("/api/v1/estimates", json={**REQUEST, "units": 99})
    assert response.status_code == 422
    json.loads(response.get_data(), parse_constant=pytest.fail)  # no NaN or Infinity anywhere


@pytest.mark.parametrize("value", [1e308, 1e302])  # past the bounds; past them only once scaled to cents
def test_every_door_refuses_them(value, tmp_path):
    schedules = load_schedules(TEST_SCHEDULES)
    rates = schedules.arrays["rates"]
    rates["value"] = np.full(len(rates["value"]), value)
    visit = {"payer_id": "plan", "region_id": "r1", "date_of_service": "2025-06-01", "lines": []}
    visit["lines"] = [{"cpt_code": "11111", "units": 99}, {"cpt_code": "22222"}]
    with pytest.raises(RequestError) as caught:
        estimate_one({**REQUEST, "units": 99}, schedules, TODAY)
    assert caught.value.messages == {"fee_schedules": [NOT_FINITE]}
    with pytest.raises(RequestError) as caught:
        estimate_encounter(visit, schedules, TODAY)
    assert NOT_FINITE in json.dumps(caught.value.messages)
    app = create_app({"TESTING": True, "FEE_SCHEDULES": str(TEST_SCHEDULES), "RELOAD_INTERVAL": 0})
    app.extensions["schedule_store"].schedules = schedules
    client = app.test_client()
    for path, body in (("/api/v1/estimates", {**REQUEST, "units": 99}), ("/api/v1/encounters", visit)):
        response = client.post(path, json=body)
        assert response.status_code == 422, path
        json.loads(response.get_data(), parse_constant=pytest.fail)  # no NaN or Infinity anywhere
    out = io.BytesIO()
    text = (
        "cpt_code,payer_id,units,date_of_service,encounter_id\n11111,plan,99,2025-06-01,V\n22222,plan,1,2025-06-01,V\n"
    )
    estimate_csv(io.BytesIO(text.encode()), out, schedules, TODAY)
    assert "inf" not in out.getvalue().decode().lower()
