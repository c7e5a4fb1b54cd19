"""Imports as background jobs: the check and the import run off the request, the job's page
shows the progress (polled by htmx) and the summary, and a job that stops says so."""

from __future__ import annotations

import os
import time

from engage.console import importjobs
from engage.store.import_jobs import ImportJob, ImportState
from tests.api_kit import NOW
from tests.console_kit import Console

HEADER = "first_name,last_name,phone,email,timezone,sms_consent,external_ref\n"


def _rows(n: int) -> bytes:
    body = "".join(
        f"Pat{i},Row{i},+1415{i + 2000000:07d},,America/New_York,yes,MRN-{i}\n" for i in range(n)
    )
    return (HEADER + body).encode()


def _job(console: Console, job_id: int) -> ImportJob:
    with console.sessions() as s:
        job = s.get(ImportJob, job_id)
        s.expunge(job)
        return job


def test_a_file_of_several_batches_is_checked_then_imported_with_its_progress(
    staff: Console,
) -> None:
    job_id = importjobs.create(
        staff.sessions, _rows(2500), "big.csv", actor="console:staff", now=NOW
    )
    importjobs.start_check(staff.sessions, job_id, staff.clock).join(60)
    job = _job(staff, job_id)
    assert job.state == ImportState.CHECKED and job.report["valid"] == 2500
    assert job.rows_total == 2500 and job.rows_done == 0
    importjobs.start_import(staff.sessions, job_id, staff.clock, actor="console:staff").join(120)
    job = _job(staff, job_id)
    assert job.state == ImportState.DONE and (job.rows_done, job.rows_total) == (2500, 2500)
    assert job.report["created"] == 2500 and job.finished_at == NOW
    assert not importjobs.job_file(job).exists()  # the upload is gone once imported
    page = staff.client.get(f"/console/import/jobs/{job_id}").text
    assert "Done: 2500 rows: 2500 created" in page and 'hx-trigger="every 1s"' not in page


def test_an_import_under_way_shows_rows_done_and_polls(staff: Console) -> None:
    job_id = importjobs.create(staff.sessions, _rows(3), "big.csv", actor="console:staff", now=NOW)
    with staff.sessions.begin() as s:
        job = s.get(ImportJob, job_id)
        job.state, job.rows_done, job.rows_total = ImportState.IMPORTING.value, 1000, 2500
    fragment = staff.client.get(f"/console/import/jobs/{job_id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "1000 of 2500 rows" in fragment.text and 'value="40"' in fragment.text
    assert 'hx-trigger="every 1s"' in fragment.text
    staff.clock.advance(minutes=11)
    stopped = staff.client.get(f"/console/import/jobs/{job_id}").text
    assert "has not moved since" in stopped and 'hx-trigger="every 1s"' not in stopped


def test_a_bad_header_fails_the_check_naming_the_column(staff: Console) -> None:
    job_id = importjobs.create(
        staff.sessions, b"first_name,surname\nAna,Ruiz\n", "bad.csv", actor="x", now=NOW
    )
    importjobs.start_check(staff.sessions, job_id, staff.clock).join(30)
    job = _job(staff, job_id)
    assert job.state == ImportState.FAILED and "last_name" in job.error
    page = staff.client.get(f"/console/import/jobs/{job_id}").text
    assert "bad.csv was not imported" in page and "last_name" in page


def test_a_job_that_breaks_records_only_the_error_class(staff: Console) -> None:
    job_id = importjobs.create(staff.sessions, _rows(3), "gone.csv", actor="x", now=NOW)
    importjobs.start_check(staff.sessions, job_id, staff.clock).join(30)
    importjobs.job_file(_job(staff, job_id)).unlink()
    importjobs.start_import(staff.sessions, job_id, staff.clock, actor="x").join(30)
    job = _job(staff, job_id)
    assert job.state == ImportState.FAILED
    assert job.error == "the job stopped (FileNotFoundError); import the file again"


def test_the_check_names_each_field_an_import_would_change(staff: Console) -> None:
    first = HEADER + "Ana,Ruiz,+14155550101,,America/New_York,yes,MRN-1\n"
    job_id = importjobs.create(staff.sessions, first.encode(), "a.csv", actor="x", now=NOW)
    importjobs.start_check(staff.sessions, job_id, staff.clock).join(30)
    importjobs.start_import(staff.sessions, job_id, staff.clock, actor="x").join(30)
    again = first.replace(",,America/New_York", ",ana@example.org,America/New_York")
    job_id = importjobs.create(staff.sessions, again.encode(), "b.csv", actor="x", now=NOW)
    importjobs.start_check(staff.sessions, job_id, staff.clock).join(30)
    page = staff.client.get(f"/console/import/jobs/{job_id}").text
    assert "What the import changes" in page
    assert "<td>email</td><td>—</td><td>ana@example.org</td>" in page


def test_a_page_polling_itself_does_not_keep_the_session_alive(staff: Console) -> None:
    job_id = importjobs.create(staff.sessions, _rows(3), "p.csv", actor="x", now=NOW)
    poll = {"HX-Request": "true", "X-Engage-Poll": "1"}
    staff.clock.advance(minutes=10)
    assert staff.client.get(f"/console/import/jobs/{job_id}", headers=poll).status_code == 200
    staff.clock.advance(minutes=6)  # 16 minutes since the user last did anything
    answer = staff.client.get(f"/console/import/jobs/{job_id}", follow_redirects=False)
    assert answer.status_code == 303 and "/console/signin" in answer.headers["location"]


def test_uploads_nobody_confirmed_are_removed_after_a_day(staff: Console) -> None:
    job_id = importjobs.create(staff.sessions, _rows(3), "old.csv", actor="x", now=NOW)
    path = importjobs.job_file(_job(staff, job_id))
    day_ago = time.time() - 2 * 86400
    os.utime(path.parent, (day_ago, day_ago))
    importjobs.create(staff.sessions, _rows(3), "new.csv", actor="x", now=NOW)
    assert not path.exists()


def test_the_sample_file_offered_for_download_checks_clean(staff: Console) -> None:
    """Staff start from a file that works: the Import page links a sample, and that very
    file passes the check with three patients to create (a family sharing one phone)."""
    page = staff.client.get("/console/import").text
    assert 'href="/console/import/sample.csv"' in page
    sample = staff.client.get("/console/import/sample.csv")
    assert sample.status_code == 200 and sample.headers["content-type"].startswith("text/csv")
    assert "attachment" in sample.headers["content-disposition"]
    job_id = importjobs.create(
        staff.sessions, sample.content, "s.csv", actor="console:staff", now=NOW
    )
    importjobs.start_check(staff.sessions, job_id, staff.clock).join(60)
    job = _job(staff, job_id)
    assert job.state == ImportState.CHECKED and job.report["valid"] == 3
    assert job.report["problem_count"] == 0 and job.report["rows"] == 3
