"""Web chat over the news corpus: `python app.py` (or `make run`) serves http://127.0.0.1:7860.

Only the launcher: the app itself is rag/web/app.py (server and routes), rag/web/ui.py (the page)
and rag/web/chat.py (what the page does). Settings come from the environment, see rag/config.py.
"""

import time

STARTED = time.perf_counter()  # before the heavy imports, so "Ready after" is the real start-up time

from rag.web.app import main  # noqa: E402

if __name__ == "__main__":
    main(STARTED)
