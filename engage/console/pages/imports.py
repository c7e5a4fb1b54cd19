"""Import: upload a patients CSV, see the check page (each bad row at its line), then confirm.

Both steps run as a background job (engage.console.importjobs) so a large file never holds a
request open: the job's page shows the check, then the import's progress and its summary,
polled by htmx (or reloaded by hand without JavaScript). The import itself is the CLI's
importer, with its per-row errors and idempotence.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from engage.console import importjobs, web
from engage.console.app_errors import problem_page
from engage.errors import Conflict, NotFound
from engage.store.import_jobs import ImportState

router = APIRouter()
MAX_BYTES = 50 * 1024 * 1024
TOO_BIG = "The file is over 50 MB: split it, or use `engage patients import`."


SAMPLE = Path(__file__).resolve().parents[2] / "patients" / "sample.csv"


@router.get("/import")
def import_page(request: Request, who: web.Staff) -> Response:
    return web.render(request, "import.html", who, title="Import patients", job=None)


@router.get("/import/sample.csv")
def sample_file(who: web.Staff) -> Response:
    """A file to start from: the columns in order, and three rows (a family sharing a phone)."""
    return Response(
        SAMPLE.read_bytes(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="patients-sample.csv"'},
    )


@router.post("/import")
async def upload(
    request: Request, who: web.Staff, sessions: web.Sessions, now: web.Now
) -> Response:
    form = await web.checked(request, who)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _upload_error(request, who, 422, "Choose a CSV file to upload.")
    data = await upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return _upload_error(request, who, 413, TOO_BIG)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.filename).name)[:100] or "upload.csv"
    job_id = importjobs.create(sessions, data, name, actor=who.actor, now=now)
    importjobs.start_check(sessions, job_id, request.app.state.clock).join(importjobs.WAIT_SECONDS)
    return RedirectResponse(f"{web.PREFIX}/import/jobs/{job_id}", 303)


@router.get("/import/jobs/{job_id}")
def job_page(
    request: Request, job_id: int, who: web.StaffWatching, sessions: web.Sessions, now: web.Now
) -> Response:
    """The job's state; htmx polls this (the fragment alone) while the job runs."""
    with sessions() as session:
        job = importjobs.load(session, job_id)
        session.expunge(job)
    moved = importjobs.progress(job)
    context: dict[str, Any] = {
        "job": job,
        "state": ImportState(job.state),
        "stalled": importjobs.stalled(job, now),
        "done": moved.done,
        "total": moved.total,
        "percent": min(100, 100 * moved.done // moved.total) if moved.total else 0,
    }
    if request.headers.get("hx-request"):
        return web.render(request, "import_job.html", who, **context)
    return web.render(request, "import.html", who, title=_title(job.state), **context)


@router.post("/import/jobs/{job_id}/confirm")
async def confirm(
    request: Request, job_id: int, who: web.Staff, sessions: web.Sessions
) -> Response:
    await web.checked(request, who)
    try:
        thread = importjobs.start_import(sessions, job_id, request.app.state.clock, actor=who.actor)
    except (NotFound, Conflict) as exc:
        return problem_page(request, who, exc)
    thread.join(importjobs.WAIT_SECONDS)
    return RedirectResponse(f"{web.PREFIX}/import/jobs/{job_id}", 303)


def _title(state: str) -> str:
    return {
        "checking": "Checking the import",
        "checked": "Check the import",
        "importing": "Importing",
        "done": "Import done",
    }.get(state, "Import stopped")


def _upload_error(request: Request, who: web.Viewer, status: int, error: str) -> Response:
    return web.render(
        request, "import.html", who, status, title="Import patients", job=None, error=error
    )
