"""engage: email + SMS patient-engagement automation for clinics."""

__version__ = "0.1.0"
