"""Random input at the web form, the batch doors and the JSON API never produces a server error."""

import io
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator.core.glossary import REQUEST_FIELDS

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
cell = st.one_of(
    text,
    st.sampled_from(
        [
            "",
            "64483",
            "20971",
            "medicare",
            "self_pay",
            "10001",
            "50",
            "RT LT",
            "office",
            "out",
            "2025-05-01",
            "-1",
            "1e309",
            "NaN",
            "=cmd()",
        ]
    ),
)


def csrf_token(client):
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@SETTINGS
@given(st.dictionaries(st.sampled_from([*REQUEST_FIELDS, "extra"]), st.lists(cell, min_size=1, max_size=3)))
def test_web_form_never_fails(app, form):
    client = app.test_client()
    data = {"csrf_token": csrf_token(client), **form}
    response = client.post("/estimate", data=data)
    assert response.status_code in (200, 422), response.status_code


csv_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.lists(cell, min_size=0, max_size=6), max_size=8).map(
        lambda rows: ("cpt_code,payer_id,zip,modifiers,units\n" + "\n".join(",".join(r) for r in rows)).encode()
    ),
)


@SETTINGS
@given(csv_bytes)
def test_batch_doors_never_fail(app, body):
    client = app.test_client()
    api = client.post("/api/v1/estimates/batch", data=body, content_type="text/csv")
    assert api.status_code in (200, 422), api.status_code
    if api.status_code == 200:
        lines = api.get_data().count(b"\n")
        assert lines >= 1
    upload = {"csrf_token": csrf_token(client), "file": (io.BytesIO(body), "x.csv")}
    page = client.post("/batch", data=upload, content_type="multipart/form-data")
    assert page.status_code in (200, 422), page.status_code


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from([*REQUEST_FIELDS, "x"]),
        st.one_of(cell, st.integers(), st.floats(), st.booleans(), st.none(), st.lists(cell)),
    )
)
def test_json_api_never_fails(app, body):
    response = app.test_client().post("/api/v1/estimates", json=body)
    assert response.status_code in (200, 422), (response.status_code, response.get_data())
