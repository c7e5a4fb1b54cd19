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


def adt(control_id: str, number: str, *, event: str = "A04", phone: str = "5550111") -> bytes:
    """An Epic-style ADT registering patient `number` (PID-3 with authority BAYVIEW)."""
    segments = [
        f"MSH|^~\\&|EPIC|BAYVIEW|ENGAGE|BAYVIEW|20270301091500||ADT^{event}^ADT_A01|{control_id}|P|2.5.1",
        f"EVN|{event}|20270301091500",
        f"PID|1||{number}^^^BAYVIEW^MR||RIVERA^ANA{number}^M||19840512|F|||||^PRN^CP^^1^415^{phone}||ENG",
    ]
    return ("\r".join(segments) + "\r").encode()


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


class ResendingPeer:
    """A sender as interface engines behave: each message until it is acknowledged, in order,
    reconnecting after the listener went away (python-hl7's MLLPClient underneath)."""

    def __init__(self, port: int, messages: list[bytes]) -> None:
        self.port, self.messages = port, messages
        self.acks: list[str] = []
        self.resends = 0

    def run(self, timeout: float = 120.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        client: MLLPClient | None = None
        while len(self.acks) < len(self.messages) and time.monotonic() < deadline:
            try:
                if client is None:
                    client = MLLPClient("127.0.0.1", self.port)
                reply = client.send_message(self.messages[len(self.acks)])
                if not reply:
                    raise ConnectionResetError("closed before the ACK")
                self.acks.append(ack_code(reply))
            except OSError:
                if client is not None:
                    client.close()
                client, self.resends = None, self.resends + 1
                time.sleep(0.2)
        if client is not None:
            client.close()
