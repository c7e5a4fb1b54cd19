"""What patients and providers send us: SMS replies and keywords, delivery events, confirmations.

Plain services over the caller's session, so every front door (the Twilio and SendGrid webhooks,
the console, the HL7 feed, the CLI) applies the same rules. They know nothing of HTTP: the
webhooks verify signatures, parse forms and format answers, then call in here.
"""
