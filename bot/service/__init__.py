"""The HTTP service (FastAPI): the API and web chat (`app`), the channels' webhooks
(`webhooks`), document upload and ingest jobs (`admin`), headers, redaction and auth
(`security`).
"""
