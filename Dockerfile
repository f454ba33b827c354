# The app's image: `docker compose up` (docker-compose.yml) runs it beside PostgreSQL.
# Debian bookworm pins the PostgreSQL client to 15, the major version of docker-compose.yml's database, so that
# `python -m bot db backup` and `db restore` work from inside the container.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/tthc-bot

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY channels /src/channels
COPY knowledge /src/knowledge
COPY handlers /src/handlers
COPY feedback /src/feedback
COPY dashboard /src/dashboard
RUN pip install /src && rm -rf /src

RUN useradd --system --user-group --home-dir /var/lib/tthc-bot --shell /usr/sbin/nologin tthc \
    && mkdir -p /var/lib/tthc-bot \
    && chown tthc:tthc /var/lib/tthc-bot
USER tthc
WORKDIR /var/lib/tthc-bot
VOLUME ["/var/lib/tthc-bot"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]

STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
