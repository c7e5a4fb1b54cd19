"""The HL7 v2 feed: the clinic's EHR sends patients (ADT) and appointments (SIU) over MLLP.

A front door like the API and the CLI: it parses, calls the enrollment and appointment services,
and answers with an ACK. It imports neither engage.api nor engage.cli. docs/hl7.md is the
interface specification.
"""
