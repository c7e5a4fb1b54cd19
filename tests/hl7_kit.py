"""HL7 test material: the golden Epic-style fixtures, SIU built to order, a peer that resends."""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path

from hl7.client import MLLPClient

from engage.schedule.loader import load_schedule
from engage.schedule.models import Schedule

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "hl7"
REF = "BAYVIEW:100234"  # the golden fixtures' patient, as engage stores its PID-3


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.hl7").read_bytes()


def clinic_schedule() -> Schedule:
    """The repository's schedules.yaml: its `hl7:` section maps KETINF to the course."""
    return load_schedule(ROOT / "schedules.yaml")


def siu(
    event: str,
    control_id: str,
    start: str,
    *,
    sent: str = "20270305083000",
    filler: str = "FL5501",
    kind: str = "KETINF",
    patient: str = "100234",
    minutes: int = 60,
) -> bytes:
    """An Epic-style SIU: `start` and `sent` are HL7 TS (local clinic time unless an offset)."""
    segments = [
        f"MSH|^~\\&|EPIC|BAYVIEW|ENGAGE|BAYVIEW|{sent}||SIU^{event}^SIU_S12|{control_id}|P|2.5.1",
        f"SCH|PL{filler}^EPIC|{filler}^EPIC|||||{kind}^Infusion^LOCAL|OFFICE^Office visit|"
        f"{minutes}|MIN|^^{minutes}^{start}|||||DRSMITH^Smith^Jo||||||||||Booked",
        f"PID|1||{patient}^^^BAYVIEW^MR||RIVERA^ANA^M||19840512|F",
        "RGS|1|A",
        f"AIS|1|A|{kind}^Infusion^LOCAL|{start}|0|MIN|{minutes}|MIN",
        "AIL|1|A|INF1^^^BAYVIEW^^^^^Infusion suite 1",
    ]
    return ("\r".join(segments) + "\r").encode()


def ts(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def ack_code(reply: bytes) -> str:
    """MSA-1 of an MLLP-framed ACK."""
    text = reply.strip(b"\x0b\x1c\r").decode()
    msa = next(line for line in text.split("\r") if line.startswith("MSA|"))
    return msa.split("|")[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send_all(port: int, messages: list[bytes]) -> list[str]:
    """python-hl7's own MLLP client sends each message and waits for its ACK."""
    with MLLPClient("127.0.0.1", port) as client:
        return [ack_code(client.send_message(message)) for message in messages]
