"""The web layer's request checks (the Gradio app itself is `app.py`)."""
