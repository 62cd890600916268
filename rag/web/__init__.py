"""The web app, served by `python app.py`:

app.py     the server: FastAPI routes (/health, /passage, /openapi.json), login throttle, the Gradio
           page mounted with its file-safety settings, and `main()`
ui.py      the Gradio page: layout and event wiring only
chat.py    the event handlers over the service: chat streaming, the `/ask` API, uploads, corpus lists
team.py    accounts and roles per request, saved conversations, sharing, feedback, the Users and Quality tabs
links.py   the Corpus tab's "Add a link or feed": adding links and feeds (logged-in editors), the feed list
render.py  safe rendering of answers, sources and articles (no gradio import)
guards.py  checks on every value a client sends
"""

import os

# Before any module here imports gradio: no version check or telemetry calls (the machines are offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
