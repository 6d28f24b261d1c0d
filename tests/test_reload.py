"""A running service reloads changed fee schedules, and keeps serving the last good ones when a reload
is refused."""

from estimator.web.app import create_app
from estimator.web.store import ScheduleStore


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_changed_files_are_reloaded_after_the_interval(schedule_copy):
    clock = Clock()
    store = ScheduleStore(schedule_copy, interval=5, clock=clock)
    first = store.current()
    payers = schedule_copy / "payers.csv"
    payers.write_text(payers.read_text().replace("plan,Test plan,commercial,100,", "plan,Test plan,commercial,250,"))
    clock.now = 4
    assert store.current() is first  # not looked at yet
    clock.now = 5
    assert store.current() is not first
    assert store.current().payers.loc["plan", "deductible"] == 250
    assert store.reload_error is None


def test_a_refused_reload_keeps_the_last_good_schedules(schedule_copy):
    clock = Clock()
    store = ScheduleStore(schedule_copy, interval=1, clock=clock)
    good = store.current()
    (schedule_copy / "regions.csv").write_text(
        "region_id,name,state,geo_factor,gpci_work,gpci_pe,gpci_mp\nr1,R,NY,0,1,1,1\n"
    )
    clock.now = 1
    assert store.current() is good
    assert "regions.csv, line 2, column geo_factor: must be greater than 0" in store.reload_error
    clock.now = 2
    assert store.current() is good  # the same bad files are not loaded again


def test_interval_zero_never_reloads(schedule_copy):
    clock = Clock()
    store = ScheduleStore(schedule_copy, interval=0, clock=clock)
    good = store.current()
    (schedule_copy / "zip_regions.csv").write_text("zip3,region_id\n100,r1\n")
    clock.now = 1000
    assert store.current() is good


def test_healthz_reports_a_refused_reload_while_estimates_go_on(schedule_copy):
    app = create_app({"TESTING": True, "FEE_SCHEDULES": str(schedule_copy), "RELOAD_INTERVAL": 0})
    client = app.test_client()
    assert client.get("/healthz").get_json()["status"] == "ok"
    (schedule_copy / "payers.csv").write_text("payer_id\n")
    app.extensions["schedule_store"].reload_if_changed()
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded"
    assert "payers.csv, line 1, column name: required column is missing" in health["reload_error"]
    answer = client.post(
        "/api/v1/estimates", json={"cpt_code": "11111", "payer_id": "plan", "date_of_service": "2025-06-01"}
    )
    assert answer.status_code == 200
    assert answer.get_json()["allowed_amount"]["expected"] == 70.0
