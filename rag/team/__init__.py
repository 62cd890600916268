"""Made for a team: accounts and roles, saved conversations, shared answers, feedback and the
quality figures drawn from them, in one SQL database (SQLite in the index folder by default, any
SQLAlchemy URL in RAG_DATABASE_URL, e.g. a PostgreSQL server several app processes share).

    db.py             the engine from the settings; migrations run at open (Alembic, migrations/;
                      a schema change is a new file in migrations/versions/, written by hand)
    models.py         the tables (owners are account ids, never names)
    accounts.py       `Accounts`: add, remove, passwords (argon2), roles, login checks; `Account.id`,
                      the immutable id that owns a user's data; `remove_account` and OWNED
    conversations.py  `Conversations`: save a turn, list, open, rename, delete, search, share
    feedback.py       `FeedbackStore`: rate an answer; rated answers as gold-set items
    quality.py        `quality_report`: questions per day, declines, thumbs down, slowest, outlets
    sessions.py       `LoginSessions`: the app's logins, shared by every process, hashed
    cli.py            `python -m rag users ...` and `python -m rag eval --from-feedback FILE`

Nothing here imports gradio or the answering stack: the CLI and the web app both use it.
"""
