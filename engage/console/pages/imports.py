"""Import: upload a patients CSV, see the check page (each bad row at its line), then confirm.

The upload waits in a private folder under an unguessable name until it is confirmed or
replaced; the import itself is the CLI's importer, with its per-row errors and idempotence.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from engage.console import web
from engage.errors import InvalidInput
from engage.patients.check import check_csv
from engage.patients.importer import import_csv

router = APIRouter()
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
MAX_BYTES = 50 * 1024 * 1024
TOO_BIG = "The file is over 50 MB: split it, or use `engage patients import`."


def _folder() -> Path:
    folder = Path(tempfile.gettempdir()) / "engage-console-imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _upload_path(token: str) -> Path:
    if not _TOKEN.match(token):
        raise web.Refused(400, "This upload is not known", "Upload the file again.")
    path = _folder() / f"{token}.csv"
    if not path.exists():
        raise web.Refused(404, "This upload has expired", "Upload the file again.")
    return path


@router.get("/import")
def import_page(request: Request, who: web.Staff) -> Response:
    return web.render(request, "import.html", who, title="Import patients", check=None)


@router.post("/import")
async def upload(request: Request, who: web.Staff, sessions: web.Sessions) -> Response:
    form = await web.checked(request, who)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return web.render(
            request,
            "import.html",
            who,
            422,
            title="Import patients",
            check=None,
            error="Choose a CSV file to upload.",
        )
    token = secrets.token_urlsafe(24)
    path = _folder() / f"{token}.csv"
    data = await upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return web.render(
            request,
            "import.html",
            who,
            413,
            title="Import patients",
            check=None,
            error="The file is over 50 MB: split it, or use `engage patients import`.",
        )
    path.write_bytes(data)
    try:
        check = check_csv(path, sessions)  # the import itself, as a dry run
    except InvalidInput as exc:
        path.unlink()
        return web.render(
            request, "import.html", who, 422, title="Import patients", check=None, error=str(exc)
        )
    return web.render(
        request,
        "import.html",
        who,
        title="Check the import",
        check=check,
        token=token,
        filename=Path(upload.filename).name,
    )


@router.post("/import/confirm")
async def confirm(
    request: Request, who: web.Staff, sessions: web.Sessions, now: web.Now
) -> Response:
    form = await web.checked(request, who)
    path = _upload_path(str(form.get("token", "")))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(form.get("filename", "")))[:100] or "upload.csv"
    named = path.with_name(f"{path.stem}-{name}")
    path.rename(named)  # problems then read `patients.csv:LINE: ...` with the staff's file name
    try:
        report = import_csv(sessions, named, actor=who.actor, now=now)
    finally:
        named.unlink(missing_ok=True)
    return web.render(request, "import.html", who, title="Import done", check=None, report=report)
